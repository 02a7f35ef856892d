//! Conversations and real-time messaging, as users see them.

use std::collections::HashSet;

use confab_client::Connection;
use confab_proto::frames::SendPayload;
use confab_proto::{ClientFrame, Content, Message, ServerFrame, SyncCursor, SyncRequest};

use crate::harness::*;

/// Reads frames until `n` `message.new` frames arrived (other frames are skipped).
pub async fn collect_new(conn: &mut Connection, n: usize) -> Vec<Message> {
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        let m = conn
            .wait_for(WAIT, &format!("message.new #{} of {n}", got.len() + 1), |f| match &f.frame {
                ServerFrame::MessageNew(m) => Some(m.clone()),
                _ => None,
            })
            .await
            .expect("message.new arrives");
        got.push(m);
    }
    got
}

fn body(m: &Message) -> &str {
    match &m.content {
        Content::Text { text } => text,
        _ => "",
    }
}

#[tokio::test]
async fn two_users_chat_both_ways_and_see_the_same_order() {
    let server = TestServer::start().await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let (conv, created) = alice.api.open_direct(&bob.id).await.unwrap();
    assert!(created);
    let (again, created) = bob.api.open_direct(&alice.id).await.unwrap();
    assert!(!created, "the same pair gets the same conversation");
    assert_eq!(again.conversation_id, conv.conversation_id);
    let id = conv.conversation_id.clone();

    let mut a = alice.connect("a-phone").await;
    let mut b = bob.connect("b-phone").await;
    let mut acks = Vec::new();
    for i in 0..5 {
        acks.push(a.send_text(&id, &format!("a{i}"), &format!("from alice {i}")).await.unwrap());
        acks.push(b.send_text(&id, &format!("b{i}"), &format!("from bob {i}")).await.unwrap());
    }
    let seqs: Vec<u64> = acks.iter().map(|a| a.sequence_number).collect();
    assert_eq!(seqs, (1..=10).collect::<Vec<_>>());

    let at_bob = collect_new(&mut b, 5).await;
    let at_alice = collect_new(&mut a, 5).await;
    assert!(at_bob.iter().all(|m| m.sender_id == alice.id));
    assert!(at_alice.iter().all(|m| m.sender_id == bob.id));
    assert_eq!(at_bob.iter().map(|m| m.sequence_number).collect::<Vec<_>>(), [1, 3, 5, 7, 9]);
    assert_eq!(at_alice.iter().map(|m| m.sequence_number).collect::<Vec<_>>(), [2, 4, 6, 8, 10]);

    // Both sides see the same messages in the same order (`status` differs: it is per viewer).
    let strip = |mut ms: Vec<Message>| {
        ms.iter_mut().for_each(|m| m.status = None);
        ms
    };
    let from_alice = strip(alice.api.history(&id, None, None, None).await.unwrap().messages);
    let from_bob = strip(bob.api.history(&id, None, None, None).await.unwrap().messages);
    assert_eq!(from_alice, from_bob);
    let texts: Vec<&str> = from_bob.iter().map(body).collect();
    assert_eq!(texts[0], "from alice 0");
    assert_eq!(texts[9], "from bob 4");

    let listed = bob.api.conversations().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].last_sequence, 10);
    assert_eq!(listed[0].last_message.as_ref().map(|m| m.sequence_number), Some(10));
}

#[tokio::test]
async fn a_group_message_reaches_every_device_exactly_once() {
    let server = TestServer::start().await;
    let users = register_many(&server.url, "member", 50).await;
    let ids: Vec<String> = users[1..].iter().map(|u| u.id.clone()).collect();
    let group = users[0].api.create_group("fifty", &ids, None).await.unwrap();
    assert_eq!(group.member_count, 50);
    let gid = group.conversation_id.clone();

    let mut conns = Vec::new();
    for u in &users {
        conns.push(u.connect("main").await);
    }
    // One member has a second device; the sender has a second device too.
    let mut second = users[7].connect("tablet").await;
    let mut sender_other = users[0].connect("laptop").await;

    let ack = conns[0].send_text(&gid, "hello-all", "hello, fifty").await.unwrap();
    assert_eq!(ack.sequence_number, 1);

    for (i, conn) in conns.iter_mut().enumerate().skip(1) {
        let got = collect_new(conn, 1).await;
        assert_eq!(got[0].message_id, "hello-all", "member {i}");
    }
    assert_eq!(collect_new(&mut second, 1).await[0].message_id, "hello-all");
    assert_eq!(collect_new(&mut sender_other, 1).await[0].message_id, "hello-all");

    // Exactly once: a second message is the next `message.new` everywhere, and the sending
    // connection never saw its own message.
    conns[1].send_text(&gid, "second", "and again").await.unwrap();
    for (i, conn) in conns.iter_mut().enumerate().skip(2) {
        let got = collect_new(conn, 1).await;
        assert_eq!(got[0].message_id, "second", "member {i} got a duplicate");
    }
    let next = collect_new(&mut conns[0], 1).await;
    assert_eq!(next[0].message_id, "second", "the sending connection does not get its own message");
}

#[tokio::test]
async fn concurrent_senders_get_gapless_sequences_seen_in_order_by_everyone() {
    let server = TestServer::start().await;
    let users = register_many(&server.url, "sender", 21).await;
    let ids: Vec<String> = users[1..].iter().map(|u| u.id.clone()).collect();
    let gid = users[0].api.create_group("busy", &ids, None).await.unwrap().conversation_id;

    let mut observer = users[0].connect("observer").await;
    // Everyone is connected before anyone sends: messages sent before a device connects reach it
    // through sync, not push.
    let mut conns = Vec::new();
    for user in &users[1..] {
        conns.push(user.connect("main").await);
    }
    let mut tasks = Vec::new();
    for (s, mut conn) in conns.into_iter().enumerate() {
        let gid = gid.clone();
        tasks.push(tokio::spawn(async move {
            // Pipelined: all 50 sends go out before any ack is awaited.
            let mut request_ids = Vec::new();
            for i in 0..50 {
                let frame = ClientFrame::MessageSend(SendPayload {
                    message_id: Some(format!("s{s}-m{i}")),
                    conversation_id: gid.clone(),
                    content: text(&format!("{s}:{i}")),
                    reply_to: None,
                    expires_in_seconds: None,
                });
                request_ids.push(conn.send(frame).await.unwrap());
            }
            let mut acked = Vec::new();
            for id in request_ids {
                match conn.reply_to(&id).await.unwrap().frame {
                    ServerFrame::MessageAck(a) => acked.push(a.sequence_number),
                    other => panic!("expected an ack, got {other:?}"),
                }
            }
            // Everyone else's 950 messages, in sequence order.
            let seen = collect_new(&mut conn, 950).await;
            (acked, seen)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        let (acked, seen) = task.await.unwrap();
        assert!(acked.windows(2).all(|w| w[0] < w[1]), "a device's messages keep its order");
        let seqs: Vec<u64> = seen.iter().map(|m| m.sequence_number).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "delivered out of order");
        all.extend(acked);
    }
    all.sort_unstable();
    assert_eq!(all, (1..=1000).collect::<Vec<_>>());
    let at_observer: Vec<u64> =
        collect_new(&mut observer, 1000).await.iter().map(|m| m.sequence_number).collect();
    assert_eq!(at_observer, (1..=1000).collect::<Vec<_>>());
}

#[tokio::test]
async fn retries_are_idempotent_and_a_reused_id_is_a_conflict() {
    let server = TestServer::start().await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let id = alice.api.open_direct(&bob.id).await.unwrap().0.conversation_id;

    let mut ws = alice.connect("phone").await;
    let first = ws.send_text(&id, "msg-1", "hi").await.unwrap();
    let retry = ws.send_text(&id, "msg-1", "hi").await.unwrap();
    assert_eq!(retry, first, "a retry returns the original ack");
    let conflict = ws.send_text(&id, "msg-1", "something else").await.unwrap_err();
    assert_eq!(conflict.code(), Some(confab_proto::ErrorCode::DuplicateMessage));

    let (rest_retry, created) = alice.api.send_message(&id, Some("msg-1"), text("hi")).await.unwrap();
    assert!(!created);
    assert_eq!(rest_retry.sequence_number, first.sequence_number);
    let (fresh, created) = alice.api.send_message(&id, Some("msg-2"), text("second")).await.unwrap();
    assert!(created);
    assert_eq!(fresh.sequence_number, 2);
    let err = alice.api.send_message(&id, Some("msg-2"), text("changed")).await.unwrap_err();
    assert!(matches!(err, confab_client::ClientError::Api { status: 409, .. }));

    let history = bob.api.history(&id, None, None, None).await.unwrap().messages;
    assert_eq!(history.len(), 2, "retries created nothing");
}

#[tokio::test]
async fn a_message_id_is_scoped_to_its_sender() {
    let server = TestServer::start().await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let carol = register(&server.url, "carol").await;
    let dave = register(&server.url, "dave").await;
    let ab = alice.api.open_direct(&bob.id).await.unwrap().0.conversation_id;
    let cd = carol.api.open_direct(&dave.id).await.unwrap().0.conversation_id;

    let mut a = alice.connect("a-phone").await;
    let mut b = bob.connect("b-phone").await;
    let from_alice = a.send_text(&ab, "b-1", "from alice").await.unwrap();
    assert_eq!(bob.api.mark_read(&ab, 1).await.unwrap(), 1);
    // Bob picks the same id in the same conversation: a different message, not a conflict.
    let from_bob = b.send_text(&ab, "b-1", "from bob").await.expect("Bob's b-1 is his own message");
    assert_eq!((from_alice.sequence_number, from_bob.sequence_number), (1, 2));
    let at_alice = collect_new(&mut a, 1).await;
    assert_eq!((at_alice[0].sender_id.as_str(), body(&at_alice[0])), (bob.id.as_str(), "from bob"));
    // Carol, in a conversation Alice and Bob are not in, can use it too and learns nothing.
    let (elsewhere, created) = carol.api.send_message(&cd, Some("b-1"), text("from carol")).await.unwrap();
    assert!(created);
    assert_eq!(elsewhere.sequence_number, 1);

    // Each sender's retry is answered with their own original; changing it is still a conflict.
    let (retry, created) = bob.api.send_message(&ab, Some("b-1"), text("from bob")).await.unwrap();
    assert!(!created);
    assert_eq!(retry.sequence_number, 2);
    assert_eq!(a.send_text(&ab, "b-1", "from alice").await.unwrap(), from_alice);
    let err = b.send_text(&ab, "b-1", "changed").await.unwrap_err();
    assert_eq!(err.code(), Some(confab_proto::ErrorCode::DuplicateMessage));
    let history = alice.api.history(&ab, None, None, None).await.unwrap().messages;
    let seen: Vec<(&str, &str)> = history.iter().map(|m| (m.sender_id.as_str(), body(m))).collect();
    assert_eq!(seen, [(alice.id.as_str(), "from alice"), (bob.id.as_str(), "from bob")]);

    // Looked up by id, each viewer means their own message: reading "b-1" moves Alice's marker
    // to hers (1), not to Bob's newer one, which stays unread for her.
    alice.api.mark_message_read("b-1").await.unwrap();
    let view = alice.api.conversation(&ab).await.unwrap();
    assert_eq!((view.last_read_sequence, view.unread_count), (1, 1));
    let receipts = |user: &TestUser| {
        let path = format!("/api/v1/conversations/{ab}/messages/b-1/receipts");
        let api = user.api.clone();
        async move { api.raw(reqwest::Method::GET, &path, None).await.unwrap() }
    };
    let (status, of_alices) = receipts(&alice).await;
    assert_eq!(status, 200);
    assert_eq!(of_alices["readBy"][0]["userId"], bob.id.as_str(), "Bob read Alice's b-1");
    let (status, of_bobs) = receipts(&bob).await;
    assert_eq!(status, 200);
    assert_eq!(of_bobs["readBy"], serde_json::json!([]), "Alice has not read Bob's b-1");
    // Carol's lookup finds only her own message, in her own conversation.
    carol.api.mark_message_read("b-1").await.unwrap();
    assert_eq!(carol.api.conversation(&cd).await.unwrap().last_read_sequence, 1);
}

#[tokio::test]
async fn history_pages_backwards_and_forwards_visit_every_message_once() {
    let server = TestServer::start_with(|c| c.limits.message_burst = 1000).await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let id = alice.api.open_direct(&bob.id).await.unwrap().0.conversation_id;
    for i in 0..120 {
        alice.api.send_message(&id, None, text(&format!("m{i}"))).await.unwrap();
    }
    let mut backwards = Vec::new();
    let mut page = bob.api.history(&id, None, None, Some(25)).await.unwrap();
    loop {
        assert!(page.messages.windows(2).all(|w| w[0].sequence_number < w[1].sequence_number));
        backwards.splice(0..0, page.messages.iter().map(|m| m.sequence_number));
        let Some(cursor) = page.next_cursor else {
            assert!(!page.has_more);
            break;
        };
        page = bob.api.history(&id, Some(cursor), None, Some(25)).await.unwrap();
    }
    assert_eq!(backwards, (1..=120).collect::<Vec<_>>());

    let mut forwards = Vec::new();
    let mut page = bob.api.history(&id, None, Some(0), Some(50)).await.unwrap();
    loop {
        forwards.extend(page.messages.iter().map(|m| m.sequence_number));
        let Some(cursor) = page.next_cursor else { break };
        page = bob.api.history(&id, None, Some(cursor), Some(50)).await.unwrap();
    }
    assert_eq!(forwards, (1..=120).collect::<Vec<_>>());
    let unique: HashSet<u64> = forwards.iter().copied().collect();
    assert_eq!(unique.len(), 120);
    // The limit is capped at 200.
    let capped = bob.api.history(&id, None, Some(0), Some(10_000)).await.unwrap();
    assert_eq!(capped.messages.len(), 120);
}

#[tokio::test]
async fn an_offline_user_syncs_every_missed_message_in_order() {
    let server = TestServer::start_with(|c| {
        c.limits.messages_per_second = 100_000;
        c.limits.message_burst = 100_000;
    })
    .await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let id = alice.api.open_direct(&bob.id).await.unwrap().0.conversation_id;

    // Bob was online, saw nothing yet, and goes away.
    let b = bob.connect("phone").await;
    b.close().await.unwrap();

    let mut a = alice.connect("laptop").await;
    let mut request_ids = Vec::new();
    for i in 0..500 {
        let frame = ClientFrame::MessageSend(SendPayload {
            message_id: Some(format!("offline-{i}")),
            conversation_id: id.clone(),
            content: text(&format!("while you were away {i}")),
            reply_to: None,
            expires_in_seconds: None,
        });
        request_ids.push(a.send(frame).await.unwrap());
    }
    for rid in request_ids {
        assert!(matches!(a.reply_to(&rid).await.unwrap().frame, ServerFrame::MessageAck(_)));
    }

    // Back online: the conversation list shows the backlog, and sync over WebSocket fetches it.
    let conv = bob.api.conversation(&id).await.unwrap();
    assert_eq!((conv.last_sequence, conv.unread_count), (500, 500));
    let mut b = bob.connect("phone").await;
    let request = SyncRequest { conversations: vec![SyncCursor::new(id.clone(), 0)], limit: Some(1000) };
    let rid = b.send(ClientFrame::Sync(request.clone())).await.unwrap();
    let ServerFrame::SyncResult(result) = b.reply_to(&rid).await.unwrap().frame else {
        panic!("sync.result")
    };
    let synced = &result.conversations[0];
    assert!(!synced.has_more);
    let seqs: Vec<u64> = synced.messages.iter().map(|m| m.sequence_number).collect();
    assert_eq!(seqs, (1..=500).collect::<Vec<_>>());
    assert_eq!(synced.messages[499].message_id, "offline-499");

    // REST sync in pages of 100 gives the same.
    let mut cursor = 0;
    let mut rest = Vec::new();
    loop {
        let page = bob
            .api
            .sync(&SyncRequest { conversations: vec![SyncCursor::new(id.clone(), cursor)], limit: None })
            .await
            .unwrap();
        let c = &page.conversations[0];
        rest.extend(c.messages.iter().map(|m| m.sequence_number));
        cursor = *rest.last().unwrap_or(&cursor);
        if !c.has_more {
            break;
        }
    }
    assert_eq!(rest, seqs);

    // A device that lists nothing learns about the conversation as new.
    let fresh = bob.api.sync(&SyncRequest::default()).await.unwrap();
    assert_eq!(fresh.new_conversations.len(), 1);
    assert_eq!(fresh.new_conversations[0].conversation_id, id);
}

#[tokio::test]
async fn group_membership_changes_are_enforced_and_announced() {
    let server = TestServer::start().await;
    let admin = register(&server.url, "admin").await;
    let carol = register(&server.url, "carol").await;
    let dave = register(&server.url, "dave").await;
    let settings = confab_proto::GroupSettings {
        only_admins_can_post: false,
        allow_member_invites: false,
        retention_days: 0,
    };
    let mut carol_ws = carol.connect("phone").await;
    let group =
        admin.api.create_group("club", std::slice::from_ref(&carol.id), Some(settings)).await.unwrap();
    let gid = group.conversation_id.clone();
    let created = carol_ws
        .wait_for(WAIT, "conversation.updated on create", |f| match &f.frame {
            ServerFrame::ConversationUpdated(c) if c.conversation_id == gid => Some(c.clone()),
            _ => None,
        })
        .await
        .unwrap();
    assert_eq!(created.member_count, 2);

    let err = carol.api.add_members(&gid, std::slice::from_ref(&dave.id)).await.unwrap_err();
    assert_eq!(err.code(), Some(confab_proto::ErrorCode::Forbidden));
    let mut dave_ws = dave.connect("phone").await;
    let after = admin.api.add_members(&gid, std::slice::from_ref(&dave.id)).await.unwrap();
    assert_eq!(after.member_count, 3);
    let joined = dave_ws
        .wait_for(WAIT, "conversation.updated on join", |f| match &f.frame {
            ServerFrame::ConversationUpdated(c) => Some(c.clone()),
            _ => None,
        })
        .await
        .unwrap();
    assert_eq!(joined.conversation_id, gid);

    // New members receive messages at once.
    admin.api.send_message(&gid, Some("welcome"), text("welcome dave")).await.unwrap();
    assert_eq!(collect_new(&mut dave_ws, 1).await[0].message_id, "welcome");

    // Leaving: the leaver is told, and stops receiving.
    carol.api.remove_member(&gid, &carol.id).await.unwrap();
    carol_ws
        .wait_for(WAIT, "conversation.updated on leave", |f| match &f.frame {
            ServerFrame::ConversationUpdated(c) if c.member_count == 2 => Some(()),
            _ => None,
        })
        .await
        .unwrap();
    let err = carol.api.conversation(&gid).await.unwrap_err();
    assert_eq!(err.code(), Some(confab_proto::ErrorCode::Forbidden));
    let err = dave.api.remove_member(&gid, &admin.id).await.unwrap_err();
    assert_eq!(err.code(), Some(confab_proto::ErrorCode::Forbidden), "only admins remove others");
}
