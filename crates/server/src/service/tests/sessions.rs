//! Logout, logout-all, password and profile changes: which tokens stop working, which sockets
//! close, and what is checked first.

use confab_proto::{ChangePasswordRequest, UpdateProfileRequest};

use super::*;
use crate::hub::ConnectionHandle;
use crate::outbox::CloseReason;
use crate::service::Authenticated;

async fn caller(t: &TestApp, token: &str) -> Authenticated {
    t.app.accounts().authenticate_session(token).await.unwrap()
}

/// Registers a connection opened with `token`, as the WebSocket upgrade would; returns its outbox.
async fn socket(t: &TestApp, token: &str, id: &str) -> Outbox {
    let me = caller(t, token).await;
    let (outbox, _rx) = Outbox::new(8);
    t.app
        .connections()
        .register(&me.user_id, ConnectionHandle::new(id.into(), outbox.clone(), Arc::new(me.session), id));
    outbox
}

fn unauthorized<T: std::fmt::Debug>(r: Result<T, Error>) -> bool {
    matches!(r, Err(Error::Unauthorized(_)))
}

#[tokio::test]
async fn logout_revokes_that_token_only_and_closes_its_sockets() {
    let t = TestApp::new(auth_config(|_| {}));
    let accounts = t.app.accounts();
    let phone = accounts.register(register("alice"), HOME).await.unwrap();
    let laptop = accounts.login(login("alice", PASSWORD), HOME).await.unwrap();
    let phone_socket = socket(&t, &phone.token, "phone").await;
    let laptop_socket = socket(&t, &laptop.token, "laptop").await;

    accounts.logout(&caller(&t, &phone.token).await).await.unwrap();
    assert!(unauthorized(accounts.authenticate(&phone.token).await));
    assert_eq!(accounts.authenticate(&laptop.token).await.unwrap(), phone.user_id);
    assert_eq!(phone_socket.close_reason(), Some(CloseReason::SessionRevoked));
    assert!(!laptop_socket.closed().is_cancelled());
}

#[tokio::test]
async fn logout_all_revokes_every_token_until_then_and_a_new_login_works() {
    let t = TestApp::new(auth_config(|_| {}));
    let accounts = t.app.accounts();
    let phone = accounts.register(register("alice"), HOME).await.unwrap();
    let laptop = accounts.login(login("alice", PASSWORD), HOME).await.unwrap();
    let sockets = [socket(&t, &phone.token, "phone").await, socket(&t, &laptop.token, "laptop").await];

    accounts.logout_all(&caller(&t, &laptop.token).await).await.unwrap();
    for token in [&phone.token, &laptop.token] {
        assert!(unauthorized(accounts.authenticate(token).await));
    }
    for s in &sockets {
        assert_eq!(s.close_reason(), Some(CloseReason::SessionRevoked));
    }
    // Even within the same millisecond, a login after the logout is a new session.
    let again = accounts.login(login("alice", PASSWORD), HOME).await.unwrap();
    assert_eq!(accounts.authenticate(&again.token).await.unwrap(), phone.user_id);
}

#[tokio::test]
async fn revocations_survive_a_restarted_cache_because_the_store_has_them() {
    let t = TestApp::new(auth_config(|_| {}));
    let accounts = t.app.accounts();
    let alice = accounts.register(register("alice"), HOME).await.unwrap();
    accounts.logout(&caller(&t, &alice.token).await).await.unwrap();
    // Another node (or this one restarted) starts with nothing cached.
    let fresh = crate::service::RevocationCache::default();
    let session = crate::auth::TokenKeys::new("test-secret", Duration::from_secs(60))
        .verify(&alice.token)
        .unwrap()
        .session();
    assert!(fresh.is_revoked(&t.store, &alice.user_id, &session).await.unwrap());
}

#[tokio::test]
async fn a_password_change_checks_the_old_one_and_revokes_the_other_sessions() {
    let t = TestApp::new(auth_config(|_| {}));
    let accounts = t.app.accounts();
    let phone = accounts.register(register("alice"), HOME).await.unwrap();
    let laptop = accounts.login(login("alice", PASSWORD), HOME).await.unwrap();
    let laptop_socket = socket(&t, &laptop.token, "laptop").await;
    let phone_socket = socket(&t, &phone.token, "phone").await;
    let me = caller(&t, &phone.token).await;
    let change =
        |old: &str, new: &str| ChangePasswordRequest { old_password: old.into(), new_password: new.into() };

    let wrong = accounts.change_password(&me, change("wrong horse battery", "new horse battery"), HOME).await;
    assert!(unauthorized(wrong));
    let weak = accounts.change_password(&me, change(PASSWORD, "short"), HOME).await;
    assert!(matches!(weak, Err(Error::InvalidRequest(_))), "{weak:?}");
    assert_eq!(accounts.authenticate(&laptop.token).await.unwrap(), me.user_id, "nothing changed yet");

    accounts.change_password(&me, change(PASSWORD, "new horse battery"), HOME).await.unwrap();
    assert!(unauthorized(accounts.authenticate(&laptop.token).await));
    assert_eq!(laptop_socket.close_reason(), Some(CloseReason::SessionRevoked));
    assert_eq!(accounts.authenticate(&phone.token).await.unwrap(), me.user_id, "the caller's token stays");
    assert!(!phone_socket.closed().is_cancelled());
    assert!(unauthorized(accounts.login(login("alice", PASSWORD), HOME).await));
    accounts.login(login("alice", "new horse battery"), HOME).await.unwrap();
}

#[tokio::test]
async fn wrong_old_passwords_are_throttled_like_logins() {
    let t = TestApp::new(auth_config(|a| a.login_failures_per_account = 2));
    let accounts = t.app.accounts();
    let alice = accounts.register(register("alice"), HOME).await.unwrap();
    let me = caller(&t, &alice.token).await;
    let wrong = || ChangePasswordRequest {
        old_password: "wrong horse battery".into(),
        new_password: "new horse battery".into(),
    };
    let mut refused = None;
    for _ in 0..5 {
        match accounts.change_password(&me, wrong(), HOME).await {
            Err(Error::Unauthorized(_)) => {}
            other => {
                refused = Some(other);
                break;
            }
        }
    }
    assert!(matches!(refused, Some(Err(Error::RateLimited { .. }))), "{refused:?}");
}

#[tokio::test]
async fn display_names_are_validated_and_visible_to_others() {
    let t = TestApp::new(auth_config(|_| {}));
    let accounts = t.app.accounts();
    let alice = accounts.register(register("alice"), HOME).await.unwrap();
    let renamed = accounts.update_profile(&alice.user_id, rename("  Alice  Liddell ")).await.unwrap();
    assert_eq!(renamed.user.display_name, "Alice Liddell");
    assert!(renamed.show_last_seen, "unchanged: the default");
    assert_eq!(accounts.user(&alice.user_id).await.unwrap().display_name, "Alice Liddell");
    let reset = accounts.update_profile(&alice.user_id, rename("")).await;
    assert_eq!(reset.unwrap().user.display_name, "alice", "empty: the username, as at registration");
    let long = accounts.update_profile(&alice.user_id, rename(&"x".repeat(500))).await;
    assert!(matches!(long, Err(Error::InvalidRequest(_))), "{long:?}");
    let nothing = accounts.update_profile(&alice.user_id, UpdateProfileRequest::default()).await;
    assert!(matches!(nothing, Err(Error::InvalidRequest(_))), "{nothing:?}");
    let hidden = UpdateProfileRequest { show_last_seen: Some(false), ..Default::default() };
    let hidden = accounts.update_profile(&alice.user_id, hidden).await.unwrap();
    assert_eq!((hidden.user.display_name.as_str(), hidden.show_last_seen), ("alice", false));
    assert!(!accounts.me(&alice.user_id).await.unwrap().show_last_seen);
}

fn rename(name: &str) -> UpdateProfileRequest {
    UpdateProfileRequest { display_name: Some(name.into()), show_last_seen: None }
}

#[tokio::test]
async fn tokens_without_a_session_id_cannot_log_out_alone() {
    let t = TestApp::new(auth_config(|_| {}));
    let me = Authenticated { user_id: "app-user".into(), session: Default::default(), expires_at: i64::MAX };
    assert!(matches!(t.app.accounts().logout(&me).await, Err(Error::InvalidRequest(_))));
}
