//! Delivered and read markers, the statuses they give, and receipts.

use confab_core::ids::{new_id, now_millis};
use confab_core::store::{HistoryCursor, NewMessage, SharedStore};
use confab_core::Error;
use confab_proto::GroupSettings;

use super::{group, send, user};

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

pub async fn receipts_never_list_the_sender(store: SharedStore) {
    let a = user(&store, "xavi").await;
    let b = user(&store, "yara").await;
    let c = user(&store, "zeno").await;
    let g = group(&store, &a, &[b.clone(), c.clone()], GroupSettings::default()).await;
    send(&store, &g, &a, "first").await.unwrap();
    let second = sent(&store, &g, &c, "second").await;
    // The sender reading on past their own message records a mark that covers it.
    assert!(store.mark_read(&g, &a, 2, 50).await.unwrap().read.advanced());
    store.mark_read(&g, &b, 2, 60).await.unwrap();
    let first =
        store.history(&g, &a, HistoryCursor::After(0), 1).await.unwrap().messages[0].message_id.clone();
    let r = store.receipts(&g, &first, &c).await.unwrap();
    // c read the first message when writing the second.
    assert_eq!(r.read_by, [(b.clone(), 60), (c.clone(), second.timestamp)]);
    assert_eq!(r.delivered_to, [(b.clone(), 60), (c.clone(), second.timestamp)], "reading is receiving");
    let (direct, _) = store.open_direct(&a, &b, new_id(), now_millis()).await.unwrap();
    assert_eq!(
        store.receipts(&direct, &first, &a).await.unwrap_err(),
        Error::MessageNotFound,
        "another conversation's message"
    );
}

pub async fn replying_marks_what_came_before_as_read(store: SharedStore) {
    let a = user(&store, "ada").await;
    let b = user(&store, "bo").await;
    let (c, _) = store.open_direct(&a, &b, new_id(), now_millis()).await.unwrap();
    let first = sent(&store, &c, &a, "first").await;
    send(&store, &c, &a, "second").await.unwrap();
    // Bob answers without marking anything: his reply moves his markers past both.
    let reply = sent(&store, &c, &b, "reply").await;
    let page = store.history(&c, &a, HistoryCursor::Latest, 10).await.unwrap();
    let statuses: Vec<_> = page.messages.iter().map(|m| m.status).collect();
    use confab_proto::MessageStatus::Read;
    assert_eq!(statuses, [Some(Read), Some(Read), None]);
    let r = store.receipts(&c, &first.message_id, &a).await.unwrap();
    assert_eq!(r.read_by, [(b.clone(), reply.timestamp)], "the reply is when Bob read it");
    assert_eq!(r.delivered_to, [(b.clone(), reply.timestamp)]);
    // A later explicit mark does not move the first time.
    store.mark_read(&c, &b, 3, reply.timestamp + 1_000).await.unwrap();
    assert_eq!(
        store.receipts(&c, &first.message_id, &a).await.unwrap().read_by,
        [(b.clone(), reply.timestamp)]
    );
    // Alice answering in turn reads Bob's reply; her own earlier messages record nothing new.
    let answer = sent(&store, &c, &a, "answer").await;
    let r = store.receipts(&c, &reply.message_id, &b).await.unwrap();
    assert_eq!(r.read_by, [(a.clone(), answer.timestamp)]);
    // Consecutive messages of one sender record no marks of their own.
    send(&store, &c, &a, "and more").await.unwrap();
    assert_eq!(store.receipts(&c, &answer.message_id, &b).await.unwrap().read_by, []);
}

/// Appends a text message and returns it as stored.
async fn sent(store: &SharedStore, conv: &str, sender: &str, t: &str) -> confab_proto::Message {
    let msg = NewMessage {
        message_id: new_id(),
        conversation_id: conv.to_string(),
        sender_id: sender.to_string(),
        content: super::text(t),
        reply_to: None,
        expires_in: None,
    };
    store.append(msg, None).await.unwrap().message
}
