//! Sessions over real HTTP and WebSocket: logout, logout-all, password changes and profile edits.

use confab_client::{ClientError, Connection};
use confab_proto::{ErrorCode, ServerFrame};

use crate::harness::{register, TestServer, PASSWORD, WAIT};

/// Waits for the server to close `conn` and returns the close code.
pub(crate) async fn closed_with(conn: &mut Connection) -> Option<u16> {
    match conn.wait_for(WAIT, "the server to close the socket", |_| None::<()>).await {
        Err(ClientError::Closed(code)) => code,
        other => panic!("expected the socket to be closed, got {other:?}"),
    }
}

/// A heartbeat is answered: the socket is open.
pub(crate) async fn still_open(conn: &mut Connection) {
    let id = conn.heartbeat().await.expect("send heartbeat");
    let reply = conn.reply_to(&id).await.expect("connection survives");
    assert!(matches!(reply.frame, ServerFrame::HeartbeatAck(_)));
}

pub(crate) fn refused(err: ClientError) -> bool {
    matches!(&err, ClientError::Api { status: 401, body } if body.error == ErrorCode::Unauthorized)
}

#[tokio::test]
async fn logout_refuses_the_token_everywhere_and_closes_its_socket() {
    let server = TestServer::start().await;
    let alice = register(&server.url, "alice").await;
    let other = server.client().login("alice", PASSWORD).await.unwrap();
    let other_api = server.client().with_token(&other.token);
    let mut phone = alice.connect("phone").await;
    let mut laptop = Connection::connect(&server.url, &other.token, "laptop").await.unwrap();

    alice.api.logout().await.unwrap();
    assert_eq!(closed_with(&mut phone).await, Some(4003));
    assert!(refused(alice.api.me().await.unwrap_err()));
    assert!(refused(alice.api.logout().await.unwrap_err()), "logging out again: already refused");
    let upgrade = Connection::connect(&server.url, &alice.token, "phone").await.err().expect("refused");
    assert!(refused(upgrade));

    // The other session is untouched.
    assert_eq!(other_api.me().await.unwrap().user.user_id, alice.id);
    still_open(&mut laptop).await;
    server.shutdown().await;
}

#[tokio::test]
async fn logout_all_closes_every_device() {
    let server = TestServer::start().await;
    let alice = register(&server.url, "alice").await;
    let other = server.client().login("alice", PASSWORD).await.unwrap();
    let mut phone = alice.connect("phone").await;
    let mut laptop = Connection::connect(&server.url, &other.token, "laptop").await.unwrap();

    server.client().with_token(&other.token).logout_all().await.unwrap();
    assert_eq!(closed_with(&mut phone).await, Some(4003));
    assert_eq!(closed_with(&mut laptop).await, Some(4003));
    for token in [&alice.token, &other.token] {
        assert!(refused(server.client().with_token(token).me().await.unwrap_err()));
    }
    let again = server.client().login("alice", PASSWORD).await.unwrap();
    assert_eq!(server.client().with_token(&again.token).me().await.unwrap().user.user_id, alice.id);
    server.shutdown().await;
}

#[tokio::test]
async fn a_password_change_revokes_the_other_sessions_and_the_new_password_logs_in() {
    let server = TestServer::start().await;
    let alice = register(&server.url, "alice").await;
    let other = server.client().login("alice", PASSWORD).await.unwrap();
    let mut mine = alice.connect("mine").await;
    let mut theirs = Connection::connect(&server.url, &other.token, "theirs").await.unwrap();
    const NEW: &str = "e2e-new-battery-staple-7";

    let wrong = alice.api.change_password("not-the-password-1", NEW).await.unwrap_err();
    assert!(refused(wrong));
    let weak = alice.api.change_password(PASSWORD, "12345678").await.unwrap_err();
    assert_eq!(weak.code(), Some(ErrorCode::InvalidRequest), "{weak}");

    alice.api.change_password(PASSWORD, NEW).await.unwrap();
    assert_eq!(closed_with(&mut theirs).await, Some(4003));
    assert!(refused(server.client().with_token(&other.token).me().await.unwrap_err()));
    assert_eq!(alice.api.me().await.unwrap().user.user_id, alice.id, "the caller's token stays valid");
    still_open(&mut mine).await;
    let old = server.client().login("alice", PASSWORD).await.unwrap_err();
    assert_eq!(old.code(), Some(ErrorCode::Unauthorized));
    assert_eq!(server.client().login("alice", NEW).await.unwrap().user_id, alice.id);
    server.shutdown().await;
}

#[tokio::test]
async fn a_new_display_name_is_validated_and_seen_by_others() {
    let server = TestServer::start().await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let renamed = alice.api.update_profile(Some("  Alice   Liddell "), None).await.unwrap();
    assert_eq!(
        (renamed.user.user_id.as_str(), renamed.user.display_name.as_str()),
        (alice.id.as_str(), "Alice Liddell")
    );
    assert_eq!(bob.api.user(&alice.id).await.unwrap().display_name, "Alice Liddell");
    let err = alice.api.update_profile(Some("evil\u{202E}txt.exe"), None).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidRequest), "{err}");
    assert_eq!(alice.api.me().await.unwrap().user.display_name, "Alice Liddell", "unchanged by the refusal");
    server.shutdown().await;
}
