//! Receipts, presence and typing, as users of real clients see them.

use std::time::Duration;

use confab_client::Connection;
use confab_proto::frames::{
    ConversationRef, DeliveredPayload, PresenceSetPayload, PresenceSubscribePayload, ReadReceiptPayload,
    TypingPayload, UpToPayload,
};
use confab_proto::{ClientFrame, ErrorCode, MessageStatus, Presence, PresenceStatus, ServerFrame};

use crate::harness::*;
use crate::messaging::collect_new;

async fn delivered(conn: &mut Connection) -> DeliveredPayload {
    conn.wait_for(WAIT, "message.delivered", |f| match &f.frame {
        ServerFrame::MessageDelivered(d) => Some(d.clone()),
        _ => None,
    })
    .await
    .expect("message.delivered")
}

async fn read_receipt(conn: &mut Connection) -> ReadReceiptPayload {
    conn.wait_for(WAIT, "message.read_receipt", |f| match &f.frame {
        ServerFrame::MessageReadReceipt(r) => Some(r.clone()),
        _ => None,
    })
    .await
    .expect("message.read_receipt")
}

pub(crate) async fn presence_of(conn: &mut Connection, user: &str) -> Presence {
    conn.wait_for(WAIT, "presence.update", |f| match &f.frame {
        ServerFrame::PresenceUpdate(p) if p.user_id == user => Some(p.clone()),
        _ => None,
    })
    .await
    .expect("presence.update")
}

async fn typing_of(conn: &mut Connection, user: &str) -> TypingPayload {
    conn.wait_for(WAIT, "typing.update", |f| match &f.frame {
        ServerFrame::TypingUpdate(t) if t.user_id == user => Some(t.clone()),
        _ => None,
    })
    .await
    .expect("typing.update")
}

/// The next message or read receipt, skipping presence and other frames.
async fn next_message_or_receipt(conn: &mut Connection) -> ServerFrame {
    conn.wait_for(WAIT, "message.new or read receipt", |f| match &f.frame {
        ServerFrame::MessageNew(_) | ServerFrame::MessageReadReceipt(_) => Some(f.frame.clone()),
        _ => None,
    })
    .await
    .expect("a frame")
}

/// Connects and waits for the initial `presence.bulk`: from then on, presence changes of the
/// user's contacts reach this connection.
pub(crate) async fn connect_watching(user: &TestUser, device: &str) -> (Connection, Vec<Presence>) {
    let mut conn = user.connect(device).await;
    let bulk = conn
        .wait_for(WAIT, "presence.bulk", |f| match &f.frame {
            ServerFrame::PresenceBulk(b) => Some(b.presences.clone()),
            _ => None,
        })
        .await
        .expect("presence.bulk");
    (conn, bulk)
}

async fn up_to(conn: &mut Connection, read: bool, conversation_id: &str, seq: u64) {
    let payload = UpToPayload { conversation_id: conversation_id.into(), up_to_sequence: seq };
    let frame = if read { ClientFrame::MessageRead(payload) } else { ClientFrame::MessageReceived(payload) };
    conn.send(frame).await.unwrap();
}

#[tokio::test]
async fn delivered_then_read_and_an_offline_sender_sees_read_in_history() {
    let server = TestServer::start().await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let id = alice.api.open_direct(&bob.id).await.unwrap().0.conversation_id;

    // Online sender: receipts arrive as frames.
    let mut a = alice.connect("phone").await;
    let mut b = bob.connect("phone").await;
    let ack = a.send_text(&id, "m1", "hello").await.unwrap();
    let got = collect_new(&mut b, 1).await;
    up_to(&mut b, false, &id, got[0].sequence_number).await;
    let d = delivered(&mut a).await;
    assert_eq!(
        (d.message_ids.as_slice(), d.delivered_to.as_str(), d.up_to_sequence),
        (&["m1".to_string()][..], bob.id.as_str(), ack.sequence_number)
    );
    up_to(&mut b, true, &id, ack.sequence_number).await;
    let r = read_receipt(&mut a).await;
    assert_eq!((r.read_by.as_str(), r.read_up_to_sequence), (bob.id.as_str(), 1));
    let history = alice.api.history(&id, None, None, None).await.unwrap().messages;
    assert_eq!(history[0].status, Some(MessageStatus::Read));

    // Offline sender: learns from history on return.
    a.close().await.unwrap();
    let (second, _) = alice.api.send_message(&id, Some("m2"), text("while away")).await.unwrap();
    let history = alice.api.history(&id, None, None, None).await.unwrap().messages;
    assert_eq!(history[1].status, Some(MessageStatus::Sent));
    collect_new(&mut b, 1).await;
    up_to(&mut b, false, &id, second.sequence_number).await;
    // Wait for bob's receipt to be stored: the read marker below is answered after it.
    bob.api.mark_read(&id, second.sequence_number).await.unwrap();
    let history = alice.api.history(&id, None, None, None).await.unwrap().messages;
    assert_eq!(history[1].status, Some(MessageStatus::Read));
    let sync = alice
        .api
        .sync(&confab_proto::SyncRequest {
            conversations: vec![confab_proto::SyncCursor::new(id.clone(), 0)],
            limit: None,
        })
        .await
        .unwrap();
    assert!(sync.conversations[0].messages.iter().all(|m| m.status == Some(MessageStatus::Read)));
    assert!(history.iter().all(|m| m.sender_id == alice.id));
    let from_bob = bob.api.history(&id, None, None, None).await.unwrap().messages;
    assert!(from_bob.iter().all(|m| m.status.is_none()), "status is only for one's own messages");
}

#[tokio::test]
async fn reading_on_one_device_clears_unread_on_the_others() {
    let server = TestServer::start().await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let id = alice.api.open_direct(&bob.id).await.unwrap().0.conversation_id;
    for i in 0..3 {
        alice.api.send_message(&id, None, text(&format!("m{i}"))).await.unwrap();
    }
    let mut phone = bob.connect("phone").await;
    let mut laptop = bob.connect("laptop").await;
    assert_eq!(bob.api.conversation(&id).await.unwrap().unread_count, 3);
    up_to(&mut phone, true, &id, 3).await;
    let r = read_receipt(&mut laptop).await;
    assert_eq!((r.read_by.as_str(), r.read_up_to_sequence), (bob.id.as_str(), 3));
    let conv = bob.api.conversation(&id).await.unwrap();
    assert_eq!((conv.unread_count, conv.last_read_sequence), (0, 3));
    let listed = bob.api.conversations().await.unwrap();
    assert_eq!(listed[0].unread_count, 0);
    // The device that read does not get its own receipt back; the next frame it sees is new.
    alice.api.send_message(&id, Some("after"), text("next")).await.unwrap();
    let next = next_message_or_receipt(&mut phone).await;
    assert!(matches!(&next, ServerFrame::MessageNew(m) if m.message_id == "after"), "{next:?}");
}

#[tokio::test]
async fn group_receipts_list_exactly_who_received_and_read() {
    let server = TestServer::start().await;
    let users = register_many(&server.url, "member", 10).await;
    let others: Vec<String> = users[1..].iter().map(|u| u.id.clone()).collect();
    let gid = users[0].api.create_group("ten", &others, None).await.unwrap().conversation_id;
    let (ack, _) = users[0].api.send_message(&gid, Some("hello-10"), text("hi all")).await.unwrap();

    // Members 1..=6 receive, 1..=3 read.
    for u in &users[1..=6] {
        let mut c = u.connect("d").await;
        up_to(&mut c, false, &gid, ack.sequence_number).await;
        // A heartbeat reply proves the receipt before it was handled (frames are answered in order).
        let hb = c.heartbeat().await.unwrap();
        c.reply_to(&hb).await.unwrap();
    }
    for u in &users[1..=3] {
        u.api.mark_read(&gid, ack.sequence_number).await.unwrap();
    }
    let receipts: confab_proto::ReceiptsResponse = {
        let (status, body) = users[0]
            .api
            .raw(
                reqwest::Method::GET,
                &format!("/api/v1/conversations/{gid}/messages/hello-10/receipts"),
                None,
            )
            .await
            .unwrap();
        assert_eq!(status, 200, "{body}");
        serde_json::from_value(body).unwrap()
    };
    let mut delivered: Vec<&str> = receipts.delivered_to.iter().map(|r| r.user_id.as_str()).collect();
    let mut read: Vec<&str> = receipts.read_by.iter().map(|r| r.user_id.as_str()).collect();
    delivered.sort_unstable();
    read.sort_unstable();
    let mut want_delivered: Vec<&str> = users[1..=6].iter().map(|u| u.id.as_str()).collect();
    let mut want_read: Vec<&str> = users[1..=3].iter().map(|u| u.id.as_str()).collect();
    want_delivered.sort_unstable();
    want_read.sort_unstable();
    assert_eq!(delivered, want_delivered);
    assert_eq!(read, want_read);
    assert!(receipts.read_by.iter().all(|r| r.timestamp > 0));

    let status = |u: &TestUser| {
        let (api, gid) = (u.api.clone(), gid.clone());
        async move { api.history(&gid, None, None, None).await.unwrap().messages[0].status }
    };
    assert_eq!(status(&users[0]).await, Some(MessageStatus::Sent), "not everyone received it yet");
    for u in &users[7..] {
        let mut c = u.connect("d").await;
        up_to(&mut c, false, &gid, ack.sequence_number).await;
        let hb = c.heartbeat().await.unwrap();
        c.reply_to(&hb).await.unwrap();
    }
    assert_eq!(status(&users[0]).await, Some(MessageStatus::Delivered));
    for u in &users[4..] {
        u.api.mark_read(&gid, ack.sequence_number).await.unwrap();
    }
    assert_eq!(status(&users[0]).await, Some(MessageStatus::Read));

    let outsider = register(&server.url, "outsider").await;
    let (code, _) = outsider
        .api
        .raw(reqwest::Method::GET, &format!("/api/v1/conversations/{gid}/messages/hello-10/receipts"), None)
        .await
        .unwrap();
    assert_eq!(code, 403);
}

#[tokio::test]
async fn large_groups_send_read_receipts_only_to_senders_and_the_reader() {
    let server = TestServer::start_with(|c| c.limits.receipt_fanout_limit = 3).await;
    let users = register_many(&server.url, "big", 5).await;
    let others: Vec<String> = users[1..].iter().map(|u| u.id.clone()).collect();
    let gid = users[0].api.create_group("five", &others, None).await.unwrap().conversation_id;
    let mut sender = users[0].connect("d").await;
    let mut bystander = users[2].connect("d").await;
    let mut reader_other_device = users[1].connect("tablet").await;
    let ack = sender.send_text(&gid, "x1", "hi").await.unwrap();
    collect_new(&mut bystander, 1).await;
    users[1].api.mark_read(&gid, ack.sequence_number).await.unwrap();
    assert_eq!(read_receipt(&mut sender).await.read_by, users[1].id);
    assert_eq!(read_receipt(&mut reader_other_device).await.read_by, users[1].id);
    // The bystander gets no receipt: its next frame is the next message.
    sender.send_text(&gid, "x2", "again").await.unwrap();
    let next = next_message_or_receipt(&mut bystander).await;
    assert!(matches!(&next, ServerFrame::MessageNew(m) if m.message_id == "x2"), "{next:?}");
}

#[tokio::test]
async fn receipts_for_other_conversations_are_forbidden_and_beyond_the_end_is_clamped() {
    let server = TestServer::start().await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let eve = register(&server.url, "eve").await;
    let id = alice.api.open_direct(&bob.id).await.unwrap().0.conversation_id;
    alice.api.send_message(&id, None, text("one")).await.unwrap();
    let mut e = eve.connect("d").await;
    for read in [false, true] {
        let rid = e
            .send(if read {
                ClientFrame::MessageRead(UpToPayload { conversation_id: id.clone(), up_to_sequence: 1 })
            } else {
                ClientFrame::MessageReceived(UpToPayload { conversation_id: id.clone(), up_to_sequence: 1 })
            })
            .await
            .unwrap();
        let reply = e.reply_to(&rid).await.unwrap();
        assert!(
            matches!(reply.frame, ServerFrame::Error(ref b) if b.error == ErrorCode::Forbidden),
            "{reply:?}"
        );
    }
    let rid =
        e.send(ClientFrame::TypingStart(ConversationRef { conversation_id: id.clone() })).await.unwrap();
    assert!(
        matches!(e.reply_to(&rid).await.unwrap().frame, ServerFrame::Error(ref b) if b.error == ErrorCode::Forbidden)
    );

    let mut a = alice.connect("d").await;
    let mut b = bob.connect("d").await;
    up_to(&mut b, false, &id, 1_000).await;
    let d = delivered(&mut a).await;
    assert_eq!(d.up_to_sequence, 1, "clamped to the last sequence");
    assert_eq!(bob.api.mark_read(&id, 1_000).await.unwrap(), 1);
    // The next message is not already counted as read.
    alice.api.send_message(&id, None, text("two")).await.unwrap();
    assert_eq!(bob.api.conversation(&id).await.unwrap().unread_count, 1);
}

#[tokio::test]
async fn presence_follows_devices_across_connects_and_disconnects() {
    let server = TestServer::start_with(|c| c.presence_throttle = Duration::from_millis(200)).await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    alice.api.open_direct(&bob.id).await.unwrap();

    let (mut watcher, bulk) = connect_watching(&alice, "watcher").await;
    assert_eq!(bulk.len(), 1);
    assert_eq!(
        (bulk[0].user_id.as_str(), bulk[0].status, bulk[0].last_seen),
        (bob.id.as_str(), PresenceStatus::Offline, None)
    );

    let phone = bob.connect("phone").await;
    assert_eq!(presence_of(&mut watcher, &bob.id).await.status, PresenceStatus::Online);
    let mut laptop = bob.connect("laptop").await;
    phone.close().await.unwrap();
    // Still online while the laptop remains: asking again says so.
    let rid = watcher
        .send(ClientFrame::PresenceSubscribe(PresenceSubscribePayload { user_ids: vec![bob.id.clone()] }))
        .await
        .unwrap();
    let ServerFrame::PresenceBulk(now) = watcher.reply_to(&rid).await.unwrap().frame else { panic!("bulk") };
    assert_eq!(now.presences[0].status, PresenceStatus::Online);

    // Idle, then active again (presence.set extension).
    laptop.send(ClientFrame::PresenceSet(PresenceSetPayload { status: PresenceStatus::Away })).await.unwrap();
    assert_eq!(presence_of(&mut watcher, &bob.id).await.status, PresenceStatus::Away);
    laptop
        .send(ClientFrame::PresenceSet(PresenceSetPayload { status: PresenceStatus::Online }))
        .await
        .unwrap();
    assert_eq!(presence_of(&mut watcher, &bob.id).await.status, PresenceStatus::Online);

    laptop.close().await.unwrap();
    let gone = presence_of(&mut watcher, &bob.id).await;
    assert_eq!(gone.status, PresenceStatus::Offline);
    let last_seen = gone.last_seen.expect("lastSeen when offline");
    // lastSeen is persisted: a new watcher sees it in its bulk.
    let (_second, bulk) = connect_watching(&alice, "second").await;
    assert_eq!(bulk[0].status, PresenceStatus::Offline);
    assert!(bulk[0].last_seen.unwrap() >= last_seen - 1000);
}

#[tokio::test]
async fn a_heartbeat_timeout_marks_the_user_offline() {
    let server = TestServer::start_with(|c| {
        c.heartbeat_interval = Duration::from_millis(100);
        c.presence_throttle = Duration::from_millis(50);
    })
    .await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    alice.api.open_direct(&bob.id).await.unwrap();
    let (mut watcher, _) = connect_watching(&alice, "watcher").await;
    let _silent = bob.connect("silent").await;
    assert_eq!(presence_of(&mut watcher, &bob.id).await.status, PresenceStatus::Online);
    // The watcher keeps heartbeating while it waits; bob's device says nothing and times out.
    let offline = loop {
        let hb = watcher.heartbeat().await.unwrap();
        watcher.reply_to(&hb).await.unwrap();
        let found = watcher.reader.buffered().find_map(|f| match &f.frame {
            ServerFrame::PresenceUpdate(p) if p.user_id == bob.id && p.status == PresenceStatus::Offline => {
                Some(p.clone())
            }
            _ => None,
        });
        if let Some(p) = found {
            break p;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(offline.last_seen.is_some());
}

#[tokio::test]
async fn a_quick_reconnect_ends_online_at_every_observer() {
    let throttle = Duration::from_millis(300);
    let server = TestServer::start_with(|c| c.presence_throttle = throttle).await;
    let users = register_many(&server.url, "obs", 3).await;
    let bob = register(&server.url, "bob").await;
    let ids: Vec<String> = users.iter().map(|u| u.id.clone()).chain([bob.id.clone()]).collect();
    users[0].api.create_group("watchers", &ids, None).await.unwrap();
    let mut observers = Vec::new();
    for u in &users {
        observers.push(connect_watching(u, "d").await.0);
    }
    let first = bob.connect("phone").await;
    for o in observers.iter_mut() {
        assert_eq!(presence_of(o, &bob.id).await.status, PresenceStatus::Online);
    }
    // Offline and back inside one throttle interval.
    first.close().await.unwrap();
    let _again = bob.connect("phone").await;
    for o in observers.iter_mut() {
        // Whatever arrives in between (possibly nothing, when the new connection registered before
        // the old one was gone), the last state each observer knows says online.
        let mut last = Presence { user_id: bob.id.clone(), status: PresenceStatus::Online, last_seen: None };
        loop {
            let more = o
                .wait_for(throttle * 3, "later presence.update", |f| match &f.frame {
                    ServerFrame::PresenceUpdate(p) if p.user_id == bob.id => Some(p.clone()),
                    _ => None,
                })
                .await;
            match more {
                Ok(p) => last = p,
                Err(_) => break,
            }
        }
        assert_eq!(last.status, PresenceStatus::Online);
    }
}

#[tokio::test]
async fn typing_starts_stops_by_itself_and_stops_on_disconnect() {
    let server = TestServer::start_with(|c| c.typing_timeout = Duration::from_millis(300)).await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let id = alice.api.open_direct(&bob.id).await.unwrap().0.conversation_id;
    let mut a = alice.connect("d").await;
    let mut b = bob.connect("d").await;
    let start = || ClientFrame::TypingStart(ConversationRef { conversation_id: id.clone() });

    // Three quick starts are one update; the server stops it after the quiet period.
    for _ in 0..3 {
        a.send(start()).await.unwrap();
    }
    let t = typing_of(&mut b, &alice.id).await;
    assert_eq!((t.conversation_id.as_str(), t.is_typing), (id.as_str(), true));
    let t = typing_of(&mut b, &alice.id).await;
    assert!(!t.is_typing, "auto-stop; coalesced starts sent no second `true`");

    // Explicit stop.
    a.send(start()).await.unwrap();
    assert!(typing_of(&mut b, &alice.id).await.is_typing);
    a.send(ClientFrame::TypingStop(ConversationRef { conversation_id: id.clone() })).await.unwrap();
    assert!(!typing_of(&mut b, &alice.id).await.is_typing);

    // Disconnecting stops it too, and the typist never sees its own typing.
    a.send(start()).await.unwrap();
    assert!(typing_of(&mut b, &alice.id).await.is_typing);
    a.close().await.unwrap();
    assert!(!typing_of(&mut b, &alice.id).await.is_typing);
}
