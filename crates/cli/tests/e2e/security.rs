//! Defences of the account endpoints, over real HTTP: login throttling, the password policy, and
//! message traffic staying prompt while a login flood waits for password hashing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use confab_proto::ErrorCode;
use reqwest::Method;
use serde_json::json;
use tokio::sync::Notify;

use crate::harness::{register, TestServer, WAIT};

async fn login_raw(server: &TestServer, username: &str, password: &str) -> (u16, serde_json::Value) {
    let body = json!({"username": username, "password": password}).to_string();
    server.client().raw(Method::POST, "/api/v1/auth/login", Some(body)).await.expect("login answered")
}

#[tokio::test]
async fn guessing_one_password_is_throttled_with_retry_after() {
    let server = TestServer::start_with(|c| c.auth.login_failures_per_account = 5).await;
    register(&server.url, "alice").await;
    for username in ["alice", "nobody"] {
        // Six guesses at once: five are checked, the sixth is refused (it arrives within the
        // one-second wait the fifth started).
        let guesses = (0..6).map(|_| login_raw(&server, username, "wrong horse battery"));
        let mut answers = futures_util::future::join_all(guesses).await;
        answers.sort_by_key(|(status, _)| *status);
        for (status, body) in &answers[..5] {
            assert_eq!((*status, body["error"].as_str()), (401, Some("UNAUTHORIZED")), "{username}");
        }
        let (status, body) = &answers[5];
        assert_eq!((*status, body["error"].as_str()), (429, Some("RATE_LIMITED")), "{username}: {body}");
        assert_eq!(body["retryAfter"], 1, "{username}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn registration_names_the_password_rule_that_failed() {
    let server = TestServer::start().await;
    let anon = server.client();
    for (password, rule) in [("12345678", "too easy to guess"), ("        ", "only spaces")] {
        let err = anon.register("mallory", password, None).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::InvalidRequest));
        assert!(err.to_string().contains(rule), "{password:?}: {err}");
    }
    let err =
        anon.register("mallory", "e2e-correct-horse-42", Some("evil\u{202E}txt.exe")).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidRequest), "{err}");
    server.shutdown().await;
}

/// With one hashing thread and dozens of logins queued for it, a message sent over WebSocket is
/// acknowledged before the queued logins are through: hashing never holds up the async runtime
/// (this test's runtime has a single thread, shared with the server).
#[tokio::test]
async fn messages_are_acknowledged_while_logins_wait_for_hashing() {
    const LOGINS: usize = 48;
    let server = TestServer::start_with(|c| {
        c.auth.hash_workers = 1;
        c.auth.hash_queue = 256;
    })
    .await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let (conversation, _) = alice.api.open_direct(&bob.id).await.expect("direct conversation");
    let mut ws = alice.connect("alice-phone").await;

    let finished = Arc::new(AtomicUsize::new(0));
    let first_done = Arc::new(Notify::new());
    let mut logins = Vec::new();
    for i in 0..LOGINS {
        let (client, finished, first_done) = (server.client(), finished.clone(), first_done.clone());
        logins.push(tokio::spawn(async move {
            let refused = client.login(&format!("guesser{i}"), "wrong horse battery").await.unwrap_err();
            assert_eq!(refused.code(), Some(ErrorCode::Unauthorized), "{refused}");
            finished.fetch_add(1, Ordering::SeqCst);
            first_done.notify_one();
        }));
    }
    // Hashing is under way (and the rest of the flood has arrived behind it).
    tokio::time::timeout(WAIT, first_done.notified()).await.expect("a login is answered");
    let ack = tokio::time::timeout(WAIT, ws.send_text(&conversation.conversation_id, "m1", "still here"))
        .await
        .expect("ack in time")
        .expect("message accepted");
    let done = finished.load(Ordering::SeqCst);
    assert!(done < LOGINS, "the ack (seq {}) waited for all {LOGINS} logins", ack.sequence_number);
    for login in logins {
        login.await.expect("login task");
    }
    server.shutdown().await;
}
