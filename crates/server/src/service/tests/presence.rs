//! Presence watches and typing indicators.

use super::*;

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
    assert!(rx.try_recv().is_none(), "the update waits for the bulk");
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
    // Bob's contacts, so he may watch them.
    for user in users(0, 101) {
        t.user(&user).await;
    }
    t.app.conversations().create_group("bob", "everyone", users(0, 101), None).await.unwrap();
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

/// Every user whose presence changes gets a throttle; once their updates are a throttle interval
/// old (and none is held back) housekeeping forgets it, so a node does not keep one per user who
/// was ever online in the cluster. Updates are throttled as before after a prune.
#[tokio::test(start_paused = true)]
async fn presence_throttles_of_quiet_users_are_forgotten() {
    let config = ServerConfig { presence_throttle: Duration::from_secs(1), ..ServerConfig::default() };
    let t = TestApp::new(config);
    let presence = t.app.presence();
    for n in 0..50 {
        presence.on_cluster_change(&format!("u{n}"), PresenceStatus::Online, 1);
    }
    // One change inside the interval is held back: that throttle must stay.
    presence.on_cluster_change("u0", PresenceStatus::Offline, 2);
    assert_eq!(presence.prune_throttles(), 50, "all are within their interval");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // u0's held-back update went out at the end of its interval, 0.5 s ago: only u0 is kept.
    assert_eq!(presence.prune_throttles(), 1);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(presence.prune_throttles(), 0, "all quiet for an interval");
    presence.on_cluster_change("u1", PresenceStatus::Away, 3);
    presence.on_cluster_change("u1", PresenceStatus::Online, 4);
    assert_eq!(presence.prune_throttles(), 1, "u1 is throttled again");
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
    t.app.messages().send("alice", &id, None, &text("sent"), Default::default(), Via::Rest).await.unwrap();
    typing.start(&id, "alice").await.unwrap();
    assert!(next_typing(&mut bob).await, "typing again is announced again, not swallowed as a repeat");
}

/// A subscribe watches only the caller and users sharing a conversation with them; a stranger is
/// left out of the bulk as an unknown id is. Leaving the last shared conversation ends the watches
/// both ways; another shared conversation keeps them.
#[tokio::test]
async fn presence_is_shared_only_between_users_who_share_a_conversation() {
    let config = ServerConfig { presence_throttle: Duration::ZERO, ..ServerConfig::default() };
    let t = TestApp::new(config);
    pair(&t).await;
    t.user("carol").await;
    t.user("mallory").await;
    let presence = t.app.presence();
    let (outbox, mut rx) = Outbox::new(64);
    let (alice, carol, mallory): (Arc<str>, Arc<str>, Arc<str>) =
        ("alice-phone".into(), "carol-phone".into(), "mallory-phone".into());
    presence.connect("alice", &alice);

    let asked = ["alice", "mallory", "nobody"].map(String::from);
    let bulk = presence.subscribe("mallory", &mallory, &outbox, &asked).await.unwrap();
    let told: Vec<&str> = bulk.payload.presences.iter().map(|p| p.user_id.as_str()).collect();
    assert_eq!(told, ["mallory"], "only herself");
    drop(bulk);
    assert!(rx.try_recv().is_none(), "nothing else queued");
    presence.set_status("alice", &alice, PresenceStatus::Away).unwrap();
    assert!(rx.try_recv().is_none(), "no update about a stranger");
    assert_eq!(presence.footprint().1, 1, "mallory watches herself only");

    let group = t.app.conversations().create_group("alice", "g", vec!["carol".into()], None).await.unwrap();
    let both = ["alice".to_string()];
    drop(presence.subscribe("carol", &carol, &outbox, &both).await.unwrap());
    assert_eq!(presence.footprint().1, 2);
    // Carol watches alice; alice's connection watches carol and bob (her contacts).
    drop(presence.watch_contacts("alice", &alice, &outbox).await.unwrap());
    assert_eq!(presence.footprint().1, 4);
    while rx.try_recv().is_some() {}

    t.app.conversations().remove_member("carol", &group.conversation_id, "carol").await.unwrap();
    // The re-check runs on its own task once the change is heard of.
    let deadline = Instant::now() + Duration::from_secs(5);
    while presence.footprint().1 != 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(presence.footprint().1, 2, "only mallory → mallory and alice → bob are left");
    presence.set_status("alice", &alice, PresenceStatus::Online).unwrap();
    assert!(rx.try_recv().is_none(), "carol no longer hears of alice");
    let again = presence.subscribe("carol", &carol, &outbox, &both).await.unwrap();
    assert!(again.payload.presences.is_empty(), "and asking again tells her nothing");
}
