//! The services driven directly, without HTTP or WebSocket, against the embedded store and the
//! in-process bus. Devices are registered straight into the node's hub to see what they are sent.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use confab_core::Error;
use confab_proto::{LoginRequest, PresenceStatus, RegisterRequest, ServerEnvelope, ServerFrame};
use serde_json::json;
use tokio::time::Instant;

use super::Via;
use crate::config::{AuthLimits, Limits, ServerConfig};
use crate::hub::Outbox;
use crate::testing::TestApp;

fn text(t: &str) -> serde_json::Value {
    json!({"type": "text", "text": t})
}

/// `alice` and `bob` and their direct conversation.
async fn pair(t: &TestApp) -> String {
    t.user("alice").await;
    t.user("bob").await;
    let opened = t.app.conversations().open_direct("alice", &["bob".to_string()]).await.unwrap();
    opened.conversation.conversation_id
}

const HOME: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const ELSEWHERE: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
const PASSWORD: &str = "correct horse battery";

fn register(name: &str) -> RegisterRequest {
    RegisterRequest { username: name.into(), password: PASSWORD.into(), display_name: None }
}

fn login(name: &str, password: &str) -> LoginRequest {
    LoginRequest { username: name.into(), password: password.into() }
}

/// Settings with the throttles lifted except as `tune` sets them.
fn auth_config(tune: impl FnOnce(&mut AuthLimits)) -> ServerConfig {
    let mut auth = AuthLimits {
        login_failures_per_account: 1_000,
        login_failures_per_address: 1_000,
        registrations_per_address: 1_000,
        ..AuthLimits::default()
    };
    tune(&mut auth);
    ServerConfig { auth, ..ServerConfig::default() }
}

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
    let weak = RegisterRequest { username: "weak".into(), password: "12345678".into(), display_name: None };
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
        let req =
            RegisterRequest { username: "mallory".into(), password: password.into(), display_name: None };
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

#[tokio::test]
async fn a_direct_conversation_is_opened_once_and_announced_once() {
    let t = TestApp::new(ServerConfig::default());
    t.user("alice").await;
    t.user("bob").await;
    let mut bob = t.device("bob", "bob-phone");
    let conversations = t.app.conversations();
    let first = conversations.open_direct("alice", &["bob".to_string()]).await.unwrap();
    assert!(first.created);
    let id = first.conversation.conversation_id;
    assert!(matches!(bob.next().await.frame, ServerFrame::ConversationUpdated(c) if c.conversation_id == id));

    let again = conversations.open_direct("bob", &["alice".to_string()]).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.conversation.conversation_id, id);
    assert!(bob.queued().is_empty(), "nothing changed, nobody is told");

    for participants in [vec![], vec!["alice".to_string()], vec!["bob".to_string(), "carol".to_string()]] {
        let refused = conversations.open_direct("alice", &participants).await;
        assert!(matches!(refused, Err(Error::InvalidRequest(_))), "{participants:?}");
    }
}

#[tokio::test]
async fn a_removed_member_is_told_with_no_unread_state() {
    let t = TestApp::new(ServerConfig::default());
    for user in ["alice", "bob", "carol"] {
        t.user(user).await;
    }
    let conversations = t.app.conversations();
    let group = conversations
        .create_group("alice", "trio", vec!["bob".to_string(), "carol".to_string()], None)
        .await
        .unwrap();
    let id = group.conversation_id;
    let mut bob = t.device("bob", "bob-phone");
    let mut carol = t.device("carol", "carol-phone");
    t.app.messages().send("alice", &id, None, &text("hi"), Via::Rest).await.unwrap();
    // Fan-out runs after the commit, on its own: wait for it before the change under test.
    for device in [&mut bob, &mut carol] {
        assert!(matches!(device.next().await.frame, ServerFrame::MessageNew(_)));
    }

    conversations.remove_member("alice", &id, "carol").await.unwrap();
    let ServerFrame::ConversationUpdated(seen_by_carol) = carol.next().await.frame else { panic!("update") };
    assert_eq!((seen_by_carol.member_count, seen_by_carol.unread_count), (2, 0));
    let ServerFrame::ConversationUpdated(seen_by_bob) = bob.next().await.frame else { panic!("update") };
    assert_eq!((seen_by_bob.member_count, seen_by_bob.unread_count), (2, 1));
    assert!(matches!(conversations.get("carol", &id).await, Err(Error::Forbidden(_))));
}

#[tokio::test]
async fn a_message_is_acked_fanned_out_and_read_back_to_its_sender() {
    let t = TestApp::new(ServerConfig::default());
    let id = pair(&t).await;
    let mut alice = t.device("alice", "alice-phone");
    let mut bob = t.device("bob", "bob-phone");
    let messages = t.app.messages();

    let via = || Via::Connection { id: Arc::from("alice-phone"), device: "phone" };
    let sent = messages.send("alice", &id, Some("m1".into()), &text("hi"), via()).await.unwrap();
    assert!(sent.created);
    assert_eq!((sent.ack.message_id.as_str(), sent.ack.sequence_number), ("m1", 1));
    assert!(matches!(bob.next().await.frame, ServerFrame::MessageNew(m) if m.message_id == "m1"));
    assert!(alice.queued().is_empty(), "the sending device does not get its own message back");

    let resent = messages.send("alice", &id, Some("m1".into()), &text("hi"), via()).await.unwrap();
    assert!(!resent.created);
    assert_eq!(resent.ack.sequence_number, 1);
    let changed = messages.send("alice", &id, Some("m1".into()), &text("changed"), via()).await;
    assert_eq!(changed.unwrap_err(), Error::DuplicateMessage);

    assert_eq!(messages.mark_read(&id, "bob", 99, Some(Arc::from("bob-phone"))).await.unwrap(), 1);
    let delivered = alice.next().await;
    assert!(matches!(delivered.frame, ServerFrame::MessageDelivered(d) if d.message_ids == ["m1"]));
    let receipt = alice.next().await;
    assert!(
        matches!(receipt.frame, ServerFrame::MessageReadReceipt(r) if r.read_by == "bob" && r.read_up_to_sequence == 1)
    );
    assert!(bob.queued().is_empty(), "the reading device does not get its own receipt");
}

#[tokio::test]
async fn rest_sends_are_limited_per_user_and_keep_their_order() {
    let limits =
        Limits { user_messages_per_second: Some(1), user_message_burst: Some(2), ..Limits::default() };
    let t = TestApp::new(ServerConfig { limits, ..ServerConfig::default() });
    let id = pair(&t).await;
    let messages = t.app.messages();
    // The budget is spent when `send` is called, before anything is stored.
    let first = messages.send("alice", &id, None, &text("1"), Via::Rest);
    let second = messages.send("alice", &id, None, &text("2"), Via::Rest);
    let third = messages.send("alice", &id, None, &text("3"), Via::Rest);
    assert!(matches!(third.await, Err(Error::RateLimited { retry_after_secs: 1 })));
    let sequences = [first.await.unwrap(), second.await.unwrap()].map(|s| s.ack.sequence_number);
    assert_eq!(sequences, [1, 2], "sends are stored in the order they were made");
    assert!(messages.send("bob", &id, None, &text("5"), Via::Rest).await.is_ok(), "bob has his own budget");
}

/// Many connections of one user (or of one device) share one budget, and REST draws on the same
/// per-user budget as the WebSocket: opening more connections buys no more sends.
#[tokio::test]
async fn sends_are_limited_per_user_and_per_device_across_connections_and_rest() {
    let limits = Limits {
        messages_per_second: 1,
        message_burst: 3,
        user_messages_per_second: Some(1),
        user_message_burst: Some(5),
        ..Limits::default()
    };
    let t = TestApp::new(ServerConfig { limits, ..ServerConfig::default() });
    let id = pair(&t).await;
    let messages = t.app.messages();
    // The budget is spent when `send` is called, so the outcome does not depend on how long the
    // accepted sends take to commit.
    let mut from_phone = Vec::new();
    // Ten connections of the same device, three sends each.
    for connection in 0..10 {
        for n in 0..3 {
            let via = Via::Connection { id: Arc::from(format!("phone-{connection}")), device: "phone" };
            from_phone.push(messages.send("alice", &id, None, &text(&format!("{connection}.{n}")), via));
        }
    }
    // Other devices and REST share what is left of the user's burst.
    let mut elsewhere = Vec::new();
    for device in 0..10 {
        let via =
            Via::Connection { id: Arc::from(format!("c-{device}")), device: &format!("tablet-{device}") };
        elsewhere.push(messages.send("alice", &id, None, &text("t"), via));
        elsewhere.push(messages.send("alice", &id, None, &text("r"), Via::Rest));
    }
    let accepted =
        |results: Vec<Result<super::messages::Sent, Error>>| results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(
        accepted(futures_util::future::join_all(from_phone).await),
        3,
        "one device's connections share its burst"
    );
    assert_eq!(
        accepted(futures_util::future::join_all(elsewhere).await),
        2,
        "every device and REST share one per-user budget"
    );
    let refused = messages.send("alice", &id, None, &text("x"), Via::Rest).await.unwrap_err();
    assert!(matches!(refused, Error::RateLimited { .. }), "{refused}");
    assert!(messages.send("bob", &id, None, &text("b"), Via::Rest).await.is_ok(), "bob has his own budget");
}

#[tokio::test]
async fn history_pages_in_the_direction_asked() {
    let t = TestApp::new(ServerConfig::default());
    let id = pair(&t).await;
    let messages = t.app.messages();
    for n in 1..=3 {
        messages.send("alice", &id, None, &text(&n.to_string()), Via::Rest).await.unwrap();
    }
    let sequences = |page: &confab_proto::HistoryResponse| -> Vec<u64> {
        page.messages.iter().map(|m| m.sequence_number).collect()
    };
    let latest = messages.history(&id, "bob", None, None, Some(2)).await.unwrap();
    assert_eq!((sequences(&latest), latest.next_cursor), (vec![2, 3], Some(2)));
    let older = messages.history(&id, "bob", Some(2), None, Some(2)).await.unwrap();
    assert_eq!((sequences(&older), older.has_more, older.next_cursor), (vec![1], false, None));
    let newer = messages.history(&id, "bob", None, Some(1), Some(1)).await.unwrap();
    assert_eq!((sequences(&newer), newer.next_cursor), (vec![2], Some(2)));
    assert!(matches!(
        messages.history(&id, "bob", Some(2), Some(1), None).await,
        Err(Error::InvalidRequest(_))
    ));
    assert!(matches!(messages.history(&id, "bob", None, None, Some(0)).await, Err(Error::InvalidRequest(_))));
    assert!(matches!(messages.history(&id, "carol", None, None, None).await, Err(Error::Forbidden(_))));
}

#[tokio::test(start_paused = true)]
async fn typing_reaches_the_other_members_and_stops_after_the_quiet_period() {
    let t = TestApp::new(ServerConfig { typing_timeout: Duration::from_secs(5), ..ServerConfig::default() });
    let id = pair(&t).await;
    let mut alice = t.device("alice", "alice-phone");
    let mut bob = t.device("bob", "bob-phone");
    let typing = t.app.typing();

    typing.start(&id, "alice").await.unwrap();
    let started = Instant::now();
    assert!(
        matches!(bob.next().await.frame, ServerFrame::TypingUpdate(u) if u.user_id == "alice" && u.is_typing)
    );
    // A repeated start inside a second is coalesced.
    typing.start(&id, "alice").await.unwrap();
    assert!(matches!(bob.next().await.frame, ServerFrame::TypingUpdate(u) if !u.is_typing));
    assert!(started.elapsed() >= Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(alice.queued().is_empty(), "the typist is not told about themselves");

    assert!(matches!(typing.start(&id, "carol").await, Err(Error::Forbidden(_))));
    assert!(matches!(typing.stop("", "alice").await, Err(Error::InvalidRequest(_))));
}

#[tokio::test]
async fn presence_subscriptions_are_capped_and_their_bulk_precedes_updates() {
    let limits = Limits { presence_bulk_cap: 2, ..Limits::default() };
    // No throttle: every change is sent at once unless something holds it back.
    let config = ServerConfig { limits, presence_throttle: Duration::ZERO, ..ServerConfig::default() };
    let t = TestApp::new(config);
    pair(&t).await;
    let presence = t.app.presence();
    let (alice, bob): (Arc<str>, Arc<str>) = ("alice-phone".into(), "bob-phone".into());
    presence.connect("alice", &alice);
    assert!(matches!(
        presence.set_status("alice", &alice, PresenceStatus::Offline),
        Err(Error::InvalidRequest(_))
    ));

    let (outbox, mut rx) = Outbox::new(8);
    let three = ["alice", "carol", "dave"].map(String::from);
    assert!(matches!(presence.subscribe("bob", &bob, &outbox, &three).await, Err(Error::InvalidRequest(_))));
    let invalid = ["".to_string()];
    assert!(matches!(
        presence.subscribe("bob", &bob, &outbox, &invalid).await,
        Err(Error::InvalidRequest(_))
    ));

    let bulk = presence.subscribe("bob", &bob, &outbox, &["alice".to_string()]).await.unwrap();
    let alice_seen = &bulk.payload.presences[0];
    assert_eq!((alice_seen.user_id.as_str(), alice_seen.status), ("alice", PresenceStatus::Online));
    // Until the bulk has gone out, updates about alice wait behind it.
    presence.set_status("alice", &alice, PresenceStatus::Away).unwrap();
    assert!(rx.try_recv().is_err(), "the update waits for the bulk");
    drop(bulk);
    let update = confab_proto::ServerEnvelope::parse(&rx.recv().await.unwrap()).unwrap().unwrap();
    assert!(matches!(update.frame, ServerFrame::PresenceUpdate(p) if p.status == PresenceStatus::Away));
}

/// Subscribing to the same users again and again costs nothing more; a connection and a user can
/// watch only so many; and a disconnect leaves nothing behind.
#[tokio::test]
async fn presence_watch_lists_are_deduplicated_capped_and_freed_on_disconnect() {
    let limits = Limits { presence_bulk_cap: 10, presence_watch_cap: 10, ..Limits::default() };
    let t = TestApp::new(ServerConfig { limits, ..ServerConfig::default() });
    pair(&t).await;
    let presence = t.app.presence();
    let (outbox, _rx) = Outbox::new(8);
    let users = |from: usize, to: usize| (from..to).map(|n| format!("u{n}")).collect::<Vec<_>>();
    let phone: Arc<str> = "bob-phone".into();
    presence.connect("bob", &phone);
    for _ in 0..100 {
        let repeated = [users(0, 3), users(0, 3)].concat();
        drop(presence.subscribe("bob", &phone, &outbox, &repeated).await.unwrap());
    }
    assert_eq!(presence.footprint(), (3, 3, 0, 1), "three users watched once each");
    drop(presence.subscribe("bob", &phone, &outbox, &users(3, 10)).await.unwrap());
    let over = presence.subscribe("bob", &phone, &outbox, &users(10, 11)).await;
    assert!(matches!(over, Err(Error::InvalidRequest(_))), "the connection's cap is 10");
    assert_eq!(presence.footprint().1, 10);

    // Four more connections of bob reach the per-user cap (4 × 10); a fifth is refused.
    let mut connections = vec![phone];
    for n in 1..4 {
        let connection: Arc<str> = format!("bob-{n}").into();
        presence.connect("bob", &connection);
        drop(presence.subscribe("bob", &connection, &outbox, &users(n * 10, n * 10 + 10)).await.unwrap());
        connections.push(connection);
    }
    let extra: Arc<str> = "bob-extra".into();
    presence.connect("bob", &extra);
    let over = presence.subscribe("bob", &extra, &outbox, &users(100, 101)).await;
    assert!(matches!(over, Err(Error::InvalidRequest(_))), "bob's connections watch 40 at most");
    connections.push(extra);
    // A new connection's contacts beyond the cap are not watched, but it still gets its bulk.
    let late: Arc<str> = "bob-late".into();
    presence.connect("bob", &late);
    let bulk = presence.watch_contacts("bob", &late, &outbox).await.unwrap();
    assert!(bulk.payload.presences.is_empty());
    drop(bulk);
    connections.push(late);

    for connection in &connections {
        presence.disconnect("bob", connection).await;
    }
    assert_eq!(presence.footprint(), (0, 0, 0, 0), "nothing is kept after disconnect");
}

/// A client alternating `typing.start` and `typing.stop` as fast as it can: the other members get
/// at most about one `typing.update` a second, and end up with the typist's last state.
#[tokio::test(start_paused = true)]
async fn alternating_typing_start_and_stop_is_coalesced_to_one_update_a_second() {
    let t = TestApp::new(ServerConfig { typing_timeout: Duration::from_secs(5), ..ServerConfig::default() });
    let id = pair(&t).await;
    let mut bob = t.device("bob", "bob-phone");
    let typing = t.app.typing();
    let started = Instant::now();
    let mut updates = Vec::new();
    for _ in 0..500 {
        typing.start(&id, "alice").await.unwrap();
        typing.stop(&id, "alice").await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        updates.extend(bob.queued());
    }
    // The trailing update of the last second.
    tokio::time::sleep(Duration::from_secs(2)).await;
    updates.extend(bob.queued());
    let seconds = started.elapsed().as_secs() as usize;
    assert!(updates.len() <= seconds + 2, "{} updates in {seconds} s", updates.len());
    let last = updates.last().expect("at least one update");
    assert!(matches!(&last.frame, ServerFrame::TypingUpdate(u) if !u.is_typing), "the last state wins");
}

/// Above the typing fan-out limit a group gets no typing updates at all.
#[tokio::test(start_paused = true)]
async fn large_groups_get_no_typing_updates() {
    let limits = Limits { typing_fanout_limit: 2, ..Limits::default() };
    let t = TestApp::new(ServerConfig { limits, ..ServerConfig::default() });
    for user in ["alice", "bob", "carol"] {
        t.user(user).await;
    }
    let group = t
        .app
        .conversations()
        .create_group("alice", "three", vec!["bob".into(), "carol".into()], None)
        .await
        .unwrap();
    let mut bob = t.device("bob", "bob-phone");
    tokio::time::sleep(Duration::from_millis(10)).await;
    bob.queued();
    let typing = t.app.typing();
    typing.start(&group.conversation_id, "alice").await.unwrap();
    typing.stop(&group.conversation_id, "alice").await.unwrap();
    assert!(matches!(typing.start(&group.conversation_id, "dave").await, Err(Error::Forbidden(_))));
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(bob.queued().is_empty(), "no typing.update in a group above the limit");
}

/// Clients clear a typist's indicator when the typist's message arrives. Typing again right after
/// sending must show again on the other side, even within the coalescing second. (Real time: the
/// store does real I/O, during which a paused clock would jump past the coalescing second.)
#[tokio::test]
async fn typing_again_right_after_sending_is_announced() {
    let t = TestApp::new(ServerConfig::default());
    let id = pair(&t).await;
    let mut bob = t.device("bob", "bob-phone");
    let typing = t.app.typing();
    // The next typing.update Bob gets, skipping anything else.
    async fn next_typing(bob: &mut crate::testing::Device) -> bool {
        loop {
            if let ServerFrame::TypingUpdate(u) = bob.next().await.frame {
                return u.is_typing;
            }
        }
    }
    typing.start(&id, "alice").await.unwrap();
    assert!(next_typing(&mut bob).await, "the start is announced");
    // The web client stops typing and sends; the message clears the indicator on every client.
    typing.stop(&id, "alice").await.unwrap();
    t.app.messages().send("alice", &id, None, &text("sent"), Via::Rest).await.unwrap();
    typing.start(&id, "alice").await.unwrap();
    assert!(next_typing(&mut bob).await, "typing again is announced again, not swallowed as a repeat");
}
