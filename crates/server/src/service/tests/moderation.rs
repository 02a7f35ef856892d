//! Bans and the moderation log, driven through the services: which calls a ban refuses, which
//! sockets it closes, and changes written straight to the store (as `confab admin` does) reaching
//! the node through the log.

use confab_core::moderation::NewBan;
use confab_proto::{BanRequest, ReportRequest};

use super::*;
use crate::config::ModerationConfig;
use crate::hub::ConnectionHandle;
use crate::outbox::CloseReason;

fn config() -> ServerConfig {
    let moderation = ModerationConfig { admin_users: vec!["root".into()], ..ModerationConfig::default() };
    ServerConfig { moderation, ..auth_config(|_| {}) }
}

/// Registers a connection opened with `token`, as the WebSocket upgrade would; returns its outbox.
async fn socket(t: &TestApp, token: &str, id: &str) -> Outbox {
    let me = t.app.accounts().authenticate_session(token).await.unwrap();
    let (outbox, _rx) = Outbox::new(8);
    t.app
        .connections()
        .register(&me.user_id, ConnectionHandle::new(id.into(), outbox.clone(), Arc::new(me.session), id));
    outbox
}

fn banned<T: std::fmt::Debug>(r: Result<T, Error>) -> bool {
    matches!(r, Err(Error::Banned { .. }))
}

#[tokio::test]
async fn a_ban_refuses_the_user_everywhere_and_closes_only_their_sockets() {
    let t = TestApp::new(config());
    let accounts = t.app.accounts();
    let root = accounts.register(register("root"), HOME).await.unwrap();
    let alice = accounts.register(register("alice"), HOME).await.unwrap();
    let bob = accounts.register(register("bob"), HOME).await.unwrap();
    let alice_socket = socket(&t, &alice.token, "a").await;
    let bob_socket = socket(&t, &bob.token, "b").await;

    let req = |until| BanRequest { reason: "spam".into(), until };
    t.app.admin().ban(Some(&root.user_id), &alice.user_id, req(None)).await.unwrap();
    assert_eq!(alice_socket.close_reason(), Some(CloseReason::Banned));
    assert!(!bob_socket.closed().is_cancelled());
    assert!(banned(accounts.authenticate(&alice.token).await));
    assert!(banned(accounts.login(login("alice", PASSWORD), HOME).await));
    assert!(matches!(
        accounts.login(login("alice", "wrong horse battery"), HOME).await,
        Err(Error::Unauthorized(_))
    ));
    assert!(matches!(
        t.app.admin().ban(Some(&root.user_id), &root.user_id, req(None)).await,
        Err(Error::Forbidden(_))
    ));
    assert!(accounts.me(&root.user_id).await.unwrap().admin);
    assert!(!accounts.me(&bob.user_id).await.unwrap().admin);

    t.app.admin().unban(Some(&root.user_id), &alice.user_id).await.unwrap();
    assert_eq!(accounts.authenticate(&alice.token).await.unwrap(), alice.user_id);
    accounts.login(login("alice", PASSWORD), HOME).await.unwrap();
}

#[tokio::test]
async fn changes_written_straight_to_the_store_arrive_through_the_log() {
    let t = TestApp::new(config());
    let accounts = t.app.accounts();
    let alice = accounts.register(register("alice"), HOME).await.unwrap();
    let phone = socket(&t, &alice.token, "phone").await;
    // This node has checked alice's token (and cached her as not banned) before.
    assert_eq!(accounts.authenticate(&alice.token).await.unwrap(), alice.user_id);
    assert_eq!(t.app.catch_up_moderation_log().await.unwrap(), 0);

    let ban = NewBan {
        user_id: alice.user_id.clone(),
        reason: "from the command line".into(),
        until: None,
        banned_at: confab_core::ids::now_millis(),
        banned_by: None,
    };
    t.store.ban(ban).await.unwrap();
    assert!(accounts.authenticate(&alice.token).await.is_ok(), "not heard of yet: the cache answers");
    assert_eq!(t.app.catch_up_moderation_log().await.unwrap(), 1);
    assert_eq!(phone.close_reason(), Some(CloseReason::Banned));
    assert!(banned(accounts.authenticate(&alice.token).await));
    assert_eq!(t.app.catch_up_moderation_log().await.unwrap(), 0, "each change is applied once");

    t.store.unban(&alice.user_id).await.unwrap();
    t.app.catch_up_moderation_log().await.unwrap();
    assert_eq!(accounts.authenticate(&alice.token).await.unwrap(), alice.user_id);

    let laptop = socket(&t, &alice.token, "laptop").await;
    t.store.revoke_user_sessions(&alice.user_id, confab_core::ids::now_millis() + 1).await.unwrap();
    t.app.catch_up_moderation_log().await.unwrap();
    assert_eq!(laptop.close_reason(), Some(CloseReason::SessionRevoked));
    assert!(matches!(accounts.authenticate(&alice.token).await, Err(Error::Unauthorized(_))));
}

#[tokio::test]
async fn reports_are_checked_before_they_count() {
    let t = TestApp::new(ServerConfig {
        moderation: ModerationConfig { reports_per_hour: 1, ..ModerationConfig::default() },
        ..ServerConfig::default()
    });
    let conv = pair(&t).await;
    t.app
        .messages()
        .send("bob", &conv, Some("m1".into()), &text("rude"), Default::default(), Via::Rest)
        .await
        .unwrap();
    let req = |id: &str, reason: &str| ReportRequest {
        message_id: id.into(),
        reason: reason.into(),
        conversation_id: None,
    };
    let reports = t.app.reports();
    for (id, reason) in [("", "x"), ("m1", ""), (&"m".repeat(129)[..], "x"), ("m1", &"r".repeat(1001)[..])] {
        assert!(matches!(reports.file("alice", req(id, reason)).await, Err(Error::InvalidRequest(_))));
    }
    let (_, created) = reports.file("alice", req("m1", "rude")).await.unwrap();
    assert!(created);
    assert!(matches!(reports.file("alice", req("m2", "x")).await, Err(Error::RateLimited { .. })));
    // Once the budget is spent, a repeat is refused like a new report.
    assert!(matches!(reports.file("alice", req("m1", "again")).await, Err(Error::RateLimited { .. })));
    assert_eq!(
        reports.file("bob", req("m1", "own")).await.unwrap_err(),
        Error::InvalidRequest("you cannot report your own message".into())
    );
}
