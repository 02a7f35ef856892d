//! Bad input of every kind gets its documented error, the connection survives where it can, and
//! other users are not affected.

use std::time::Duration;

use confab_client::{ClientError, Connection};
use confab_proto::{ErrorBody, ErrorCode, ServerFrame};
use reqwest::Method;
use serde_json::json;

use crate::harness::*;
use crate::messaging::collect_new;

fn mint(secret: &str, claims: serde_json::Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// The next `error` frame, with its request id.
async fn next_error(conn: &mut Connection) -> (Option<String>, ErrorBody) {
    conn.wait_for(WAIT, "error frame", |f| match &f.frame {
        ServerFrame::Error(body) => Some((f.id.clone(), body.clone())),
        _ => None,
    })
    .await
    .expect("error frame")
}

/// The connection still answers a heartbeat.
async fn still_open(conn: &mut Connection) {
    let id = conn.heartbeat().await.expect("send heartbeat");
    let reply = conn.reply_to(&id).await.expect("connection survives");
    assert!(matches!(reply.frame, ServerFrame::HeartbeatAck(_)));
}

#[tokio::test]
async fn rest_auth_failures_are_unauthorized() {
    let server = TestServer::start().await;
    let alice = register(&server.url, "alice").await;
    let anon = server.client();

    let (status, body) = anon.raw(Method::GET, "/api/v1/users/me", None).await.unwrap();
    assert_eq!((status, body["error"].as_str()), (401, Some("UNAUTHORIZED")));
    let err = anon.login("alice", "wrong password").await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Unauthorized));
    let err = anon.login("nobody", PASSWORD).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Unauthorized));
    assert_eq!(anon.login("ALICE", PASSWORD).await.unwrap().user_id, alice.id, "usernames ignore case");

    let expired = mint(SECRET, json!({"sub": alice.id, "exp": now_secs() - 120, "iss": "confab"}));
    let err = anon.with_token(&expired).me().await.unwrap_err();
    assert!(
        matches!(&err, ClientError::Api { status: 401, body } if body.message.contains("expired")),
        "{err}"
    );
    let forged =
        mint("some other secret", json!({"sub": alice.id, "exp": now_secs() + 600, "iss": "confab"}));
    let err = anon.with_token(&forged).me().await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Unauthorized));
    let err = anon.with_token("garbage").me().await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Unauthorized));

    // WebSocket: refused with 401 before the upgrade.
    for token in [expired.as_str(), forged.as_str(), ""] {
        let err = Connection::connect(&server.url, token, "d").await.err().expect("refused");
        assert!(matches!(&err, ClientError::Api { status: 401, .. }), "{err}");
    }
    assert_eq!(alice.api.me().await.unwrap().user.username, "alice");
}

#[tokio::test]
async fn registration_rules() {
    let server = TestServer::start().await;
    let anon = server.client();
    register(&server.url, "taken").await;
    assert_eq!(
        anon.register("Taken", PASSWORD, None).await.unwrap_err().code(),
        Some(ErrorCode::UsernameTaken)
    );
    assert_eq!(
        anon.register("ab", PASSWORD, None).await.unwrap_err().code(),
        Some(ErrorCode::InvalidRequest)
    );
    assert_eq!(
        anon.register("has space", PASSWORD, None).await.unwrap_err().code(),
        Some(ErrorCode::InvalidRequest)
    );
    assert_eq!(
        anon.register("shortpw", "short", None).await.unwrap_err().code(),
        Some(ErrorCode::InvalidRequest)
    );
    let (status, body) =
        anon.raw(Method::POST, "/api/v1/auth/register", Some("{\"username\": 5".into())).await.unwrap();
    assert_eq!((status, body["error"].as_str()), (400, Some("INVALID_REQUEST")));
    let (status, body) = anon
        .raw(Method::POST, "/api/v1/auth/register", Some(json!({"username": 1, "password": 2}).to_string()))
        .await
        .unwrap();
    assert_eq!((status, body["error"].as_str()), (400, Some("INVALID_REQUEST")));
}

#[tokio::test]
async fn application_minted_tokens_bring_their_own_users() {
    let server = TestServer::start().await;
    let token = mint(
        SECRET,
        json!({"sub": "app-user-1", "exp": now_secs() + 600, "username": "fromapp", "name": "From App"}),
    );
    let me = server.client().with_token(&token).me().await.unwrap().user;
    assert_eq!(
        (me.user_id.as_str(), me.username.as_str(), me.display_name.as_str()),
        ("app-user-1", "fromapp", "From App")
    );
    let mut ws = Connection::connect(&server.url, &token, "app-device").await.unwrap();
    still_open(&mut ws).await;
    let unknown = mint(SECRET, json!({"sub": "app-user-2", "exp": now_secs() + 600}));
    let err = server.client().with_token(&unknown).me().await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Unauthorized));
}

#[tokio::test]
async fn non_members_learn_nothing() {
    let server = TestServer::start().await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let eve = register(&server.url, "eve").await;
    let id = alice.api.open_direct(&bob.id).await.unwrap().0.conversation_id;
    alice.api.send_message(&id, None, text("private")).await.unwrap();

    for (status, body) in [
        eve.api.raw(Method::GET, &format!("/api/v1/conversations/{id}"), None).await.unwrap(),
        eve.api.raw(Method::GET, &format!("/api/v1/conversations/{id}/messages"), None).await.unwrap(),
        eve.api
            .raw(
                Method::POST,
                &format!("/api/v1/conversations/{id}/messages"),
                Some(json!({"content": {"type":"text","text":"hi"}}).to_string()),
            )
            .await
            .unwrap(),
        eve.api
            .raw(
                Method::POST,
                &format!("/api/v1/conversations/{id}/read"),
                Some(json!({"upToSequence": 1}).to_string()),
            )
            .await
            .unwrap(),
    ] {
        assert_eq!((status, body["error"].as_str()), (403, Some("FORBIDDEN")));
        assert!(!body["message"].as_str().unwrap().contains("private"));
    }
    let (status, body) =
        eve.api.raw(Method::GET, "/api/v1/conversations/does-not-exist", None).await.unwrap();
    assert_eq!((status, body["error"].as_str()), (404, Some("CONVERSATION_NOT_FOUND")));
    let (status, _) = eve.api.raw(Method::GET, "/api/v1/users/nobody", None).await.unwrap();
    assert_eq!(status, 404);

    let mut ws = eve.connect("d").await;
    let err = ws.send_text(&id, "eve-1", "let me in").await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Forbidden));
    still_open(&mut ws).await;
    let sync = eve
        .api
        .sync(&confab_proto::SyncRequest {
            conversations: vec![confab_proto::SyncCursor::new(id.clone(), 0)],
            limit: None,
        })
        .await
        .unwrap();
    assert!(sync.conversations.is_empty() && sync.new_conversations.is_empty());
    assert_eq!(bob.api.history(&id, None, None, None).await.unwrap().messages.len(), 1);
}

#[tokio::test]
async fn bad_frames_get_errors_and_the_connection_survives() {
    let server = TestServer::start().await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let id = alice.api.open_direct(&bob.id).await.unwrap().0.conversation_id;
    let mut ws = alice.connect("phone").await;
    let mut bob_ws = bob.connect("phone").await;

    ws.send_raw("{this is not json").await.unwrap();
    let (rid, body) = next_error(&mut ws).await;
    assert_eq!((rid, body.error), (None, ErrorCode::InvalidRequest));

    ws.send_raw(r#"{"type":"message.explode","id":"r1","payload":{}}"#).await.unwrap();
    let (rid, body) = next_error(&mut ws).await;
    assert_eq!((rid.as_deref(), body.error), (Some("r1"), ErrorCode::InvalidRequest));
    assert!(body.message.contains("unknown frame type"));

    ws.send_raw(r#"{"type":"message.send","id":"r2","payload":{"conversationId":42}}"#).await.unwrap();
    let (rid, body) = next_error(&mut ws).await;
    assert_eq!((rid.as_deref(), body.error), (Some("r2"), ErrorCode::InvalidRequest));

    let empty = ws.send_message(&id, "empty", json!({"type":"text","text":"   "})).await.unwrap_err();
    assert_eq!(empty.code(), Some(ErrorCode::InvalidMessage));
    let unknown = ws.send_message(&id, "vid", json!({"type":"video","url":"x"})).await.unwrap_err();
    assert_eq!(unknown.code(), Some(ErrorCode::InvalidMessage));
    let long = ws.send_text(&id, "long", &"x".repeat(16 * 1024 + 1)).await.unwrap_err();
    assert_eq!(long.code(), Some(ErrorCode::PayloadTooLarge));

    // Over the frame limit (64 KiB) but under the hard cap: refused, connection kept.
    let big = json!({"type":"message.send","id":"big","payload":{"conversationId":id,"content":{"type":"text","text":"y".repeat(70_000)}}});
    ws.send_raw(&big.to_string()).await.unwrap();
    let (rid, body) = next_error(&mut ws).await;
    assert_eq!((rid.as_deref(), body.error), (Some("big"), ErrorCode::PayloadTooLarge));
    still_open(&mut ws).await;

    // Nothing above was stored; the conversation works for both.
    let ack = ws.send_text(&id, "ok", "still here").await.unwrap();
    assert_eq!(ack.sequence_number, 1);
    assert_eq!(collect_new(&mut bob_ws, 1).await[0].message_id, "ok");

    // REST: the same rules.
    let path = format!("/api/v1/conversations/{id}/messages");
    for (body, status, code) in [
        ("{broken".to_string(), 400, "INVALID_REQUEST"),
        (json!({"content": "text"}).to_string(), 400, "INVALID_MESSAGE"),
        (json!({"content": {"type":"text","text":""}}).to_string(), 400, "INVALID_MESSAGE"),
        (json!({"content": {"type":"text","text":"z".repeat(20_000)}}).to_string(), 413, "PAYLOAD_TOO_LARGE"),
        (json!({"content": {"type":"text","text":"z".repeat(70_000)}}).to_string(), 413, "PAYLOAD_TOO_LARGE"),
        (json!({"messageId": 7, "content": {"type":"text","text":"x"}}).to_string(), 400, "INVALID_REQUEST"),
    ] {
        let (got_status, got) = alice.api.raw(Method::POST, &path, Some(body)).await.unwrap();
        assert_eq!((got_status, got["error"].as_str()), (status, Some(code)), "{got}");
    }
    let (status, got) = alice.api.raw(Method::GET, &format!("{path}?before=1&after=2"), None).await.unwrap();
    assert_eq!((status, got["error"].as_str()), (400, Some("INVALID_REQUEST")));
    let (status, got) = alice.api.raw(Method::GET, "/api/v1/nope", None).await.unwrap();
    assert_eq!((status, got["error"].as_str()), (404, Some("NOT_FOUND")));
    assert_eq!(bob.api.history(&id, None, None, None).await.unwrap().messages.len(), 1);
}

#[tokio::test]
async fn frames_beyond_the_hard_cap_close_only_that_connection() {
    let server = TestServer::start_with(|c| c.limits.max_frame_bytes = 1024).await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let id = alice.api.open_direct(&bob.id).await.unwrap().0.conversation_id;
    let mut ws = alice.connect("phone").await;
    let mut other = bob.connect("phone").await;
    // The server stops reading at the frame header and closes. The client sees the error frame and
    // the 1009 close, unless the kernel resets the connection first because the rest of the frame
    // was never read; either way this connection is over.
    let _ = ws.send_raw(&"x".repeat(64 * 1024)).await;
    let outcome = ws
        .wait_for(WAIT, "error frame", |f| match &f.frame {
            ServerFrame::Error(body) => Some(body.error),
            _ => None,
        })
        .await;
    match outcome {
        Ok(code) => {
            assert_eq!(code, ErrorCode::PayloadTooLarge);
            let closed = ws.wait_for(WAIT, "close", |_| None::<()>).await.unwrap_err();
            assert!(
                matches!(closed, ClientError::Closed(Some(1009)) | ClientError::WebSocket(_)),
                "{closed}"
            );
        }
        Err(e) => assert!(matches!(e, ClientError::WebSocket(_) | ClientError::Closed(Some(1009))), "{e}"),
    }
    let ack = other.send_text(&id, "fine", "unaffected").await.unwrap();
    assert_eq!(ack.sequence_number, 1);
}

#[tokio::test]
async fn sending_too_fast_is_rate_limited_with_retry_after() {
    let server = TestServer::start_with(|c| {
        c.limits.messages_per_second = 1;
        c.limits.message_burst = 3;
    })
    .await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let id = alice.api.open_direct(&bob.id).await.unwrap().0.conversation_id;
    let mut ws = alice.connect("phone").await;
    for i in 0..3 {
        ws.send_text(&id, &format!("ok{i}"), "fine").await.unwrap();
    }
    let err = ws.send_text(&id, "too-many", "slow down").await.unwrap_err();
    let ClientError::Api { body, .. } = err else { panic!("expected an error frame") };
    assert_eq!(body.error, ErrorCode::RateLimited);
    assert!(body.retry_after.unwrap_or(0) >= 1);
    still_open(&mut ws).await;
    for i in 0..3 {
        alice.api.send_message(&id, None, text(&format!("rest{i}"))).await.unwrap();
    }
    let (status, body) = alice
        .api
        .raw(
            Method::POST,
            &format!("/api/v1/conversations/{id}/messages"),
            Some(json!({"content": {"type":"text","text":"x"}}).to_string()),
        )
        .await
        .unwrap();
    assert_eq!((status, body["error"].as_str()), (429, Some("RATE_LIMITED")));
    assert!(body["retryAfter"].as_u64().unwrap_or(0) >= 1);
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_three_heartbeat_intervals() {
    let server = TestServer::start_with(|c| c.heartbeat_interval = Duration::from_millis(100)).await;
    let alice = register(&server.url, "alice").await;
    let mut quiet = alice.connect("quiet").await;
    assert_eq!(quiet.connected.heartbeat_interval, 100);
    let mut chatty = alice.connect("chatty").await;
    let quiet_closed = async { quiet.wait_for(WAIT, "close", |_| None::<()>).await.unwrap_err() };
    // Meanwhile a client that heartbeats stays connected well past the timeout.
    let chatty_lives = async {
        for _ in 0..8 {
            tokio::time::sleep(Duration::from_millis(60)).await;
            still_open(&mut chatty).await;
        }
    };
    let (closed, ()) = tokio::join!(quiet_closed, chatty_lives);
    assert!(matches!(closed, ClientError::Closed(Some(4000))), "{closed}");
}
