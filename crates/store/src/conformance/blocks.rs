//! Blocks: what is stored, and what a block stops (direct sends and openings, presence) and does
//! not (groups).

use confab_core::ids::{new_id, now_millis};
use confab_core::rules::blocks::{Blocking, BLOCKED_MESSAGE, BLOCKER_MESSAGE, MAX_BLOCKS};
use confab_core::store::{NewMessage, SharedStore};
use confab_core::Error;
use confab_proto::GroupSettings;

use super::{group, send, text, user};

fn listed(blocks: Vec<confab_proto::BlockedUser>) -> Vec<(String, i64)> {
    blocks.into_iter().map(|b| (b.user.user_id, b.blocked_at)).collect()
}

pub async fn blocks_are_idempotent_and_listed_newest_first(store: SharedStore) {
    let a = user(&store, "blocker").await;
    let b = user(&store, "pest").await;
    let c = user(&store, "spammer").await;
    assert!(store.block_user(&a, &b, 10).await.unwrap(), "a new block");
    assert!(store.block_user(&a, &c, 20).await.unwrap());
    assert!(!store.block_user(&a, &b, 30).await.unwrap(), "blocking again changes nothing");
    assert_eq!(listed(store.blocks_of(&a).await.unwrap()), [(c.clone(), 20), (b.clone(), 10)]);
    let first = &store.blocks_of(&a).await.unwrap()[1];
    assert_eq!((first.user.username.as_str(), first.user.display_name.as_str()), ("pest", "PEST"));
    assert_eq!(store.blocking(&a, &b).await.unwrap(), Blocking { blocks_peer: true, blocked_by_peer: false });
    assert_eq!(store.blocking(&b, &a).await.unwrap(), Blocking { blocks_peer: false, blocked_by_peer: true });
    assert!(store.blocks_of(&b).await.unwrap().is_empty(), "a block is the blocker's alone");
    assert!(store.unblock_user(&a, &b).await.unwrap());
    assert!(!store.unblock_user(&a, &b).await.unwrap(), "unblocking again changes nothing");
    assert_eq!(listed(store.blocks_of(&a).await.unwrap()), [(c.clone(), 20)]);
    assert_eq!(store.blocking(&a, &b).await.unwrap(), Blocking::default());
    // Refusals store nothing.
    assert_eq!(store.block_user(&a, "ghost", 1).await.unwrap_err(), Error::UserNotFound("ghost".into()));
    assert_eq!(store.unblock_user(&a, "ghost").await.unwrap_err(), Error::UserNotFound("ghost".into()));
    assert!(matches!(store.block_user(&a, &a, 1).await, Err(Error::InvalidRequest(_))));
    assert!(matches!(store.unblock_user(&a, &a).await, Err(Error::InvalidRequest(_))));
    assert_eq!(listed(store.blocks_of(&a).await.unwrap()), [(c, 20)]);
}

pub async fn a_block_stops_direct_messages_both_ways_but_not_groups(store: SharedStore) {
    let a = user(&store, "annoyed").await;
    let b = user(&store, "annoying").await;
    let (direct, _) = store.open_direct(&a, &b, new_id(), now_millis()).await.unwrap();
    let g = group(&store, &a, std::slice::from_ref(&b), GroupSettings::default()).await;
    let before = || NewMessage {
        message_id: "before-block".into(),
        conversation_id: direct.clone(),
        sender_id: b.clone(),
        content: text("hello?"),
        reply_to: None,
        expires_in: None,
    };
    let first = store.append(before(), None).await.unwrap().message.sequence_number;
    store.block_user(&a, &b, now_millis()).await.unwrap();
    assert_eq!(
        send(&store, &direct, &b, "hello??").await.unwrap_err(),
        Error::Forbidden(BLOCKED_MESSAGE.into())
    );
    assert_eq!(
        send(&store, &direct, &a, "go away").await.unwrap_err(),
        Error::Forbidden(BLOCKER_MESSAGE.into())
    );
    let retry = store.append(before(), None).await.expect("a retry of an earlier send is still answered");
    assert_eq!((retry.created, retry.message.sequence_number), (false, first));
    assert_eq!(send(&store, &g, &b, "in the group").await.unwrap(), 1, "groups are not affected");
    assert_eq!(send(&store, &g, &a, "in the group too").await.unwrap(), 2);
    let reopened = store.open_direct(&b, &a, new_id(), now_millis()).await;
    assert_eq!(reopened.unwrap_err(), Error::Forbidden(BLOCKED_MESSAGE.into()));
    let (same, created) =
        store.open_direct(&a, &b, new_id(), now_millis()).await.expect("the blocker may open it");
    assert_eq!((same.as_str(), created), (direct.as_str(), false));
    assert_eq!(store.conversation(&direct, &b).await.unwrap().last_sequence, first, "history stays readable");
    store.unblock_user(&a, &b).await.unwrap();
    assert_eq!(send(&store, &direct, &b, "sorry").await.unwrap(), first + 1);
    assert_eq!(send(&store, &direct, &a, "ok").await.unwrap(), first + 2);
}

pub async fn a_blocked_user_cannot_start_a_direct_conversation(store: SharedStore) {
    let a = user(&store, "private").await;
    let b = user(&store, "stranger").await;
    store.block_user(&a, &b, now_millis()).await.unwrap();
    let opened = store.open_direct(&b, &a, new_id(), now_millis()).await;
    assert_eq!(opened.unwrap_err(), Error::Forbidden(BLOCKED_MESSAGE.into()));
    assert!(store.conversations_of(&b).await.unwrap().is_empty(), "nothing was created");
    let (c, created) = store.open_direct(&a, &b, new_id(), now_millis()).await.expect("the blocker may");
    assert!(created);
    // Blocking each other: neither may open it, and each is told about their own block first.
    store.block_user(&b, &a, now_millis()).await.unwrap();
    let opened = store.open_direct(&a, &b, new_id(), now_millis()).await;
    assert_eq!(opened.unwrap_err(), Error::Forbidden(BLOCKED_MESSAGE.into()));
    assert_eq!(send(&store, &c, &a, "hi").await.unwrap_err(), Error::Forbidden(BLOCKER_MESSAGE.into()));
    assert_eq!(send(&store, &c, &b, "hi").await.unwrap_err(), Error::Forbidden(BLOCKER_MESSAGE.into()));
}

pub async fn users_blocking_each_other_are_no_contacts(store: SharedStore) {
    let a = user(&store, "quiet").await;
    let b = user(&store, "loud").await;
    let c = user(&store, "friend").await;
    store.open_direct(&a, &b, new_id(), 0).await.unwrap();
    group(&store, &a, &[b.clone(), c.clone()], GroupSettings::default()).await;
    store.block_user(&b, &a, now_millis()).await.unwrap();
    for (user, other) in [(&a, &b), (&b, &a)] {
        let contacts = store.contacts_of(user, 10).await.unwrap();
        assert!(!contacts.contains(other), "a shared group does not make blocked users contacts");
        assert!(contacts.contains(&c));
        assert_eq!(
            store.contacts_among(user, &[other.clone(), c.clone()]).await.unwrap(),
            std::slice::from_ref(&c)
        );
    }
    store.unblock_user(&b, &a).await.unwrap();
    assert_eq!(store.contacts_among(&a, std::slice::from_ref(&b)).await.unwrap(), [b]);
}

pub async fn blocks_are_capped_and_storms_stay_consistent(store: SharedStore) {
    let a = user(&store, "storm").await;
    let mut others = Vec::with_capacity(MAX_BLOCKS as usize);
    // In chunks, so a pooled backend is never asked for more connections than it has at once.
    for chunk in 0..MAX_BLOCKS / 50 {
        let made = futures_util::future::join_all((0..50).map(|i| {
            let store = store.clone();
            async move { user(&store, &format!("target{chunk}-{i}")).await }
        }))
        .await;
        let blocked = futures_util::future::join_all(made.iter().map(|o| store.block_user(&a, o, 1))).await;
        assert!(blocked.into_iter().all(|r| r == Ok(true)));
        others.extend(made);
    }
    let one_more = user(&store, "one-more").await;
    assert!(matches!(store.block_user(&a, &one_more, 2).await, Err(Error::InvalidRequest(_))));
    assert_eq!(store.block_user(&a, &others[0], 2).await, Ok(false), "a repeat is not a new block");
    assert_eq!(store.blocks_of(&a).await.unwrap().len(), MAX_BLOCKS as usize);
    // Concurrent blocks of one pair: exactly one of them is new.
    let b = &others[1];
    store.unblock_user(&a, b).await.unwrap();
    let blocks = futures_util::future::join_all((0..8).map(|_| store.block_user(&a, b, 3))).await;
    assert_eq!(blocks.iter().filter(|r| **r == Ok(true)).count(), 1, "{blocks:?}");
    // Blocks and unblocks interleaved, all at once: each is answered, none fails.
    let storm = futures_util::future::join_all((0..16).map(|i| {
        let store = store.clone();
        let (a, b) = (a.clone(), b.clone());
        async move {
            if i % 2 == 0 {
                store.block_user(&a, &b, 4).await.map(|_| ())
            } else {
                store.unblock_user(&a, &b).await.map(|_| ())
            }
        }
    }))
    .await;
    assert!(storm.iter().all(Result::is_ok), "{storm:?}");
    store.unblock_user(&a, b).await.unwrap();
    assert_eq!(store.blocking(&a, b).await.unwrap(), Blocking::default());
    assert_eq!(store.blocks_of(&a).await.unwrap().len(), MAX_BLOCKS as usize - 1);
}
