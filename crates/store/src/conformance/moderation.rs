//! Reports, bans, the moderation log, the administrators' user list and counts.

use confab_core::ids::{new_id, now_millis};
use confab_core::moderation::{ChangeKind, NewBan, NewReport};
use confab_core::store::{NewMessage, SharedStore};
use confab_core::Error;
use confab_proto::{Content, GroupSettings, ReportStatus};

use super::{group, send, user};

fn report(reporter: &str, message_id: &str, conversation: Option<&str>) -> NewReport {
    NewReport {
        report_id: new_id(),
        reporter: reporter.to_string(),
        message_id: message_id.to_string(),
        conversation: conversation.map(str::to_string),
        reason: "spam".into(),
        created_at: now_millis(),
    }
}

fn ban(user: &str, until: Option<i64>) -> NewBan {
    NewBan {
        user_id: user.to_string(),
        reason: "abuse".into(),
        until,
        banned_at: 1_000,
        banned_by: Some("root".into()),
    }
}

async fn send_as(store: &SharedStore, conv: &str, sender: &str, message_id: &str, t: &str) -> u64 {
    let msg = NewMessage {
        message_id: message_id.to_string(),
        conversation_id: conv.to_string(),
        sender_id: sender.to_string(),
        content: Content::Text { text: t.to_string() },
        reply_to: None,
        expires_in: None,
    };
    store.append(msg, None).await.expect("append").message.sequence_number
}

pub async fn reports_name_a_visible_message_once_per_reporter(store: SharedStore) {
    let ann = user(&store, "ann").await;
    let ben = user(&store, "ben").await;
    let eve = user(&store, "eve").await;
    let (direct, _) = store.open_direct(&ann, &ben, new_id(), 1).await.unwrap();
    let (other, _) = store.open_direct(&ben, &eve, new_id(), 1).await.unwrap();
    let seq = send_as(&store, &direct, &ben, "m1", "rude").await;
    // The same messageId from another sender in a conversation Ann is not in.
    send_as(&store, &other, &eve, "m1", "elsewhere").await;
    send_as(&store, &direct, &ann, "mine", "hello").await;

    let (first, created) = store.create_report(report(&ann, "m1", None)).await.unwrap();
    assert!(created);
    assert_eq!((first.conversation_id.as_str(), first.message_id.as_str()), (direct.as_str(), "m1"));
    assert_eq!(first.status, ReportStatus::Open);
    let (again, created) = store.create_report(report(&ann, "m1", Some(&direct))).await.unwrap();
    assert!(!created, "the same reporter and message: the first report");
    assert_eq!(again.report_id, first.report_id);

    assert_eq!(store.create_report(report(&ann, "nope", None)).await.unwrap_err(), Error::MessageNotFound);
    assert_eq!(
        store.create_report(report(&ann, "m1", Some(&other))).await.unwrap_err(),
        Error::MessageNotFound,
        "a conversation the reporter is not in hides its messages"
    );
    assert!(matches!(store.create_report(report(&ann, "mine", None)).await, Err(Error::InvalidRequest(_))));
    // Ben sees his own m1 in `direct` and Eve's in `other`: he reports Eve's.
    let (bens, _) = store.create_report(report(&ben, "m1", None)).await.unwrap();
    assert_eq!(bens.conversation_id, other);
    // Eve sees only her own m1 (Ben's is in a conversation she is not in).
    assert!(matches!(store.create_report(report(&eve, "m1", None)).await, Err(Error::InvalidRequest(_))));

    let open = store.reports(ReportStatus::Open, None, 10).await.unwrap();
    let named: Vec<(&str, &str, u64)> =
        open.iter().map(|r| (r.reporter_id.as_str(), r.sender_id.as_str(), r.sequence_number)).collect();
    assert_eq!(named, [(ann.as_str(), ben.as_str(), seq), (ben.as_str(), eve.as_str(), 1)]);
}

pub async fn report_queues_page_and_resolve_once(store: SharedStore) {
    let ann = user(&store, "ann").await;
    let members = vec![user(&store, "ben").await, user(&store, "cat").await];
    let gid = group(&store, &ann, &members, GroupSettings::default()).await;
    for i in 0..3 {
        send_as(&store, &gid, &ann, &format!("m{i}"), &format!("text {i}")).await;
    }
    let mut ids = Vec::new();
    for reporter in &members {
        for i in 0..3 {
            ids.push(
                store.create_report(report(reporter, &format!("m{i}"), None)).await.unwrap().0.report_id,
            );
        }
    }
    // Open: oldest first, in pages.
    let first = store.reports(ReportStatus::Open, None, 4).await.unwrap();
    let rest = store.reports(ReportStatus::Open, Some(&first[3].report_id), 4).await.unwrap();
    let paged: Vec<String> = first.iter().chain(&rest).map(|r| r.report_id.clone()).collect();
    assert_eq!(paged, ids);
    let shown = &first[0];
    assert_eq!((shown.sender_id.as_str(), shown.reason.as_str()), (ann.as_str(), "spam"));
    let message = shown.message.as_ref().expect("the reported message as stored");
    assert_eq!(message.content, Content::Text { text: "text 0".into() });
    assert_eq!(message.sequence_number, shown.sequence_number);

    let resolved = store.resolve_report(&ids[0], Some(&ann), "warned", 50).await.unwrap();
    assert_eq!(resolved.status, ReportStatus::Resolved);
    assert_eq!(
        (resolved.resolved_at, resolved.resolved_by.as_deref(), resolved.resolution.as_deref()),
        (Some(50), Some(ann.as_str()), Some("warned"))
    );
    let again = store.resolve_report(&ids[0], None, "other", 60).await.unwrap();
    assert_eq!((again.resolution.as_deref(), again.resolved_at), (Some("warned"), Some(50)), "first stands");
    store.resolve_report(&ids[1], None, "no action", 70).await.unwrap();
    assert!(matches!(store.resolve_report("missing", None, "x", 1).await, Err(Error::NotFound(_))));

    let open = store.reports(ReportStatus::Open, None, 100).await.unwrap();
    assert_eq!(open.len(), 4);
    assert!(open.iter().all(|r| r.report_id != ids[0] && r.report_id != ids[1]));
    // Resolved: newest first.
    let done = store.reports(ReportStatus::Resolved, None, 1).await.unwrap();
    assert_eq!(done[0].report_id, ids[1]);
    let older = store.reports(ReportStatus::Resolved, Some(&ids[1]), 10).await.unwrap();
    assert_eq!(older.iter().map(|r| r.report_id.clone()).collect::<Vec<_>>(), [ids[0].clone()]);
    assert_eq!(store.stats(0).await.unwrap().open_reports, 4);
}

pub async fn bans_replace_expire_and_lift(store: SharedStore) {
    let ann = user(&store, "ann").await;
    assert_eq!(store.ban_of(&ann, 0).await.unwrap(), None);
    let banned = store.ban(ban(&ann, None)).await.unwrap();
    assert_eq!(
        (banned.reason.as_str(), banned.until, banned.banned_by.as_deref()),
        ("abuse", None, Some("root"))
    );
    assert_eq!(store.ban_of(&ann, i64::MAX).await.unwrap(), Some(banned));
    let timed = store.ban(ban(&ann, Some(5_000))).await.unwrap();
    assert_eq!(store.ban_of(&ann, 4_999).await.unwrap(), Some(timed), "replaced");
    assert_eq!(store.ban_of(&ann, 5_000).await.unwrap(), None, "expired by itself");
    assert!(store.unban(&ann).await.unwrap(), "an expired ban is still lifted");
    assert!(!store.unban(&ann).await.unwrap());
    assert!(matches!(store.ban(ban("nobody", None)).await, Err(Error::UserNotFound(_))));

    let ben = user(&store, "ben").await;
    store.ban(ban(&ben, None)).await.unwrap();
    store.ban(ban(&ann, Some(10_000))).await.unwrap();
    assert_eq!(store.stats(9_999).await.unwrap().active_bans, 2);
    assert_eq!(store.stats(10_000).await.unwrap().active_bans, 1);
}

pub async fn the_moderation_log_lists_changes_in_order(store: SharedStore) {
    let ann = user(&store, "ann").await;
    let ben = user(&store, "ben").await;
    let start = store.latest_change().await.unwrap();
    assert!(store.changes(start, 10).await.unwrap().is_empty());
    store.ban(ban(&ann, None)).await.unwrap();
    store.revoke_user_sessions(&ben, 777).await.unwrap();
    store.unban(&ann).await.unwrap();
    let changes = store.changes(start, 10).await.unwrap();
    let seen: Vec<(&str, ChangeKind)> = changes.iter().map(|c| (c.user_id.as_str(), c.kind)).collect();
    assert_eq!(
        seen,
        [
            (ann.as_str(), ChangeKind::Ban),
            (ben.as_str(), ChangeKind::Sessions),
            (ann.as_str(), ChangeKind::Unban)
        ]
    );
    assert!(changes.windows(2).all(|w| w[0].version < w[1].version));
    assert_eq!(store.latest_change().await.unwrap(), changes[2].version);
    assert_eq!(store.changes(changes[0].version, 1).await.unwrap()[0].kind, ChangeKind::Sessions, "paged");
    let cutoff = store.revocations(&ben, 0).await.unwrap().cutoff.expect("sessions revoked");
    assert_eq!((cutoff.before, cutoff.kept_session), (777, None));

    // Purged entries are gone; versions are never reused.
    assert_eq!(store.purge_changes(now_millis() + 1).await.unwrap(), 3);
    assert!(store.changes(start, 10).await.unwrap().is_empty());
    assert_eq!(store.latest_change().await.unwrap(), changes[2].version);
    store.ban(ban(&ben, None)).await.unwrap();
    let next = store.changes(changes[2].version, 10).await.unwrap();
    assert_eq!(next.len(), 1);
    assert!(next[0].version > changes[2].version);
}

pub async fn admin_user_lists_page_by_username_with_bans(store: SharedStore) {
    for name in ["zed", "amy", "abe", "bob"] {
        user(&store, name).await;
    }
    let abe = store.credentials("abe").await.unwrap().unwrap().user.user_id;
    store.ban(ban(&abe, None)).await.unwrap();
    let page = store.admin_users("", None, 2, 0).await.unwrap();
    let names: Vec<&str> = page.iter().map(|u| u.user.username.as_str()).collect();
    assert_eq!(names, ["abe", "amy"]);
    assert_eq!(page[0].ban.as_ref().map(|b| b.reason.as_str()), Some("abuse"));
    assert!(page[1].ban.is_none() && !page[0].admin);
    let next = store.admin_users("", Some("amy"), 10, 0).await.unwrap();
    assert_eq!(next.iter().map(|u| u.user.username.as_str()).collect::<Vec<_>>(), ["bob", "zed"]);
    let a = store.admin_users("A", None, 10, 0).await.unwrap();
    assert_eq!(a.len(), 2, "prefixes are matched like usernames are stored");
    assert!(a[0].created_at > 0);

    let stats = store.stats(0).await.unwrap();
    assert_eq!((stats.users, stats.conversations, stats.messages), (4, 0, 0));
    let amy = store.credentials("amy").await.unwrap().unwrap().user.user_id;
    let bob = store.credentials("bob").await.unwrap().unwrap().user.user_id;
    let (c, _) = store.open_direct(&amy, &bob, new_id(), 1).await.unwrap();
    for _ in 0..3 {
        send(&store, &c, &amy, "x").await.unwrap();
    }
    let stats = store.stats(0).await.unwrap();
    assert_eq!((stats.conversations, stats.messages, stats.active_bans), (1, 3, 1));
}
