//! Accounts: registration, login, throttles, password and name rules.

use super::*;

#[tokio::test]
async fn registered_users_log_in_and_their_tokens_authenticate() {
    let t = TestApp::new(ServerConfig::default());
    let accounts = t.app.accounts();
    let alice = accounts.register(register("alice"), HOME).await.unwrap();
    assert_eq!(accounts.authenticate(&alice.token).await.unwrap(), alice.user_id);
    assert_eq!(accounts.register(register("alice"), HOME).await.unwrap_err(), Error::UsernameTaken);

    assert_eq!(accounts.login(login("alice", PASSWORD), HOME).await.unwrap().user_id, alice.user_id);
    let wrong = accounts.login(login("alice", "wrong horse battery"), HOME).await.unwrap_err();
    let unknown = accounts.login(login("nobody", PASSWORD), HOME).await.unwrap_err();
    assert!(matches!(&wrong, Error::Unauthorized(_)), "{wrong}");
    assert_eq!(wrong, unknown, "a wrong password and an unknown user fail alike");

    assert_eq!(accounts.user(&alice.user_id).await.unwrap().username, "alice");
    assert!(matches!(accounts.user("nobody").await, Err(Error::UserNotFound(_))));
    assert!(matches!(accounts.authenticate("not-a-token").await, Err(Error::Unauthorized(_))));
}

#[tokio::test]
async fn every_failed_login_costs_one_password_verification() {
    let t = TestApp::new(auth_config(|_| {}));
    let accounts = t.app.accounts();
    accounts.register(register("alice"), HOME).await.unwrap();
    // Provisioned by an application token: a user without a password.
    t.user("tokenuser").await;
    let verifications = || accounts.hasher().verifications();
    for (name, password) in [
        ("alice", "wrong horse battery"),
        ("nobody", PASSWORD),
        ("tokenuser", PASSWORD),
        ("not a name", PASSWORD),
    ] {
        let before = verifications();
        let refused = accounts.login(login(name, password), HOME).await.unwrap_err();
        assert!(matches!(refused, Error::Unauthorized(_)), "{name}: {refused}");
        assert_eq!(verifications(), before + 1, "{name}: one verification, as for a known user");
    }
}

#[tokio::test]
async fn failed_logins_for_one_username_back_off_before_any_hashing() {
    let t = TestApp::new(auth_config(|a| a.login_failures_per_account = 5));
    let accounts = t.app.accounts();
    accounts.register(register("alice"), HOME).await.unwrap();
    for name in ["alice", "nobody"] {
        let before = accounts.hasher().verifications();
        // Six at once (each is admitted or refused before its first wait): five wrong guesses,
        // then the right password from elsewhere, which is refused too. Existing and unknown
        // usernames are throttled alike.
        let mut attempts: Vec<_> =
            (0..5).map(|_| accounts.login(login(name, "wrong horse battery"), HOME)).collect();
        attempts.push(accounts.login(login(name, PASSWORD), ELSEWHERE));
        let results = futures_util::future::join_all(attempts).await;
        for (i, result) in results[..5].iter().enumerate() {
            assert!(matches!(result, Err(Error::Unauthorized(_))), "{name} attempt {i}: {result:?}");
        }
        assert_eq!(results[5].as_ref().unwrap_err(), &Error::RateLimited { retry_after_secs: 1 }, "{name}");
        assert_eq!(accounts.hasher().verifications(), before + 5, "the refused attempt was never hashed");
    }
    let other = accounts.login(login("bob", "wrong horse battery"), HOME).await;
    assert!(matches!(other, Err(Error::Unauthorized(_))), "other usernames are unaffected");
}

#[tokio::test]
async fn failed_logins_from_one_address_are_throttled_and_successes_are_free() {
    let t = TestApp::new(auth_config(|a| a.login_failures_per_address = 3));
    let accounts = t.app.accounts();
    accounts.register(register("alice"), ELSEWHERE).await.unwrap();
    for _ in 0..5 {
        accounts.login(login("alice", PASSWORD), HOME).await.unwrap();
    }
    for i in 0..3 {
        let name = format!("guess{i}");
        assert!(matches!(accounts.login(login(&name, PASSWORD), HOME).await, Err(Error::Unauthorized(_))));
    }
    let throttled = accounts.login(login("guess9", PASSWORD), HOME).await.unwrap_err();
    assert!(
        matches!(throttled, Error::RateLimited { retry_after_secs } if retry_after_secs >= 60),
        "{throttled}"
    );
    accounts.login(login("alice", PASSWORD), ELSEWHERE).await.unwrap();
}

#[tokio::test]
async fn registrations_from_one_address_are_throttled() {
    let t = TestApp::new(auth_config(|a| a.registrations_per_address = 2));
    let accounts = t.app.accounts();
    let weak = RegisterRequest {
        username: "weak".into(),
        password: "12345678".into(),
        display_name: None,
        invite_code: None,
    };
    for _ in 0..3 {
        // Refused input is free: checked before the throttle.
        assert!(matches!(accounts.register(weak.clone(), HOME).await, Err(Error::InvalidRequest(_))));
    }
    accounts.register(register("first"), HOME).await.unwrap();
    accounts.register(register("second"), HOME).await.unwrap();
    let throttled = accounts.register(register("third"), HOME).await.unwrap_err();
    assert!(
        matches!(throttled, Error::RateLimited { retry_after_secs } if retry_after_secs >= 60),
        "{throttled}"
    );
    accounts.register(register("third"), ELSEWHERE).await.unwrap();
}

#[tokio::test]
async fn weak_passwords_and_deceptive_names_are_refused() {
    let t = TestApp::new(auth_config(|_| {}));
    let accounts = t.app.accounts();
    for (password, rule) in [("12345678", "too easy to guess"), ("        ", "only spaces")] {
        let req = RegisterRequest {
            username: "mallory".into(),
            password: password.into(),
            display_name: None,
            invite_code: None,
        };
        let refused = accounts.register(req, HOME).await.unwrap_err();
        assert!(matches!(&refused, Error::InvalidRequest(m) if m.contains(rule)), "{password:?}: {refused}");
    }
    let spoof = RegisterRequest { display_name: Some("admin\u{202E}nimda".into()), ..register("mallory") };
    assert!(
        matches!(accounts.register(spoof, HOME).await, Err(Error::InvalidRequest(m)) if m.contains("U+202E"))
    );
    let tidy = RegisterRequest { display_name: Some("  Mal \t lory ".into()), ..register("mallory") };
    assert_eq!(accounts.register(tidy, HOME).await.unwrap().display_name, "Mal lory");

    t.user("bob").await;
    let conversations = t.app.conversations();
    let me = accounts.login(login("mallory", PASSWORD), HOME).await.unwrap().user_id;
    for name in ["zero\u{200B}width", "nul\0", "\u{2067}isolate"] {
        let refused = conversations.create_group(&me, name, vec!["bob".to_string()], None).await;
        assert!(matches!(refused, Err(Error::InvalidRequest(_))), "{name:?}");
    }
    let group =
        conversations.create_group(&me, " Night \n owls ", vec!["bob".to_string()], None).await.unwrap();
    assert_eq!(group.name.as_deref(), Some("Night owls"));
}
