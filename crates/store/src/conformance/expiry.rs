//! Disappearing messages and retention: expired messages become tombstones in place (taking
//! update sequences), retention removes the oldest messages and moves `firstSequence`.

use std::time::Duration;

use confab_core::ids::{new_id, now_millis};
use confab_core::lifecycle::{Actor, ChangeKind, MessageChange, MessageTarget};
use confab_core::store::{HistoryCursor, NewMessage, SharedStore};
use confab_core::Error;
use confab_proto::{Content, GroupSettings, Message, SyncCursor};

use super::{group, text, user, ERASED_TEXT};

const DAY_MS: i64 = 24 * 3600 * 1000;

async fn post(store: &SharedStore, conv: &str, sender: &str, id: &str, expires_in: Option<u32>) -> Message {
    let msg = NewMessage { expires_in, ..NewMessage::new(id.into(), conv.into(), sender.into(), text(id)) };
    store.append(msg, None).await.expect("append").message
}

async fn change(
    store: &SharedStore,
    conv: &str,
    actor: &str,
    id: &str,
    kind: ChangeKind,
) -> Result<bool, Error> {
    let change = MessageChange {
        conversation_id: conv.to_string(),
        target: MessageTarget::id(id),
        actor: Actor::User(actor.to_string()),
        kind,
        at: now_millis(),
    };
    store.change_message(change).await.map(|c| c.changed)
}

async fn all(store: &SharedStore, conv: &str, viewer: &str) -> Vec<Message> {
    store.history(conv, viewer, HistoryCursor::After(0), 100).await.expect("history").messages
}

pub async fn expired_messages_become_tombstones_once(store: SharedStore) {
    let a = user(&store, "iris").await;
    let b = user(&store, "jack").await;
    let g = group(&store, &a, std::slice::from_ref(&b), GroupSettings::default()).await;
    post(&store, &g, &a, "kept", None).await;
    let soon = post(&store, &g, &a, "soon", Some(60)).await;
    assert_eq!(soon.expires_at, Some(soon.timestamp + 60_000));
    let later = post(&store, &g, &b, "later", Some(3600)).await;
    assert!(change(&store, &g, &b, "soon", ChangeKind::React { emoji: "👍".into(), add: true })
        .await
        .unwrap());
    let seen = all(&store, &g, &b).await;
    assert_eq!((seen[1].content.clone(), seen[1].expires_at), (text("soon"), soon.expires_at));

    // Nothing is due yet.
    assert_eq!(store.expire_messages(now_millis(), 100).await.unwrap().len(), 0);
    // A minute later one is, once, however often the sweep runs.
    let at = soon.timestamp + 61_000;
    assert_eq!(store.expire_messages(at, 100).await.unwrap().len(), 1);
    assert_eq!(store.expire_messages(at, 100).await.unwrap().len(), 0);

    let seen = all(&store, &g, &b).await;
    assert_eq!(seen.iter().map(|m| m.sequence_number).collect::<Vec<_>>(), [1, 2, 3], "gapless");
    let gone = &seen[1];
    assert_eq!(
        (gone.content.clone(), gone.is_deleted(), gone.reactions.clone()),
        (Content::Deleted, true, None)
    );
    assert_eq!((gone.update_sequence, gone.expires_at), (2, soon.expires_at), "the reaction took 1");
    assert_eq!(seen[2].content, text("later"));
    let view = store.conversation(&g, &a).await.unwrap();
    assert_eq!((view.last_update_sequence, view.first_sequence), (2, 1));

    // A device that synced before the sweep learns of the tombstone through the update cursor.
    let cursor = SyncCursor { conversation_id: g.clone(), last_sequence: 3, last_update_sequence: Some(1) };
    let synced = store.sync(&b, &[cursor], 100).await.unwrap();
    let updates = synced.conversations[0].updates.clone().unwrap_or_default();
    assert_eq!(updates.iter().map(|m| (m.sequence_number, m.is_deleted())).collect::<Vec<_>>(), [(2, true)]);

    // An expired message cannot be edited or reacted to.
    let edit = ChangeKind::Edit { content: text("again"), window_ms: None };
    assert!(matches!(change(&store, &g, &a, "soon", edit).await, Err(Error::MessageNotFound)));

    assert_eq!(store.expire_messages(later.expires_at.unwrap(), 100).await.unwrap().len(), 1);
    assert!(all(&store, &g, &a).await[2].is_deleted());
    assert_eq!(store.conversation(&g, &a).await.unwrap().last_update_sequence, 3);
}

pub async fn an_expired_message_reads_as_a_tombstone_before_the_sweep(store: SharedStore) {
    let a = user(&store, "kate").await;
    let b = user(&store, "liam").await;
    let (c, _) = store.open_direct(&a, &b, new_id(), now_millis()).await.unwrap();
    let brief = post(&store, &c, &a, "brief", Some(1)).await;
    let searching = |store: SharedStore, viewer: String| async move {
        let query = confab_core::rules::search::parse("brief").expect("a query");
        let req = confab_core::store::SearchRequest::new(&viewer, query, 10);
        store.search_messages(req).await.expect("search").len()
    };
    assert_eq!(searching(store.clone(), b.clone()).await, 1, "found while it lives");
    // Wait (bounded) for the clock to pass its expiry; no sweep runs in between.
    let expires_at = brief.expires_at.expect("an expiry");
    tokio::time::timeout(Duration::from_secs(5), async {
        while now_millis() <= expires_at {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the clock passes the expiry");
    let seen = all(&store, &c, &b).await;
    assert_eq!((seen[0].content.clone(), seen[0].is_deleted()), (Content::Deleted, true));
    assert_eq!(searching(store.clone(), b.clone()).await, 0, "never found once expired, swept or not");
    let last = store.conversation(&c, &b).await.unwrap().last_message.expect("a last message");
    assert!(last.is_deleted(), "lastMessage shows the tombstone");
    let synced = store.sync(&b, &[], 100).await.unwrap();
    assert!(synced.new_conversations[0].last_message.as_ref().is_some_and(Message::is_deleted));
    // The sweep then erases it, taking an update sequence as it does.
    assert_eq!(store.expire_messages(now_millis(), 100).await.unwrap().len(), 1);
    assert_eq!(all(&store, &c, &b).await[0].update_sequence, 1);
}

pub async fn concurrent_sweeps_erase_each_message_once(store: SharedStore) {
    let a = user(&store, "mona").await;
    let b = user(&store, "nick").await;
    let g = group(&store, &a, std::slice::from_ref(&b), GroupSettings::default()).await;
    let mut last = 0;
    for i in 0..40 {
        last = post(&store, &g, &a, &format!("m{i}"), Some(1)).await.timestamp;
    }
    let at = last + 2_000;
    let sweeps = (0..4).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut total = 0;
            loop {
                let n = store.expire_messages(at, 7).await.expect("sweep").len();
                total += n;
                if n == 0 {
                    return total;
                }
            }
        })
    });
    let mut total = 0;
    for sweep in sweeps {
        total += sweep.await.unwrap();
    }
    assert_eq!(total, 40);
    let view = store.conversation(&g, &b).await.unwrap();
    assert_eq!(view.last_update_sequence, 40, "one update sequence per message, no gap");
    let mut updates: Vec<u64> = all(&store, &g, &b).await.iter().map(|m| m.update_sequence).collect();
    updates.sort_unstable();
    assert_eq!(updates, (1..=40).collect::<Vec<_>>());
}

pub async fn retention_removes_the_oldest_messages_and_moves_first_sequence(store: SharedStore) {
    let a = user(&store, "olive").await;
    let b = user(&store, "paul").await;
    let g = group(&store, &a, std::slice::from_ref(&b), GroupSettings::default()).await;
    for i in 0..5 {
        post(&store, &g, &a, &format!("m{i}"), None).await;
    }
    let now = now_millis();
    // Without a retention, or before it is reached, nothing goes.
    assert_eq!(store.apply_retention(now + 10 * DAY_MS, 0, 100).await.unwrap(), 0);
    assert_eq!(store.apply_retention(now + DAY_MS / 2, 1, 100).await.unwrap(), 0);
    // Batches stop at the limit and resume where they stopped.
    assert_eq!(store.apply_retention(now + 2 * DAY_MS, 1, 3).await.unwrap(), 3);
    let view = store.conversation(&g, &b).await.unwrap();
    assert_eq!((view.first_sequence, view.last_sequence), (4, 5));
    assert_eq!(all(&store, &g, &b).await.iter().map(|m| m.sequence_number).collect::<Vec<_>>(), [4, 5]);
    assert_eq!(store.apply_retention(now + 2 * DAY_MS, 1, 3).await.unwrap(), 2);
    let view = store.conversation(&g, &b).await.unwrap();
    assert_eq!((view.first_sequence, view.last_sequence, view.last_message), (6, 5, None));
    assert!(all(&store, &g, &b).await.is_empty());
    let cursor = SyncCursor { conversation_id: g.clone(), last_sequence: 0, last_update_sequence: Some(0) };
    let synced = store.sync(&b, &[cursor], 100).await.unwrap();
    let entry = &synced.conversations[0];
    assert_eq!((entry.messages.len(), entry.first_sequence, entry.last_sequence), (0, 6, 5));
    // The sequence goes on after them.
    assert_eq!(post(&store, &g, &b, "after", None).await.sequence_number, 6);
    assert_eq!(store.conversation(&g, &a).await.unwrap().first_sequence, 6);
}

pub async fn the_shorter_of_server_and_group_retention_applies(store: SharedStore) {
    let a = user(&store, "quinn").await;
    let b = user(&store, "rosa").await;
    let week = GroupSettings { retention_days: 7, ..GroupSettings::default() };
    let short = group(&store, &a, std::slice::from_ref(&b), week).await;
    let plain = group(&store, &a, std::slice::from_ref(&b), GroupSettings::default()).await;
    assert_eq!(store.conversation(&short, &a).await.unwrap().settings.retention_days, 7);
    post(&store, &short, &a, "s1", None).await;
    post(&store, &plain, &a, "p1", None).await;
    let now = now_millis();
    // The group's week applies alone, then under a longer server retention.
    assert_eq!(store.apply_retention(now + 6 * DAY_MS, 0, 100).await.unwrap(), 0);
    assert_eq!(store.apply_retention(now + 8 * DAY_MS, 30, 100).await.unwrap(), 1);
    assert_eq!(store.conversation(&short, &a).await.unwrap().first_sequence, 2);
    assert_eq!(store.conversation(&plain, &a).await.unwrap().first_sequence, 1);
    // The server's 30 days reach the other group.
    assert_eq!(store.apply_retention(now + 31 * DAY_MS, 30, 100).await.unwrap(), 1);
    assert_eq!(store.conversation(&plain, &a).await.unwrap().first_sequence, 2);
}

/// A message with a reply link, reactions and an edit that expired and was swept: the adapters'
/// own tests read its row to check that nothing of [`ERASED_TEXT`] is left.
pub async fn an_expired_message(store: &SharedStore) -> (String, u64) {
    let a = user(store, "sara").await;
    let b = user(store, "theo").await;
    let (c, _) = store.open_direct(&a, &b, new_id(), now_millis()).await.unwrap();
    post(store, &c, &b, "q", None).await;
    let secret = NewMessage {
        reply_to: Some("q".into()),
        expires_in: Some(30),
        ..NewMessage::new("s".into(), c.clone(), a.clone(), text("draft"))
    };
    let stored = store.append(secret, None).await.unwrap().message;
    let edit = ChangeKind::Edit { content: text(ERASED_TEXT), window_ms: None };
    change(store, &c, &a, "s", edit).await.unwrap();
    change(store, &c, &b, "s", ChangeKind::React { emoji: "😮".into(), add: true }).await.unwrap();
    assert_eq!(store.expire_messages(stored.timestamp + 31_000, 10).await.unwrap().len(), 1);
    (c, stored.sequence_number)
}
