//! Blocking users, as users see it: what a block stops (direct messages both ways, opening the
//! conversation, presence and typing between the two), what it leaves alone (groups), and hostile
//! requests (storms, unknown and oversized ids).

use std::time::Duration;

use confab_client::{ClientError, Connection};
use confab_proto::frames::{ConversationRef, PresenceSubscribePayload};
use confab_proto::{ClientFrame, ErrorCode, PresenceStatus, ServerFrame};
use reqwest::Method;

use crate::harness::*;
use crate::messaging::collect_new;
use crate::realtime::{connect_watching, presence_of};

fn forbidden(e: ClientError, message: &str) {
    match e {
        ClientError::Api { status, body } => {
            assert_eq!((status, body.error, body.message.as_str()), (403, ErrorCode::Forbidden, message));
        }
        other => panic!("expected 403 FORBIDDEN, got {other}"),
    }
}

const BLOCKED: &str = "you cannot message this user";
const BLOCKER: &str = "you blocked this user; unblock them to send messages";

#[tokio::test]
async fn a_block_stops_direct_messages_both_ways_until_lifted() {
    let server = TestServer::start().await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let (direct, _) = alice.api.open_direct(&bob.id).await.unwrap();
    let direct = direct.conversation_id;
    let group = alice.api.create_group("both", std::slice::from_ref(&bob.id), None).await.unwrap();
    let mut alice_ws = alice.connect("alice-laptop").await;
    let mut bob_ws = bob.connect("bob-phone").await;

    alice.api.block_user(&bob.id).await.unwrap();
    alice.api.block_user(&bob.id).await.expect("blocking again is fine");
    let blocks = alice.api.blocks().await.unwrap();
    assert_eq!(blocks.len(), 1);
    assert_eq!((blocks[0].user.user_id.as_str(), blocks[0].user.username.as_str()), (bob.id.as_str(), "bob"));
    assert!(bob.api.blocks().await.unwrap().is_empty(), "the blocked user's list is their own");

    forbidden(bob_ws.send_text(&direct, "b1", "hello?").await.unwrap_err(), BLOCKED);
    forbidden(bob.api.send_message(&direct, Some("b2"), text("hello??")).await.unwrap_err(), BLOCKED);
    forbidden(bob.api.open_direct(&alice.id).await.unwrap_err(), BLOCKED);
    forbidden(alice_ws.send_text(&direct, "a1", "go away").await.unwrap_err(), BLOCKER);
    let (again, created) = alice.api.open_direct(&bob.id).await.expect("the blocker may open it");
    assert_eq!((again.conversation_id.as_str(), created), (direct.as_str(), false));

    // Groups are not affected.
    bob_ws.send_text(&group.conversation_id, "g1", "in the group").await.unwrap();
    let got = collect_new(&mut alice_ws, 1).await;
    assert_eq!(
        (got[0].conversation_id.as_str(), got[0].message_id.as_str()),
        (group.conversation_id.as_str(), "g1")
    );

    alice.api.unblock_user(&bob.id).await.unwrap();
    alice.api.unblock_user(&bob.id).await.expect("unblocking again is fine");
    assert!(alice.api.blocks().await.unwrap().is_empty());
    bob_ws.send_text(&direct, "b3", "sorry").await.unwrap();
    let got = collect_new(&mut alice_ws, 1).await;
    assert_eq!((got[0].conversation_id.as_str(), got[0].message_id.as_str()), (direct.as_str(), "b3"));
    alice_ws.send_text(&direct, "a2", "fine").await.unwrap();
    server.shutdown().await;
}

/// Everything `conn` was told about `user` (presence or typing) up to the answer to a heartbeat
/// sent now: anything about them would have been queued to this connection before that answer.
async fn told_about(conn: &mut Connection, user: &str) -> Vec<ServerFrame> {
    let rid = conn.heartbeat().await.unwrap();
    conn.reply_to(&rid).await.unwrap();
    let mut told = Vec::new();
    while let Ok(f) = conn
        .wait_for(Duration::from_millis(1), "a frame about the user", |f| match &f.frame {
            ServerFrame::PresenceUpdate(p) if p.user_id == user => Some(f.frame.clone()),
            ServerFrame::PresenceBulk(b) if b.presences.iter().any(|p| p.user_id == user) => {
                Some(f.frame.clone())
            }
            ServerFrame::TypingUpdate(t) if t.user_id == user => Some(f.frame.clone()),
            _ => None,
        })
        .await
    {
        told.push(f);
    }
    told
}

#[tokio::test]
async fn a_block_ends_presence_and_direct_typing_between_the_two() {
    let server = TestServer::start_with(|c| c.presence_throttle = Duration::from_millis(20)).await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let carol = register(&server.url, "carol").await;
    let direct = alice.api.open_direct(&bob.id).await.unwrap().0.conversation_id;
    let members = [bob.id.clone(), carol.id.clone()];
    let group = alice.api.create_group("all three", &members, None).await.unwrap().conversation_id;
    let (mut alice_ws, bulk) = connect_watching(&alice, "alice").await;
    assert!(bulk.iter().any(|p| p.user_id == bob.id), "contacts before the block");
    let (mut carol_ws, _) = connect_watching(&carol, "carol").await;
    let (mut bob_ws, _) = connect_watching(&bob, "bob").await;
    assert_eq!(presence_of(&mut alice_ws, &bob.id).await.status, PresenceStatus::Online);
    assert_eq!(presence_of(&mut carol_ws, &bob.id).await.status, PresenceStatus::Online);

    // On the node that stores the block, the watches between the two end before it is answered.
    bob.api.block_user(&alice.id).await.unwrap();
    told_about(&mut alice_ws, &bob.id).await;
    told_about(&mut bob_ws, &alice.id).await;
    // Typing in the direct conversation goes nowhere, either way; in the group it still arrives.
    for ws in [&mut alice_ws, &mut bob_ws] {
        ws.send(ClientFrame::TypingStart(ConversationRef { conversation_id: direct.clone() })).await.unwrap();
    }
    let told = told_about(&mut alice_ws, &bob.id).await;
    assert!(told.is_empty(), "{told:?}");
    let told = told_about(&mut bob_ws, &alice.id).await;
    assert!(told.is_empty(), "{told:?}");
    bob_ws.send(ClientFrame::TypingStart(ConversationRef { conversation_id: group.clone() })).await.unwrap();
    for ws in [&mut alice_ws, &mut carol_ws] {
        ws.wait_for(WAIT, "typing in the group", |f| match &f.frame {
            ServerFrame::TypingUpdate(t) if t.user_id == bob.id && t.conversation_id == group => Some(()),
            _ => None,
        })
        .await
        .unwrap();
    }
    // Presence: Bob going offline reaches Carol, not Alice; asking is answered as for a stranger,
    // and reconnecting does not make them contacts again.
    bob_ws.close().await.unwrap();
    assert_eq!(presence_of(&mut carol_ws, &bob.id).await.status, PresenceStatus::Offline);
    let told = told_about(&mut alice_ws, &bob.id).await;
    assert!(told.is_empty(), "{told:?}");
    let rid = alice_ws
        .send(ClientFrame::PresenceSubscribe(PresenceSubscribePayload { user_ids: vec![bob.id.clone()] }))
        .await
        .unwrap();
    let ServerFrame::PresenceBulk(b) = alice_ws.reply_to(&rid).await.unwrap().frame else { panic!("bulk") };
    assert!(b.presences.is_empty(), "{b:?}");
    let (_bob_again, bulk) = connect_watching(&bob, "bob-again").await;
    assert!(bulk.iter().all(|p| p.user_id != alice.id), "not a contact on connect either: {bulk:?}");
    assert!(bulk.iter().any(|p| p.user_id == carol.id));
    server.shutdown().await;
}

#[tokio::test]
async fn hostile_block_requests_are_refused_and_storms_end_consistent() {
    let server = TestServer::start().await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let path = |id: &str| format!("/api/v1/users/me/blocks/{id}");
    let code = |r: (u16, serde_json::Value)| (r.0, r.1["error"].as_str().unwrap_or("").to_string());

    let me = alice.api.raw(Method::PUT, &path(&alice.id), None).await.unwrap();
    assert_eq!(code(me), (400, "INVALID_REQUEST".into()), "blocking yourself");
    for method in [Method::PUT, Method::DELETE] {
        let ghost = alice.api.raw(method.clone(), &path("no-such-user"), None).await.unwrap();
        assert_eq!(code(ghost), (404, "USER_NOT_FOUND".into()));
        let huge = alice.api.raw(method.clone(), &path(&"x".repeat(4096)), None).await.unwrap();
        assert_eq!(code(huge), (400, "INVALID_REQUEST".into()), "an id no user can have");
        let anonymous = server.client().raw(method, &path(&bob.id), None).await.unwrap();
        assert_eq!(code(anonymous), (401, "UNAUTHORIZED".into()));
    }
    let wrong = alice.api.raw(Method::POST, &path(&bob.id), None).await.unwrap();
    assert_eq!(code(wrong), (405, "INVALID_REQUEST".into()));
    assert!(alice.api.blocks().await.unwrap().is_empty(), "refusals stored nothing");

    // A storm of interleaved blocks and unblocks: every request is answered 204, and the last
    // word (sent after the storm) decides.
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let api = alice.api.clone();
            let bob = bob.id.clone();
            tokio::spawn(async move {
                if i % 2 == 0 {
                    api.block_user(&bob).await
                } else {
                    api.unblock_user(&bob).await
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().expect("every request of the storm is answered");
    }
    alice.api.block_user(&bob.id).await.unwrap();
    assert_eq!(alice.api.blocks().await.unwrap().len(), 1);
    let direct = bob.api.open_direct(&alice.id).await.unwrap_err();
    forbidden(direct, BLOCKED);
    alice.api.unblock_user(&bob.id).await.unwrap();
    assert!(alice.api.blocks().await.unwrap().is_empty());
    bob.api.open_direct(&alice.id).await.expect("unblocked");
    server.shutdown().await;
}
