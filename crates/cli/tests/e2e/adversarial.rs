//! Attacks on a running server, each as a bounded test that fails on the behaviour it defends
//! against. Those tested elsewhere are indexed in docs/security.md ("Adversarial tests"); the ones
//! here had no end-to-end test of their own: presence watch growth, one user multiplying the send
//! rate, typing amplification, login timing, registration floods and large numeric frame ids.

use std::time::Instant;

use confab_client::{ClientError, Connection};
use confab_proto::frames::{ConversationRef, PresenceSubscribePayload, SendPayload};
use confab_proto::{ClientFrame, ErrorCode, ServerFrame};
use reqwest::Method;
use serde_json::json;

use crate::harness::*;
use crate::realtime::connect_watching;

/// Attack 5: a connection subscribing to presence over and over, or to more users than the cap.
/// Repeats add nothing (the same users 30 times stay within a cap of 5); more distinct users than
/// the cap are refused.
#[tokio::test]
async fn presence_subscriptions_cannot_grow_past_the_watch_cap() {
    let server = TestServer::start_with(|c| c.limits.presence_watch_cap = 5).await;
    let bob = register(&server.url, "bob").await;
    let others = register_many(&server.url, "contact", 6).await;
    let ids: Vec<String> = others.iter().map(|u| u.id.clone()).collect();
    bob.api.create_group("six contacts", &ids, None).await.expect("group");

    let (mut conn, watched) = connect_watching(&bob, "phone").await;
    assert_eq!(watched.len(), 5, "contacts are watched on connect up to the cap");
    let watched: Vec<String> = watched.into_iter().map(|p| p.user_id).collect();
    let subscribe =
        |user_ids: Vec<String>| ClientFrame::PresenceSubscribe(PresenceSubscribePayload { user_ids });
    for _ in 0..30 {
        let rid = conn.send(subscribe([watched.clone(), watched.clone()].concat())).await.unwrap();
        match conn.reply_to(&rid).await.expect("reply").frame {
            ServerFrame::PresenceBulk(bulk) => assert_eq!(bulk.presences.len(), 5),
            other => panic!("a repeated subscription was refused: {other:?}"),
        }
    }
    let rid = conn.send(subscribe(ids)).await.unwrap();
    match conn.reply_to(&rid).await.expect("reply").frame {
        ServerFrame::Error(body) => assert_eq!(body.error, ErrorCode::InvalidRequest, "{body:?}"),
        other => panic!("a sixth watched user was accepted: {other:?}"),
    }
    server.shutdown().await;
}

/// Sends `n` messages at once on `conn` and counts those acknowledged; every other answer must be
/// `RATE_LIMITED`.
async fn acknowledged(conn: &mut Connection, conversation: &str, prefix: &str, n: usize) -> usize {
    let mut requests = Vec::new();
    for i in 0..n {
        let payload = SendPayload {
            message_id: Some(format!("{prefix}-{i}")),
            conversation_id: conversation.to_string(),
            content: text("x"),
            reply_to: None,
            expires_in_seconds: None,
        };
        requests.push(conn.send(ClientFrame::MessageSend(payload)).await.expect("send"));
    }
    let mut acked = 0;
    for rid in requests {
        match conn.reply_to(&rid).await.expect("reply").frame {
            ServerFrame::MessageAck(_) => acked += 1,
            ServerFrame::Error(body) => assert_eq!(body.error, ErrorCode::RateLimited, "{body:?}"),
            other => panic!("unexpected {other:?}"),
        }
    }
    acked
}

/// Attack 6: one user multiplying the send rate with connections, devices and REST. The device's
/// budget (burst 10, 1/s) is shared by its two connections, and the user's (burst 15, 1/s) by every
/// device and REST. Bounds allow one refill per second the test takes; without the shared
/// limiters 20, then 40 sends would get through.
#[tokio::test]
async fn one_user_cannot_multiply_the_send_rate_with_connections_devices_or_rest() {
    let server = TestServer::start_with(|c| {
        c.limits.messages_per_second = 1;
        c.limits.message_burst = 10;
        c.limits.user_messages_per_second = Some(1);
        c.limits.user_message_burst = Some(15);
    })
    .await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let conversation = alice.api.open_direct(&bob.id).await.unwrap().0.conversation_id;
    let (mut first, mut second) = (alice.connect("laptop").await, alice.connect("laptop").await);
    let started = Instant::now();
    let refills = || started.elapsed().as_secs() as usize + 1;

    let one_device = acknowledged(&mut first, &conversation, "a", 10).await
        + acknowledged(&mut second, &conversation, "b", 10).await;
    assert!((10..=10 + refills()).contains(&one_device), "one device's two connections sent {one_device}");

    let mut phone = alice.connect("phone").await;
    let mut total = one_device + acknowledged(&mut phone, &conversation, "c", 10).await;
    let mut refusal = None;
    for i in 0..10 {
        match alice.api.send_message(&conversation, Some(&format!("rest-{i}")), text("x")).await {
            Ok(_) => total += 1,
            Err(ClientError::Api { status, body }) => refusal = Some((status, body)),
            Err(e) => panic!("{e}"),
        }
    }
    assert!(total <= 15 + refills(), "one user sent {total} over two devices and REST");
    let (status, body) = refusal.expect("REST is limited with the user's devices");
    assert_eq!((status, body.error), (429, ErrorCode::RateLimited));
    assert!(body.retry_after.is_some_and(|s| s >= 1), "{body:?}");
    server.shutdown().await;
}

/// Attack 7: typing amplification. Alice toggles typing 100 times as fast as she can; Bob gets
/// about one `typing.update` a second instead of one per toggle. In a group above the typing
/// fan-out limit nobody gets any.
#[tokio::test]
async fn toggling_typing_is_coalesced_and_large_groups_get_none() {
    let server = TestServer::start_with(|c| c.limits.typing_fanout_limit = 2).await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let carol = register(&server.url, "carol").await;
    let direct = alice.api.open_direct(&bob.id).await.unwrap().0.conversation_id;
    let members = [bob.id.clone(), carol.id.clone()];
    let group = alice.api.create_group("three", &members, None).await.unwrap().conversation_id;
    let mut bob_ws = bob.connect("phone").await;
    let mut alice_ws = alice.connect("laptop").await;

    let started = Instant::now();
    for conversation in [&direct, &group] {
        for _ in 0..50 {
            let at = || ConversationRef { conversation_id: conversation.clone() };
            alice_ws.send(ClientFrame::TypingStart(at())).await.unwrap();
            alice_ws.send(ClientFrame::TypingStop(at())).await.unwrap();
        }
        let rid = alice_ws.heartbeat().await.unwrap();
        alice_ws.reply_to(&rid).await.expect("every toggle was handled");
        alice_ws.send_text(conversation, &format!("after-{conversation}"), "done").await.unwrap();
    }
    // Everything Bob is told up to Alice's last message, which she sent after all her toggles.
    let (mut direct_updates, mut group_updates, mut messages) = (0, 0, 0);
    while messages < 2 {
        match bob_ws.next_frame().await.expect("frames").frame {
            ServerFrame::TypingUpdate(t) if t.conversation_id == direct => direct_updates += 1,
            ServerFrame::TypingUpdate(_) => group_updates += 1,
            ServerFrame::MessageNew(_) => messages += 1,
            _ => {}
        }
    }
    let seconds = started.elapsed().as_secs() as usize + 1;
    assert!((1..=2 * seconds).contains(&direct_updates), "{direct_updates} updates for 100 toggles");
    assert_eq!(group_updates, 0, "a group over the typing fan-out limit got typing updates");
    server.shutdown().await;
}

/// The value of a counter in Prometheus text.
fn counter(metrics: &str, name: &str) -> u64 {
    metrics.lines().find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok()).map_or(0, |v| v as u64)
}

/// Attack 8: telling which usernames exist by how long a failed login takes. Every failed login
/// costs exactly one password verification (counted by the server's own process in `/metrics`),
/// whether the user exists, exists without a password (provisioned by an application token), or
/// does not exist at all; and the answers are identical.
#[tokio::test]
async fn failed_logins_cost_one_verification_whoever_is_asked() {
    let (_dir, data_dir) = temp_path();
    let server = ServerProcess::spawn(&data_dir);
    let http = reqwest::Client::new();
    let verifications = || async {
        let metrics = http.get(format!("{}/metrics", server.url)).send().await.unwrap().text().await.unwrap();
        counter(&metrics, "confab_password_verifications_total")
    };
    register(&server.url, "alice").await;
    let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 600;
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": "app-user", "exp": exp, "username": "appuser"}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    confab_client::Client::new(&server.url).with_token(&token).me().await.expect("provisioned");

    let anon = confab_client::Client::new(&server.url);
    let mut answers = Vec::new();
    for username in ["alice", "nobody", "appuser"] {
        let before = verifications().await;
        let body = json!({"username": username, "password": "wrong horse battery"}).to_string();
        answers.push(anon.raw(Method::POST, "/api/v1/auth/login", Some(body)).await.unwrap());
        assert_eq!(verifications().await, before + 1, "{username}: one verification, as for a known user");
    }
    assert_eq!(answers[0].0, 401);
    assert!(answers.iter().all(|a| a == &answers[0]), "the answers differ: {answers:?}");
}

/// Attack 9 (registration side): mass registration from one address is refused with `429` and
/// `retryAfter`; input refused by validation does not use the budget.
#[tokio::test]
async fn registrations_from_one_address_are_throttled_with_retry_after() {
    let server = TestServer::start_with(|c| c.auth.registrations_per_address = 2).await;
    let anon = server.client();
    let weak = anon.register("weakling", "12345678", None).await.unwrap_err();
    assert_eq!(weak.code(), Some(ErrorCode::InvalidRequest));
    register(&server.url, "first").await;
    register(&server.url, "second").await;
    let body = json!({"username": "third", "password": PASSWORD}).to_string();
    let (status, body) = anon.raw(Method::POST, "/api/v1/auth/register", Some(body)).await.unwrap();
    assert_eq!((status, body["error"].as_str()), (429, Some("RATE_LIMITED")), "{body}");
    assert!(body["retryAfter"].as_u64().is_some_and(|s| s >= 1), "{body}");
    server.shutdown().await;
}

/// Attack 13: a numeric request id beyond 2^53 (where a double rounds it) is echoed digit for
/// digit, on a reply and on an error.
#[tokio::test]
async fn numeric_frame_ids_beyond_2_pow_53_are_echoed_exactly() {
    let server = TestServer::start().await;
    let alice = register(&server.url, "alice").await;
    let mut ws = alice.connect("phone").await;
    for (frame, id) in [
        (r#"{"type":"heartbeat","id":9007199254740993}"#, "9007199254740993"),
        (r#"{"type":"no.such.frame","id":123456789012345678901234567891}"#, "123456789012345678901234567891"),
    ] {
        ws.send_raw(frame).await.unwrap();
        let reply = ws.reply_to(id).await.expect("a reply carrying the id as sent");
        let expected_error = frame.contains("no.such.frame");
        assert_eq!(matches!(reply.frame, ServerFrame::Error(_)), expected_error, "{:?}", reply.frame);
    }
    server.shutdown().await;
}
