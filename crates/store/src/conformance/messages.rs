//! Appends, history pages and offline sync.

use confab_core::ids::{new_id, now_millis};
use confab_core::store::{HistoryCursor, NewMessage, SharedStore};
use confab_core::Error;
use confab_proto::{GroupSettings, SyncCursor};

use super::{group, send, text, user};

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
                    reply_to: None,
                    expires_in: None,
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
        reply_to: None,
        expires_in: None,
    };
    let first = store.append(msg("hello", &a), None).await.unwrap();
    assert!(first.created);
    let again = store.append(msg("hello", &a), None).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.message, first.message);
    assert_eq!(store.append(msg("other", &a), None).await.unwrap_err(), Error::DuplicateMessage);
    // The refused appends left no gap.
    assert_eq!(send(&store, &c, &b, "next").await.unwrap(), 2);
    // A retry queued while the original is still in flight gets the same answer.
    let twin = |t: &str| NewMessage {
        message_id: "twin".into(),
        conversation_id: c.clone(),
        sender_id: a.clone(),
        content: text(t),
        reply_to: None,
        expires_in: None,
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

/// A message is identified by its sender and `messageId`: another sender's message with the same
/// id is a different message, in the same conversation or any other.
/// Appends queued together (an adapter may commit them in one batch): a clash with a stored
/// message writes nothing, so the retry right behind it still gets the original.
pub async fn a_retry_queued_behind_a_clash_gets_the_original(store: SharedStore) {
    let a = user(&store, "hugo").await;
    let b = user(&store, "iris").await;
    let (c, _) = store.open_direct(&a, &b, new_id(), now_millis()).await.unwrap();
    let msg = |t: &str| NewMessage {
        message_id: "queued".into(),
        conversation_id: c.clone(),
        sender_id: a.clone(),
        content: text(t),
        reply_to: None,
        expires_in: None,
    };
    let original = store.append(msg("x"), None).await.unwrap();
    // Both are queued when called, before either is awaited.
    let (clash, retry) = (store.append(msg("y"), None), store.append(msg("x"), None));
    assert_eq!(clash.await.unwrap_err(), Error::DuplicateMessage);
    let retry = retry.await.expect("the retry is answered with the original");
    assert_eq!((retry.created, retry.message), (false, original.message));
}

pub async fn message_ids_are_scoped_to_their_sender(store: SharedStore) {
    let a = user(&store, "hana").await;
    let b = user(&store, "ivan").await;
    let c = user(&store, "jill").await;
    let g = group(&store, &a, &[b.clone(), c.clone()], GroupSettings::default()).await;
    let (direct, _) = store.open_direct(&a, &c, new_id(), now_millis()).await.unwrap();
    let msg = |conv: &str, sender: &str, t: &str| NewMessage {
        message_id: "b-1".into(),
        conversation_id: conv.to_string(),
        sender_id: sender.to_string(),
        content: text(t),
        reply_to: None,
        expires_in: None,
    };
    let from_a = store.append(msg(&g, &a, "hi"), None).await.unwrap();
    let from_b = store.append(msg(&g, &b, "hi"), None).await.unwrap();
    assert!(from_a.created && from_b.created, "the same id from two senders is two messages");
    assert_eq!((from_a.message.sequence_number, from_b.message.sequence_number), (1, 2));
    assert_eq!(from_b.message.sender_id, b);
    let from_c = store.append(msg(&direct, &c, "hi"), None).await.unwrap();
    assert_eq!((from_c.created, from_c.message.sequence_number), (true, 1));

    // Each sender's retry gets their own original back; anything else they change is a conflict.
    let retry = store.append(msg(&g, &b, "hi"), None).await.unwrap();
    assert_eq!((retry.created, retry.message), (false, from_b.message.clone()));
    assert_eq!(store.append(msg(&g, &a, "changed"), None).await.unwrap_err(), Error::DuplicateMessage);
    assert_eq!(store.append(msg(&direct, &a, "hi"), None).await.unwrap_err(), Error::DuplicateMessage);

    // Committed together (one batch where the adapter batches), two senders' same id are still
    // two messages, and one sender's twin is still a retry.
    let both = |sender: &str| NewMessage { message_id: "b-2".into(), ..msg(&g, sender, "again") };
    let (first, second, twin) = tokio::join!(
        store.append(both(&a), None),
        store.append(both(&b), None),
        store.append(both(&a), None)
    );
    let (first, second, twin) = (first.unwrap(), second.unwrap(), twin.unwrap());
    assert!(first.created && second.created && !twin.created);
    assert_eq!(twin.message, first.message);
    let mut seqs = [first.message.sequence_number, second.message.sequence_number];
    seqs.sort_unstable();
    assert_eq!(seqs, [3, 4]);
    assert_eq!(send(&store, &g, &c, "next").await.unwrap(), 5, "nothing refused left a gap");
    let ids: Vec<(String, String)> = store
        .history(&g, &c, HistoryCursor::Latest, 10)
        .await
        .unwrap()
        .messages
        .into_iter()
        .map(|m| (m.message_id, m.sender_id))
        .collect();
    assert_eq!(ids.iter().filter(|(id, _)| id == "b-1").count(), 2);
    assert_eq!(ids.iter().filter(|(id, _)| id == "b-2").count(), 2);
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

pub async fn sync_returns_missed_messages_and_new_conversations(store: SharedStore) {
    let a = user(&store, "mike").await;
    let b = user(&store, "nina").await;
    let (c1, _) = store.open_direct(&a, &b, new_id(), now_millis()).await.unwrap();
    let g = group(&store, &a, std::slice::from_ref(&b), GroupSettings::default()).await;
    for i in 0..12 {
        send(&store, &c1, &a, &format!("d{i}")).await.unwrap();
    }
    send(&store, &g, &a, "g").await.unwrap();
    let cursors = [SyncCursor::new(c1.clone(), 4), SyncCursor::new("not-mine", 0)];
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

pub async fn history_has_more_exactly_at_page_edges(store: SharedStore) {
    let a = user(&store, "sven").await;
    let b = user(&store, "tara").await;
    let (c, _) = store.open_direct(&a, &b, new_id(), now_millis()).await.unwrap();
    let page = |cursor, limit| {
        let (store, c, a) = (store.clone(), c.clone(), a.clone());
        async move {
            let p = store.history(&c, &a, cursor, limit).await.unwrap();
            (p.messages.iter().map(|m| m.sequence_number).collect::<Vec<u64>>(), p.has_more)
        }
    };
    assert_eq!(page(HistoryCursor::Latest, 5).await, (vec![], false), "an empty conversation");
    for i in 0..6 {
        send(&store, &c, &a, &format!("m{i}")).await.unwrap();
    }
    assert_eq!(page(HistoryCursor::Latest, 6).await, (vec![1, 2, 3, 4, 5, 6], false));
    assert_eq!(page(HistoryCursor::Latest, 5).await, (vec![2, 3, 4, 5, 6], true));
    assert_eq!(page(HistoryCursor::Before(2), 1).await, (vec![1], false));
    assert_eq!(page(HistoryCursor::Before(1), 3).await, (vec![], false));
    assert_eq!(page(HistoryCursor::After(3), 3).await, (vec![4, 5, 6], false));
    assert_eq!(page(HistoryCursor::After(3), 2).await, (vec![4, 5], true));
    assert_eq!(page(HistoryCursor::After(6), 2).await, (vec![], false));
    assert_eq!(page(HistoryCursor::After(u64::MAX), 2).await, (vec![], false));
    assert_eq!(page(HistoryCursor::Before(u64::MAX), 2).await, (vec![5, 6], true));
    let cursors = [SyncCursor::new(c.clone(), 3)];
    let synced = store.sync(&b, &cursors, 3).await.unwrap();
    assert_eq!(synced.conversations[0].messages.len(), 3);
    assert!(!synced.conversations[0].has_more, "sync pages end where history pages do");
}

pub async fn messages_are_located_only_for_members(store: SharedStore) {
    let a = user(&store, "uli").await;
    let b = user(&store, "vera").await;
    let outsider = user(&store, "wim").await;
    let g = group(&store, &a, std::slice::from_ref(&b), GroupSettings::default()).await;
    send(&store, &g, &a, "one").await.unwrap();
    let id = store.history(&g, &b, HistoryCursor::Latest, 1).await.unwrap().messages[0].message_id.clone();
    assert_eq!(store.locate_message(&id, &b).await.unwrap(), (g.clone(), 1));
    assert_eq!(store.locate_message(&id, &outsider).await.unwrap_err(), Error::MessageNotFound);
    assert_eq!(store.locate_message("nope", &a).await.unwrap_err(), Error::MessageNotFound);
}

/// Several messages can share a `messageId` (different senders). Looking one up by id finds only
/// messages the viewer may see: the viewer's own, else the newest.
pub async fn a_shared_message_id_resolves_to_the_viewers_own_or_the_newest(store: SharedStore) {
    let a = user(&store, "kim").await;
    let b = user(&store, "lou").await;
    let d = user(&store, "max").await;
    let outsider = user(&store, "ned").await;
    let g = group(&store, &a, &[b.clone(), d.clone()], GroupSettings::default()).await;
    let msg = |conv: &str, sender: &str| NewMessage {
        message_id: "shared".into(),
        conversation_id: conv.to_string(),
        sender_id: sender.to_string(),
        content: text("hi"),
        reply_to: None,
        expires_in: None,
    };
    store.append(msg(&g, &a), None).await.unwrap();
    store.mark_read(&g, &d, 1, now_millis()).await.unwrap();
    store.append(msg(&g, &b), None).await.unwrap();

    // Nobody outside the conversation can tell the id exists.
    assert_eq!(store.locate_message("shared", &outsider).await.unwrap_err(), Error::MessageNotFound);
    assert_eq!(store.locate_message("shared", &a).await.unwrap(), (g.clone(), 1), "own first");
    assert_eq!(store.locate_message("shared", &b).await.unwrap(), (g.clone(), 2), "own first");
    assert_eq!(store.locate_message("shared", &d).await.unwrap(), (g.clone(), 2), "else the newest");
    // The outsider's own message with the id is theirs to find, and only theirs.
    let (own, _) = store.open_direct(&outsider, &a, new_id(), now_millis()).await.unwrap();
    store.append(msg(&own, &outsider), None).await.unwrap();
    assert_eq!(store.locate_message("shared", &outsider).await.unwrap(), (own.clone(), 1));
    assert_eq!(store.locate_message("shared", &a).await.unwrap(), (g.clone(), 1), "still her own");

    // Receipts name a conversation and pick within it the same way: d read a's message (1) but not
    // b's (2); b, whose message came after a's, read a's too.
    let read_by = |viewer: String| {
        let (store, g) = (store.clone(), g.clone());
        async move {
            let r = store.receipts(&g, "shared", &viewer).await.unwrap();
            r.read_by.into_iter().map(|(user, _)| user).collect::<Vec<_>>()
        }
    };
    // Both marks may fall in one millisecond, which orders them by user id: compare as sets.
    let mut readers = read_by(a.clone()).await;
    readers.sort();
    let mut expected = vec![d.clone(), b.clone()];
    expected.sort();
    assert_eq!(readers, expected);
    assert_eq!(read_by(b.clone()).await, Vec::<String>::new());
    assert_eq!(read_by(d.clone()).await, Vec::<String>::new(), "the newest: b's");
    assert_eq!(store.receipts(&own, "shared", &a).await.unwrap().read_by, []);
}

/// The ranges a node reads back after another died: conversations with messages committed since
/// a time, most recently active first, the range bounded by the depth looked at.
pub async fn committed_since_finds_the_recent_ranges(store: SharedStore) {
    let owner = user(&store, "owner").await;
    let a = group(&store, &owner, &[], GroupSettings::default()).await;
    let b = group(&store, &owner, &[], GroupSettings::default()).await;
    let _quiet = group(&store, &owner, &[], GroupSettings::default()).await;
    send(&store, &a, &owner, "a1").await.unwrap();
    send(&store, &a, &owner, "a2").await.unwrap();
    let page = store.history(&a, &owner, HistoryCursor::Latest, 10).await.unwrap();
    let before = page.messages.last().unwrap().timestamp;
    // Timestamps are in ms: wait for the clock to pass the second message's.
    while now_millis() <= before {
        tokio::task::yield_now().await;
    }
    send(&store, &a, &owner, "a3").await.unwrap();
    send(&store, &b, &owner, "b1").await.unwrap();
    let since = store.history(&a, &owner, HistoryCursor::Latest, 1).await.unwrap().messages[0].timestamp;
    assert!(since > before);

    let ranges = store.committed_since(since, 1_000, 100).await.unwrap();
    let got: Vec<(&str, u64, u64)> =
        ranges.iter().map(|r| (r.conversation_id.as_str(), r.first_sequence, r.last_sequence)).collect();
    assert_eq!(got.len(), 2, "the quiet group has nothing: {got:?}");
    assert!(got.contains(&(a.as_str(), 3, 3)), "{got:?}");
    assert!(got.contains(&(b.as_str(), 1, 1)), "{got:?}");

    let all = store.committed_since(0, 1_000, 100).await.unwrap();
    let in_a = all.iter().find(|r| r.conversation_id == a).unwrap();
    assert_eq!((in_a.first_sequence, in_a.last_sequence), (1, 3), "everything since the start");
    let shallow = store.committed_since(0, 2, 100).await.unwrap();
    let in_a = shallow.iter().find(|r| r.conversation_id == a).unwrap();
    assert_eq!((in_a.first_sequence, in_a.last_sequence), (2, 3), "only the newest two looked at");
    assert_eq!(store.committed_since(0, 1_000, 1).await.unwrap().len(), 1, "the limit holds");
    assert!(store.committed_since(now_millis() + 60_000, 1_000, 100).await.unwrap().is_empty());
}
