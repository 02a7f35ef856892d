//! Replies, edits, deletes for everyone and reactions over REST and WebSocket: who hears of a
//! change, what history and sync show afterwards, the refusals, and clients that push hard.

use confab_client::{ClientError, Connection, Timeline};
use confab_proto::frames::{MessageRefPayload, ReactionPayload};
use confab_proto::{ClientFrame, Content, ErrorCode, Message, ServerFrame, SyncCursor, SyncRequest};
use reqwest::Method;

use crate::harness::*;

/// The next `message.updated` this connection gets without a request id (a push, not a reply).
pub async fn next_update(conn: &mut Connection) -> Message {
    conn.wait_for(WAIT, "message.updated", |f| match &f.frame {
        ServerFrame::MessageUpdated(u) if f.id.is_none() => Some(u.message.clone()),
        _ => None,
    })
    .await
    .expect("message.updated arrives")
}

fn code(result: Result<impl std::fmt::Debug, ClientError>) -> ErrorCode {
    result.expect_err("refused").code().expect("a protocol error")
}

#[tokio::test]
async fn changes_reach_every_device_and_history_shows_the_current_state() {
    let server = TestServer::start().await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let (direct, _) = alice.api.open_direct(&bob.id).await.unwrap();
    let id = direct.conversation_id;
    let mut alice_ws = alice.connect("alice-laptop").await;
    let mut bob_phone = bob.connect("bob-phone").await;
    let mut bob_laptop = bob.connect("bob-laptop").await;

    alice_ws.send_text(&id, "m1", "helo").await.unwrap();
    // A reply over REST names the message and its sequence.
    let (ack, _) = bob.api.send_reply(&id, Some("r1"), text("hello to you"), Some("m1")).await.unwrap();
    assert_eq!(ack.sequence_number, 2);

    // An edit over WebSocket: the reply is `message.updated` (id echoed); every other device,
    // the editor's included, gets the same frame.
    let edited = alice_ws.edit(&id, "m1", text("hello")).await.unwrap();
    assert_eq!((edited.update_sequence, edited.content.clone()), (1, Content::Text { text: "hello".into() }));
    assert!(edited.edited_at.is_some());
    for device in [&mut bob_phone, &mut bob_laptop] {
        assert_eq!(next_update(device).await, edited);
    }
    // The same edit again changes nothing and tells no one.
    assert_eq!(alice.api.edit_message(&id, "m1", text("hello")).await.unwrap(), edited);

    // A reaction over REST, the emoji URL-encoded; the reactor's own devices hear of it too.
    let reacted = bob.api.react(&id, "m1", None, "👍🏽", true).await.unwrap();
    assert_eq!(reacted.update_sequence, 2, "the repeated edit took no update sequence");
    let reactions = reacted.reactions.clone().unwrap();
    assert_eq!((reactions[0].emoji.as_str(), reactions[0].count), ("👍🏽", 1));
    assert_eq!(reactions[0].user_ids, std::slice::from_ref(&bob.id));
    for device in [&mut alice_ws, &mut bob_phone, &mut bob_laptop] {
        assert_eq!(next_update(device).await, reacted);
    }
    assert_eq!(bob.api.react(&id, "m1", None, "👍🏽", true).await.unwrap(), reacted, "adding twice is a no-op");

    // A delete over WebSocket leaves a tombstone everywhere: frames, history, last message.
    let tombstone = alice_ws.delete(&id, "m1").await.unwrap();
    assert_eq!(
        (tombstone.deleted, tombstone.content.clone(), tombstone.reactions.clone()),
        (Some(true), Content::Deleted, None)
    );
    assert_eq!(next_update(&mut bob_phone).await, tombstone);
    let history = all_messages(&bob.api, &id).await;
    assert_eq!(history[0].content, Content::Deleted);
    assert_eq!(history[0].sequence_number, 1, "a tombstone keeps its place");
    assert_eq!((history[1].reply_to.as_deref(), history[1].reply_to_sequence), (Some("m1"), Some(1)));
    alice.api.delete_message(&id, "r1", None).await.expect_err("only the sender or an admin");
    bob.api.delete_message(&id, "r1", None).await.unwrap();
    let view = alice.api.conversation(&id).await.unwrap();
    assert_eq!(view.last_message.map(|m| m.deleted), Some(Some(true)));
    assert_eq!((view.last_update_sequence, view.first_sequence), (4, 1));
    // Nothing more happens to a tombstone, and deleting twice is answered with it.
    assert_eq!(code(bob.api.react(&id, "m1", None, "🎉", true).await), ErrorCode::MessageNotFound);
    assert_eq!(code(alice.api.edit_message(&id, "m1", text("back")).await), ErrorCode::MessageNotFound);
    assert_eq!(alice.api.delete_message(&id, "m1", None).await.unwrap().update_sequence, 3);
    server.shutdown().await;
}

#[tokio::test]
async fn bad_changes_are_refused_with_the_documented_codes() {
    let server = TestServer::start_with(|c| c.limits.max_text_bytes = 1_000).await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let eve = register(&server.url, "eve").await;
    let (direct, _) = alice.api.open_direct(&bob.id).await.unwrap();
    let id = direct.conversation_id;
    alice.api.send_message(&id, Some("m1"), text("hi")).await.unwrap();

    assert_eq!(code(alice.api.edit_message(&id, "nope", text("x")).await), ErrorCode::MessageNotFound);
    assert_eq!(code(bob.api.edit_message(&id, "m1", text("mine now")).await), ErrorCode::Forbidden);
    assert_eq!(code(eve.api.edit_message(&id, "m1", text("x")).await), ErrorCode::Forbidden);
    assert_eq!(code(eve.api.react(&id, "m1", None, "👍", true).await), ErrorCode::Forbidden);
    assert_eq!(code(eve.api.delete_message(&id, "m1", None).await), ErrorCode::Forbidden);
    assert_eq!(
        code(alice.api.edit_message("no-such", "m1", text("x")).await),
        ErrorCode::ConversationNotFound
    );
    assert_eq!(code(alice.api.edit_message(&id, "m1", text("   ")).await), ErrorCode::InvalidMessage);
    let deleted = serde_json::json!({"type": "deleted"});
    assert_eq!(code(alice.api.edit_message(&id, "m1", deleted).await), ErrorCode::InvalidMessage);
    assert_eq!(
        code(alice.api.edit_message(&id, "m1", text(&"x".repeat(1_001))).await),
        ErrorCode::PayloadTooLarge
    );
    for emoji in ["a b", "tab\there", &"x".repeat(65), "\u{3000}"] {
        assert_eq!(
            code(bob.api.react(&id, "m1", None, emoji, true).await),
            ErrorCode::InvalidRequest,
            "{emoji:?}"
        );
    }
    assert_eq!(
        code(bob.api.send_reply(&id, None, text("re"), Some("nowhere")).await),
        ErrorCode::InvalidMessage
    );
    // A body that is not an edit, and a PATCH without a body.
    let (status, body) = alice
        .api
        .raw(Method::PATCH, &format!("/api/v1/conversations/{id}/messages/m1"), Some("{}".into()))
        .await
        .unwrap();
    assert_eq!((status, body["error"].as_str()), (400, Some("INVALID_REQUEST")));

    // Over WebSocket the same refusals come as `error` frames carrying the request id.
    let mut bob_ws = bob.connect("b").await;
    let frame = ClientFrame::ReactionAdd(ReactionPayload {
        conversation_id: id.clone(),
        message_id: "m1".into(),
        emoji: "two words".into(),
        sender_id: None,
    });
    let request = bob_ws.send(frame).await.unwrap();
    match bob_ws.reply_to(&request).await.unwrap().frame {
        ServerFrame::Error(e) => assert_eq!(e.error, ErrorCode::InvalidRequest),
        other => panic!("expected an error, got {other:?}"),
    }
    let frame = ClientFrame::MessageDelete(MessageRefPayload {
        conversation_id: id.clone(),
        message_id: "m1".into(),
        sender_id: None,
    });
    let request = bob_ws.send(frame).await.unwrap();
    match bob_ws.reply_to(&request).await.unwrap().frame {
        ServerFrame::Error(e) => assert_eq!(e.error, ErrorCode::Forbidden),
        other => panic!("expected an error, got {other:?}"),
    }
    bob_ws.send_raw(r#"{"type":"message.edit","id":"x","payload":{"conversationId":"c"}}"#).await.unwrap();
    match bob_ws.reply_to("x").await.unwrap().frame {
        ServerFrame::Error(e) => assert_eq!(e.error, ErrorCode::InvalidRequest),
        other => panic!("expected an error, got {other:?}"),
    }
    assert_eq!(alice.api.conversation(&id).await.unwrap().last_update_sequence, 0, "nothing was changed");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_users_react_at_once_over_many_connections() {
    let server = TestServer::start().await;
    let owner = register(&server.url, "owner").await;
    let fans = register_many(&server.url, "fan", 30).await;
    let ids: Vec<String> = fans.iter().map(|f| f.id.clone()).collect();
    let group = owner.api.create_group("party", &ids, None).await.unwrap().conversation_id;
    owner.api.send_message(&group, Some("m"), text("react!")).await.unwrap();
    let mut watcher = owner.connect("owner").await;
    let mut conns = Vec::new();
    for fan in &fans {
        conns.push(fan.connect("d").await);
    }
    // Every fan sends two reactions and a repeat at once, each over their own connection.
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut conn| {
            let group = group.clone();
            tokio::spawn(async move {
                let a = conn.react(&group, "m", "👍", true).await.unwrap();
                let b = conn.react(&group, "m", "🔥", true).await.unwrap();
                let again = conn.react(&group, "m", "👍", true).await.unwrap();
                assert!(again.update_sequence >= b.update_sequence, "a repeat is the current state");
                [a.update_sequence, b.update_sequence]
            })
        })
        .collect();
    let mut taken = Vec::new();
    for task in tasks {
        taken.extend(task.await.unwrap());
    }
    taken.sort_unstable();
    assert_eq!(taken, (1..=60).collect::<Vec<u64>>(), "each change its own update sequence, no gap");
    // The owner's device saw all 60 changes, and the last state counts everyone once.
    let mut seen = Vec::new();
    while seen.len() < 60 {
        seen.push(next_update(&mut watcher).await.update_sequence);
    }
    seen.sort_unstable();
    assert_eq!(seen, taken);
    let m = &all_messages(&owner.api, &group).await[0];
    let mut counts: Vec<(String, u32, usize)> =
        m.reactions.clone().unwrap().into_iter().map(|r| (r.emoji, r.count, r.user_ids.len())).collect();
    counts.sort();
    assert_eq!(counts, [("👍".to_string(), 30, 20), ("🔥".to_string(), 30, 20)]);
    server.shutdown().await;
}

#[tokio::test]
async fn an_edit_storm_is_rate_limited_and_every_device_converges() {
    let server = TestServer::start_with(|c| {
        c.limits.user_messages_per_second = Some(1);
        c.limits.user_message_burst = Some(20);
    })
    .await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let (direct, _) = alice.api.open_direct(&bob.id).await.unwrap();
    let id = direct.conversation_id;
    alice.api.send_message(&id, Some("m"), text("v0")).await.unwrap();
    let mut alice_ws = alice.connect("a").await;
    let mut bob_ws = bob.connect("b").await;
    let mut live = Timeline::new();
    live.apply_sync(&bob.api.sync(&SyncRequest::default()).await.unwrap());
    let first = bob
        .api
        .sync(&SyncRequest { conversations: vec![SyncCursor::with_updates(id.clone(), 0, 0)], limit: None })
        .await
        .unwrap();
    live.apply_sync(&first);

    // 200 edits pipelined on one connection, without waiting for replies.
    let mut requests = Vec::new();
    for n in 1..=200 {
        let frame = ClientFrame::MessageEdit(confab_proto::frames::EditPayload {
            conversation_id: id.clone(),
            message_id: "m".into(),
            content: text(&format!("v{n}")),
        });
        requests.push((n, alice_ws.send(frame).await.unwrap()));
    }
    let mut last_accepted = None;
    let mut limited = 0;
    for (n, request) in requests {
        match alice_ws.reply_to(&request).await.unwrap().frame {
            ServerFrame::MessageUpdated(_) => last_accepted = Some(n),
            ServerFrame::Error(e) => {
                assert_eq!(e.error, ErrorCode::RateLimited);
                limited += 1;
            }
            other => panic!("unexpected reply {other:?}"),
        }
    }
    let last = last_accepted.expect("some edits were accepted");
    assert!(limited > 0, "a storm is rate-limited");
    let current = &all_messages(&bob.api, &id).await[0];
    assert_eq!(current.content, Content::Text { text: format!("v{last}") });
    let accepted = current.update_sequence;
    assert_eq!(accepted as usize, 200 - limited, "every accepted edit took one update sequence");

    // Bob's live device applies the frames as they come; an offline device syncs once.
    while live.conversation(&id).map(|c| c.messages[&1].update_sequence) != Some(accepted) {
        live.apply_frame(&ServerFrame::MessageUpdated(confab_proto::frames::MessageUpdatedPayload {
            message: next_update(&mut bob_ws).await,
        }));
    }
    let mut offline = Timeline::new();
    offline.apply_sync(
        &bob.api
            .sync(&SyncRequest {
                conversations: vec![SyncCursor::with_updates(id.clone(), 0, 0)],
                limit: None,
            })
            .await
            .unwrap(),
    );
    assert_eq!(live.conversation(&id).unwrap().messages, offline.conversation(&id).unwrap().messages);
    server.shutdown().await;
}

/// A device that was offline while messages were edited, deleted and reacted to converges, by one
/// sync from its cursors, to the same state as a device that was online throughout.
#[tokio::test]
async fn an_offline_device_converges_to_the_online_one() {
    let server = TestServer::start().await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let carol = register(&server.url, "carol").await;
    let group =
        alice.api.create_group("g", &[bob.id.clone(), carol.id.clone()], None).await.unwrap().conversation_id;
    for n in 1..=5 {
        alice.api.send_message(&group, Some(&format!("m{n}")), text(&format!("text {n}"))).await.unwrap();
    }
    // Both of Bob's devices start from the same sync.
    let start = bob
        .api
        .sync(&SyncRequest {
            conversations: vec![SyncCursor::with_updates(group.clone(), 0, 0)],
            limit: None,
        })
        .await
        .unwrap();
    let (mut online, mut offline) = (Timeline::new(), Timeline::new());
    online.apply_sync(&start);
    offline.apply_sync(&start);
    let mut online_ws = bob.connect("online").await;

    // Meanwhile: edits, a reply, reactions, deletes, by everyone, over both transports.
    let mut alice_ws = alice.connect("a").await;
    alice_ws.edit(&group, "m1", text("text 1, edited")).await.unwrap();
    carol.api.react(&group, "m2", None, "👀", true).await.unwrap();
    carol.api.send_reply(&group, Some("c1"), text("re: 3"), Some("m3")).await.unwrap();
    alice.api.delete_message(&group, "m4", None).await.unwrap();
    carol.api.react(&group, "m2", None, "👀", false).await.unwrap();
    carol.api.react(&group, "m5", None, "✅", true).await.unwrap();
    alice_ws.edit(&group, "m1", text("text 1, edited twice")).await.unwrap();
    alice.api.delete_message(&group, "c1", Some(&carol.id)).await.unwrap();
    let last_update = alice.api.conversation(&group).await.unwrap().last_update_sequence;
    assert_eq!(last_update, 7);

    // The online device applies what it was sent, until it has seen the last change.
    loop {
        let frame = online_ws.next_frame().await.unwrap().frame;
        online.apply_frame(&frame);
        let c = online.conversation(&group).unwrap();
        if c.last_update_sequence == last_update && c.last_sequence == 6 {
            break;
        }
    }
    // The offline device comes back and syncs from its cursors.
    let resumed = bob.api.sync(&SyncRequest { conversations: offline.cursors(), limit: None }).await.unwrap();
    let entry = &resumed.conversations[0];
    let changed: Vec<u64> = entry.updates.iter().flatten().map(|m| m.sequence_number).collect();
    assert_eq!(changed, [4, 2, 5, 1], "each changed message once, in update order");
    offline.apply_sync(&resumed);
    assert_eq!(offline.conversation(&group), online.conversation(&group));
    // And both agree with history.
    let history: Vec<Message> = all_messages(&bob.api, &group)
        .await
        .into_iter()
        .map(|mut m| {
            m.status = None;
            m
        })
        .collect();
    let held: Vec<Message> = offline.conversation(&group).unwrap().messages.values().cloned().collect();
    assert_eq!(held, history);
    server.shutdown().await;
}
