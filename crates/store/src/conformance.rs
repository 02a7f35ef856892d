//! Behaviour every `Store` adapter must show, written once and expanded for each adapter by
//! [`store_conformance_suite!`].

use confab_core::ids::{new_id, now_millis};
use confab_core::store::{HistoryCursor, NewGroup, NewMessage, NewUser, SharedStore};
use confab_core::Error;
use confab_proto::{Content, GroupSettings, Role, SyncCursor};

pub async fn user(store: &SharedStore, name: &str) -> String {
    let id = new_id();
    store
        .create_user(NewUser {
            user_id: id.clone(),
            username: name.to_string(),
            display_name: name.to_uppercase(),
            password_hash: Some("hash".into()),
            created_at: now_millis(),
        })
        .await
        .expect("create user");
    id
}

fn text(t: &str) -> Content {
    Content::Text { text: t.to_string() }
}

pub async fn send(store: &SharedStore, conv: &str, sender: &str, t: &str) -> Result<u64, Error> {
    let msg = NewMessage {
        message_id: new_id(),
        conversation_id: conv.to_string(),
        sender_id: sender.to_string(),
        content: text(t),
    };
    store.append(msg, None).await.map(|a| a.message.sequence_number)
}

async fn group(store: &SharedStore, creator: &str, members: &[String], settings: GroupSettings) -> String {
    let id = new_id();
    store
        .create_group(NewGroup {
            conversation_id: id.clone(),
            name: "team".into(),
            creator_id: creator.to_string(),
            member_ids: members.to_vec(),
            settings,
            created_at: now_millis(),
            max_group_size: 5,
        })
        .await
        .expect("create group");
    id
}

pub async fn users_are_unique_and_searchable(store: SharedStore) {
    let alice = user(&store, "alice").await;
    user(&store, "alfred").await;
    user(&store, "bob").await;
    let dup = store
        .create_user(NewUser {
            user_id: new_id(),
            username: "alice".into(),
            display_name: "x".into(),
            password_hash: None,
            created_at: 0,
        })
        .await;
    assert_eq!(dup.unwrap_err(), Error::UsernameTaken);
    let creds = store.credentials("alice").await.unwrap().expect("alice exists");
    assert_eq!(creds.user.user_id, alice);
    assert_eq!(creds.password_hash.as_deref(), Some("hash"));
    let found: Vec<_> = store.search_users("al", 10).await.unwrap().into_iter().map(|u| u.username).collect();
    assert_eq!(found, ["alfred", "alice"]);
    assert!(store.user("nobody").await.unwrap().is_none());
}

pub async fn direct_conversations_are_idempotent(store: SharedStore) {
    let a = user(&store, "dana").await;
    let b = user(&store, "eve").await;
    let (first, created) = store.open_direct(&a, &b, new_id(), now_millis()).await.unwrap();
    assert!(created);
    let (again, created) = store.open_direct(&b, &a, new_id(), now_millis()).await.unwrap();
    assert_eq!((again.as_str(), created), (first.as_str(), false));
    let missing = store.open_direct(&a, "ghost", new_id(), now_millis()).await;
    assert!(matches!(missing, Err(Error::UserNotFound(_))));
    let outsider = user(&store, "mallory").await;
    assert!(matches!(store.conversation(&first, &outsider).await, Err(Error::Forbidden(_))));
    assert_eq!(store.conversation("nope", &a).await.unwrap_err(), Error::ConversationNotFound);
}

pub async fn group_roles_and_settings_are_enforced(store: SharedStore) {
    let admin = user(&store, "admin").await;
    let m1 = user(&store, "member1").await;
    let m2 = user(&store, "member2").await;
    let m3 = user(&store, "member3").await;
    let settings = GroupSettings { only_admins_can_post: true, allow_member_invites: false };
    let g = group(&store, &admin, std::slice::from_ref(&m1), settings).await;
    let view = store.conversation(&g, &admin).await.unwrap();
    assert_eq!(view.member_count, 2);
    assert_eq!(view.participants[0].role, Role::Admin);
    assert!(matches!(send(&store, &g, &m1, "hi").await, Err(Error::Forbidden(_))));
    assert_eq!(send(&store, &g, &admin, "hi").await.unwrap(), 1);
    assert!(matches!(
        store.add_members(&g, &m1, std::slice::from_ref(&m2), 0, 5).await,
        Err(Error::Forbidden(_))
    ));
    let added = store.add_members(&g, &admin, &[m2.clone(), m1.clone()], 0, 5).await.unwrap();
    assert_eq!(added, std::slice::from_ref(&m2));
    assert!(matches!(store.remove_member(&g, &m1, &m2).await, Err(Error::Forbidden(_))));
    store.remove_member(&g, &m2, &m2).await.unwrap();
    assert!(matches!(store.remove_member(&g, &admin, &m3).await, Err(Error::NotFound(_))));
    // The last admin leaving promotes the longest-standing member.
    store.remove_member(&g, &admin, &admin).await.unwrap();
    let view = store.conversation(&g, &m1).await.unwrap();
    assert_eq!(view.member_count, 1);
    assert_eq!(view.participants[0].role, Role::Admin);
    assert_eq!(store.member_ids(&g).await.unwrap(), std::slice::from_ref(&m1));
    let too_many: Vec<String> = (0..5).map(|_| new_id()).collect();
    assert!(store.add_members(&g, &m1, &too_many, 0, 5).await.is_err());
}

pub async fn sequences_are_gapless_under_concurrency(store: SharedStore) {
    let owner = user(&store, "owner").await;
    let g = group(&store, &owner, &[], GroupSettings::default()).await;
    let committed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for t in 0..20 {
        let (store, g, owner, committed) = (store.clone(), g.clone(), owner.clone(), committed.clone());
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..50 {
                let msg = NewMessage {
                    message_id: new_id(),
                    conversation_id: g.clone(),
                    sender_id: owner.clone(),
                    content: text(&format!("{t}-{i}")),
                };
                let committed = committed.clone();
                let hook: confab_core::store::AfterCommit =
                    Box::new(move |a| committed.lock().unwrap().push(a.message.sequence_number));
                seqs.push(store.append(msg, Some(hook)).await.unwrap().message.sequence_number);
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        let seqs = task.await.unwrap();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "one caller's appends keep their order");
        all.extend(seqs);
    }
    all.sort_unstable();
    assert_eq!(all, (1..=1000).collect::<Vec<u64>>());
    // Commit hooks ran in sequence order, which is what lets fan-out preserve it.
    assert_eq!(*committed.lock().unwrap(), (1..=1000).collect::<Vec<u64>>());
}

pub async fn appends_are_idempotent_by_message_id(store: SharedStore) {
    let a = user(&store, "frank").await;
    let b = user(&store, "grace").await;
    let (c, _) = store.open_direct(&a, &b, new_id(), now_millis()).await.unwrap();
    let msg = |t: &str, sender: &str| NewMessage {
        message_id: "fixed-id".into(),
        conversation_id: c.clone(),
        sender_id: sender.to_string(),
        content: text(t),
    };
    let first = store.append(msg("hello", &a), None).await.unwrap();
    assert!(first.created);
    let again = store.append(msg("hello", &a), None).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.message, first.message);
    assert_eq!(store.append(msg("other", &a), None).await.unwrap_err(), Error::DuplicateMessage);
    assert_eq!(store.append(msg("hello", &b), None).await.unwrap_err(), Error::DuplicateMessage);
    // The refused appends left no gap.
    assert_eq!(send(&store, &c, &b, "next").await.unwrap(), 2);
    // A retry queued while the original is still in flight gets the same answer.
    let twin = |t: &str| NewMessage {
        message_id: "twin".into(),
        conversation_id: c.clone(),
        sender_id: a.clone(),
        content: text(t),
    };
    let (first, retry, clash) = tokio::join!(
        store.append(twin("same"), None),
        store.append(twin("same"), None),
        store.append(twin("other"), None)
    );
    let (first, retry) = (first.unwrap(), retry.unwrap());
    assert_eq!(first.message.sequence_number, retry.message.sequence_number);
    assert_eq!((first.created, retry.created), (true, false));
    assert_eq!(clash.unwrap_err(), Error::DuplicateMessage);
    assert_eq!(send(&store, &c, &b, "after").await.unwrap(), 4);
}

pub async fn history_pages_visit_every_message_once(store: SharedStore) {
    let a = user(&store, "heidi").await;
    let b = user(&store, "ivan").await;
    let (c, _) = store.open_direct(&a, &b, new_id(), now_millis()).await.unwrap();
    for i in 0..25 {
        send(&store, &c, if i % 2 == 0 { &a } else { &b }, &format!("m{i}")).await.unwrap();
    }
    let latest = store.history(&c, &a, HistoryCursor::Latest, 10).await.unwrap();
    let seqs: Vec<u64> = latest.messages.iter().map(|m| m.sequence_number).collect();
    assert_eq!(seqs, (16..=25).collect::<Vec<_>>());
    assert!(latest.has_more);
    let mut back = Vec::new();
    let mut cursor = HistoryCursor::Latest;
    loop {
        let page = store.history(&c, &b, cursor, 7).await.unwrap();
        let first = page.messages.first().map(|m| m.sequence_number);
        back.splice(0..0, page.messages.iter().map(|m| m.sequence_number));
        if !page.has_more {
            break;
        }
        cursor = HistoryCursor::Before(first.unwrap());
    }
    assert_eq!(back, (1..=25).collect::<Vec<_>>());
    let mut forward = Vec::new();
    let mut after = 0;
    loop {
        let page = store.history(&c, &a, HistoryCursor::After(after), 6).await.unwrap();
        forward.extend(page.messages.iter().map(|m| m.sequence_number));
        if !page.has_more {
            break;
        }
        after = *forward.last().unwrap();
    }
    assert_eq!(forward, (1..=25).collect::<Vec<_>>());
    let outsider = user(&store, "judy").await;
    assert!(matches!(store.history(&c, &outsider, HistoryCursor::Latest, 5).await, Err(Error::Forbidden(_))));
}

pub async fn read_markers_clamp_and_never_go_back(store: SharedStore) {
    let a = user(&store, "kate").await;
    let b = user(&store, "leo").await;
    let (c, _) = store.open_direct(&a, &b, new_id(), now_millis()).await.unwrap();
    for i in 0..5 {
        send(&store, &c, &a, &format!("m{i}")).await.unwrap();
    }
    assert_eq!(store.conversation(&c, &b).await.unwrap().unread_count, 5);
    assert_eq!(store.conversation(&c, &a).await.unwrap().unread_count, 0, "own messages are read");
    assert_eq!(store.mark_read(&c, &b, 3, 10).await.unwrap().read.current, 3);
    let back = store.mark_read(&c, &b, 1, 11).await.unwrap();
    assert_eq!((back.read.current, back.read.advanced()), (3, false));
    let all = store.mark_read(&c, &b, 99, 12).await.unwrap();
    assert_eq!((all.read.previous, all.read.current), (3, 5), "clamped to the last sequence");
    assert_eq!((all.delivered.previous, all.delivered.current), (3, 5), "reading implies receiving");
    let view = store.conversation(&c, &b).await.unwrap();
    assert_eq!((view.last_read_sequence, view.unread_count), (5, 0));
    assert_eq!(view.last_message.unwrap().sequence_number, 5);
    let (conv, seq) = store
        .locate_message(
            &store.history(&c, &b, HistoryCursor::After(1), 1).await.unwrap().messages[0].message_id,
            &b,
        )
        .await
        .unwrap();
    assert_eq!((conv.as_str(), seq), (c.as_str(), 2));
}

pub async fn sync_returns_missed_messages_and_new_conversations(store: SharedStore) {
    let a = user(&store, "mike").await;
    let b = user(&store, "nina").await;
    let (c1, _) = store.open_direct(&a, &b, new_id(), now_millis()).await.unwrap();
    let g = group(&store, &a, std::slice::from_ref(&b), GroupSettings::default()).await;
    for i in 0..12 {
        send(&store, &c1, &a, &format!("d{i}")).await.unwrap();
    }
    send(&store, &g, &a, "g").await.unwrap();
    let cursors = [
        SyncCursor { conversation_id: c1.clone(), last_sequence: 4 },
        SyncCursor { conversation_id: "not-mine".into(), last_sequence: 0 },
    ];
    let resp = store.sync(&b, &cursors, 5).await.unwrap();
    assert_eq!(resp.conversations.len(), 1);
    let synced = &resp.conversations[0];
    let seqs: Vec<u64> = synced.messages.iter().map(|m| m.sequence_number).collect();
    assert_eq!(seqs, [5, 6, 7, 8, 9]);
    assert!(synced.has_more);
    assert_eq!((synced.last_sequence, synced.unread_count), (12, 12));
    assert_eq!(resp.new_conversations.len(), 1);
    assert_eq!(resp.new_conversations[0].conversation_id, g);
}

pub async fn receipts_and_statuses_follow_the_markers(store: SharedStore) {
    let a = user(&store, "quinn").await;
    let b = user(&store, "rita").await;
    let c = user(&store, "sam").await;
    let g = group(&store, &a, &[b.clone(), c.clone()], GroupSettings::default()).await;
    for i in 0..4 {
        send(&store, &g, &a, &format!("m{i}")).await.unwrap();
    }
    let status = |page: &confab_core::store::HistoryPage| -> Vec<Option<confab_proto::MessageStatus>> {
        page.messages.iter().map(|m| m.status).collect()
    };
    use confab_proto::MessageStatus::*;
    let moved = store.mark_delivered(&g, &b, 2, 100).await.unwrap();
    assert_eq!((moved.previous, moved.current), (0, 2));
    assert_eq!(store.mark_delivered(&g, &b, 50, 101).await.unwrap().current, 4, "clamped");
    store.mark_delivered(&g, &c, 3, 102).await.unwrap();
    let page = store.history(&g, &a, HistoryCursor::Latest, 10).await.unwrap();
    assert_eq!(status(&page), [Some(Delivered), Some(Delivered), Some(Delivered), Some(Sent)]);
    let page = store.history(&g, &b, HistoryCursor::Latest, 10).await.unwrap();
    assert!(page.messages.iter().all(|m| m.status.is_none()), "status only on one's own messages");
    store.mark_read(&g, &b, 4, 103).await.unwrap();
    store.mark_read(&g, &c, 1, 104).await.unwrap();
    let page = store.history(&g, &a, HistoryCursor::Latest, 10).await.unwrap();
    assert_eq!(status(&page), [Some(Read), Some(Delivered), Some(Delivered), Some(Sent)]);

    let second = &page.messages[1];
    let r = store.receipts(&g, &second.message_id, &a).await.unwrap();
    assert_eq!(r.delivered_to, [(b.clone(), 100), (c.clone(), 102)]);
    assert_eq!(r.read_by, [(b.clone(), 103)]);
    assert_eq!(store.receipts(&g, "nope", &a).await.unwrap_err(), Error::MessageNotFound);
    let outsider = user(&store, "tina").await;
    assert!(matches!(store.receipts(&g, &second.message_id, &outsider).await, Err(Error::Forbidden(_))));
    assert!(matches!(store.mark_delivered(&g, &outsider, 1, 0).await, Err(Error::Forbidden(_))));
    let refs = store.messages_between(&g, 1, 3).await.unwrap();
    assert_eq!(refs.iter().map(|m| m.sequence_number).collect::<Vec<_>>(), [2, 3]);
    assert!(refs.iter().all(|m| m.sender_id == a));

    // A member who joins later starts with everything before as delivered and read.
    store.add_members(&g, &a, std::slice::from_ref(&outsider), 0, 5).await.unwrap();
    let view = store.conversation(&g, &outsider).await.unwrap();
    assert_eq!((view.last_read_sequence, view.unread_count), (4, 0));
}

pub async fn presence_data(store: SharedStore) {
    let a = user(&store, "uma").await;
    let b = user(&store, "vic").await;
    let c = user(&store, "walt").await;
    user(&store, "xena").await;
    store.open_direct(&a, &b, new_id(), 0).await.unwrap();
    group(&store, &a, &[b.clone(), c.clone()], GroupSettings::default()).await;
    let mut contacts = store.contacts_of(&a, 10).await.unwrap();
    contacts.sort();
    let mut expected = vec![b.clone(), c.clone()];
    expected.sort();
    assert_eq!(contacts, expected);
    assert_eq!(store.contacts_of(&a, 1).await.unwrap().len(), 1);
    store.touch_last_seen(&a, 500).await.unwrap();
    store.touch_last_seen(&a, 400).await.unwrap();
    let seen = store.last_seen(&[a.clone(), b.clone(), "ghost".into()]).await.unwrap();
    assert_eq!(seen, [(a.clone(), Some(500)), (b.clone(), None)]);
}

pub async fn settings_keep_the_first_value(store: SharedStore) {
    assert_eq!(store.setting_or_init("secret", "one").await.unwrap(), "one");
    assert_eq!(store.setting_or_init("secret", "two").await.unwrap(), "one");
    store.ping().await.unwrap();
}

/// Expands the suite for one adapter: `$make` is an async expression yielding a fresh, empty store
/// and a guard that cleans it up, or `None` when the adapter's backend is not reachable here (the
/// adapter's factory decides whether that is a failure).
#[macro_export]
macro_rules! store_conformance_suite {
    ($make:expr) => {
        $crate::store_conformance_suite!(@tests $make;
            users_are_unique_and_searchable,
            direct_conversations_are_idempotent,
            group_roles_and_settings_are_enforced,
            sequences_are_gapless_under_concurrency,
            appends_are_idempotent_by_message_id,
            history_pages_visit_every_message_once,
            read_markers_clamp_and_never_go_back,
            sync_returns_missed_messages_and_new_conversations,
            receipts_and_statuses_follow_the_markers,
            presence_data,
            settings_keep_the_first_value,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some((store, _guard)) = $make.await else { return };
                $crate::conformance::$name(store).await;
            }
        )*
    };
}
