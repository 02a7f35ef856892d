//! Presence between users who share a conversation only: strangers learn nothing, and a leave
//! ends what it leaves without a shared conversation.

use std::time::Duration;

use confab_client::Connection;
use confab_proto::frames::PresenceSubscribePayload;
use confab_proto::{ClientFrame, Presence, PresenceStatus, ServerFrame};

use crate::harness::*;
use crate::realtime::{connect_watching, presence_of};

/// Everything `conn` was told about `user`'s presence, up to the answer to a heartbeat sent now
/// (an update about them would have been queued to this connection before that answer).
async fn presence_told_about(conn: &mut Connection, user: &str) -> Vec<Presence> {
    let rid = conn.heartbeat().await.unwrap();
    conn.reply_to(&rid).await.unwrap();
    let mut told = Vec::new();
    while let Ok(p) = conn
        .wait_for(Duration::from_millis(1), "presence about the user", |f| match &f.frame {
            ServerFrame::PresenceUpdate(p) if p.user_id == user => Some(p.clone()),
            ServerFrame::PresenceBulk(b) => b.presences.iter().find(|p| p.user_id == user).cloned(),
            _ => None,
        })
        .await
    {
        told.push(p);
    }
    told
}

async fn subscribe(conn: &mut Connection, users: &[&str]) -> Vec<Presence> {
    let user_ids = users.iter().map(|u| u.to_string()).collect();
    let rid = conn.send(ClientFrame::PresenceSubscribe(PresenceSubscribePayload { user_ids })).await.unwrap();
    match conn.reply_to(&rid).await.unwrap().frame {
        ServerFrame::PresenceBulk(b) => b.presences,
        other => panic!("presence.subscribe answered with {other:?}"),
    }
}

/// Mallory shares no conversation with Alice: subscribing to her is answered as for an id of no
/// user, and tells Mallory nothing when Alice comes and goes. Bob, who shares one, is told.
#[tokio::test]
async fn presence_of_a_stranger_is_not_revealed() {
    let server = TestServer::start_with(|c| c.presence_throttle = Duration::from_millis(50)).await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let mallory = register(&server.url, "mallory").await;
    alice.api.open_direct(&bob.id).await.unwrap();
    let (mut bob_conn, _) = connect_watching(&bob, "bob").await;
    // Alice has been seen: a lastSeen is stored. The server handles her disconnect after her
    // socket closes, so Bob waits until he is told she is offline.
    alice.connect("phone").await.close().await.unwrap();
    while presence_of(&mut bob_conn, &alice.id).await.status != PresenceStatus::Offline {}

    let (mut mallory_conn, bulk) = connect_watching(&mallory, "mallory").await;
    assert!(bulk.is_empty(), "{bulk:?}");
    let mut seen = subscribe(&mut bob_conn, &[&alice.id]).await;
    assert_eq!(seen.len(), 1);
    if seen[0].status == PresenceStatus::Online {
        // The server may not have finished closing Alice's first connection yet.
        seen = vec![presence_of(&mut bob_conn, &alice.id).await];
    }
    assert_eq!(seen[0].status, PresenceStatus::Offline);
    assert!(seen[0].last_seen.is_some(), "a contact sees when Alice was last seen");
    assert_eq!(subscribe(&mut mallory_conn, &[&alice.id]).await, [], "a stranger is left out");
    assert_eq!(subscribe(&mut mallory_conn, &["no-such-user"]).await, [], "like an id of no user");
    // Mallory may still ask about herself.
    assert_eq!(subscribe(&mut mallory_conn, &[&mallory.id]).await[0].status, PresenceStatus::Online);

    let phone = alice.connect("phone").await;
    assert_eq!(presence_of(&mut bob_conn, &alice.id).await.status, PresenceStatus::Online);
    phone.close().await.unwrap();
    let gone = presence_of(&mut bob_conn, &alice.id).await;
    assert_eq!(gone.status, PresenceStatus::Offline);
    assert!(gone.last_seen.is_some());
    let told = presence_told_about(&mut mallory_conn, &alice.id).await;
    assert!(told.is_empty(), "Mallory learned {told:?}");
    server.shutdown().await;
}

/// Once Carol leaves the only conversation she shares with Alice, she hears no more of Alice's
/// presence, though she watched Alice before; Bob, still a member, does.
#[tokio::test]
async fn presence_stops_when_the_last_shared_conversation_is_left() {
    let server = TestServer::start_with(|c| c.presence_throttle = Duration::from_millis(50)).await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let carol = register(&server.url, "carol").await;
    let group = alice.api.create_group("team", &[bob.id.clone(), carol.id.clone()], None).await.unwrap();
    let (mut carol_conn, bulk) = connect_watching(&carol, "carol").await;
    assert!(bulk.iter().any(|p| p.user_id == alice.id), "a member watches Alice: {bulk:?}");
    let (mut bob_conn, _) = connect_watching(&bob, "bob").await;
    let (alice_conn, _) = connect_watching(&alice, "alice").await;
    assert_eq!(presence_of(&mut carol_conn, &alice.id).await.status, PresenceStatus::Online);
    assert_eq!(presence_of(&mut bob_conn, &alice.id).await.status, PresenceStatus::Online);

    // On the node that stores the change, the watches are re-checked before the call returns.
    carol.api.remove_member(&group.conversation_id, &carol.id).await.unwrap();
    presence_told_about(&mut carol_conn, &alice.id).await;
    alice_conn.close().await.unwrap();
    assert_eq!(presence_of(&mut bob_conn, &alice.id).await.status, PresenceStatus::Offline);
    let told = presence_told_about(&mut carol_conn, &alice.id).await;
    assert!(told.is_empty(), "Carol learned {told:?} after leaving");
    assert_eq!(subscribe(&mut carol_conn, &[&alice.id]).await, [], "and a new subscribe says nothing");
    server.shutdown().await;
}

/// Bob hides when he was last seen: Alice is still told whether he is online but never when he
/// was last seen, and (the setting is reciprocal) Bob is not told when Alice was. Showing it again
/// restores both.
#[tokio::test]
async fn hidden_last_seen_is_hidden_both_ways_until_shown_again() {
    let server = TestServer::start_with(|c| c.presence_throttle = Duration::from_millis(50)).await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    alice.api.open_direct(&bob.id).await.unwrap();
    // Both have been seen: a lastSeen is stored for each.
    alice.connect("phone").await.close().await.unwrap();
    bob.connect("phone").await.close().await.unwrap();
    assert!(bob.api.me().await.unwrap().show_last_seen, "shown by default");
    let hidden = bob.api.update_profile(None, Some(false)).await.unwrap();
    assert_eq!((hidden.user.display_name.as_str(), hidden.show_last_seen), ("bob", false));
    assert!(!bob.api.me().await.unwrap().show_last_seen);

    let (mut alice_conn, bulk) = connect_watching(&alice, "alice").await;
    let of_bob = bulk.iter().find(|p| p.user_id == bob.id).expect("Bob in Alice's bulk");
    assert_eq!((of_bob.status, of_bob.last_seen), (PresenceStatus::Offline, None));
    let (bob_conn, bulk) = connect_watching(&bob, "bob").await;
    let of_alice = bulk.iter().find(|p| p.user_id == alice.id).expect("Alice in Bob's bulk");
    assert_eq!((of_alice.status, of_alice.last_seen), (PresenceStatus::Online, None), "reciprocal");
    // An offline from Bob's first connection may still reach Alice (presence is throttled, and
    // the server handles a disconnect after the socket closes): every update hides lastSeen.
    loop {
        let told = presence_of(&mut alice_conn, &bob.id).await;
        assert_eq!(told.last_seen, None, "hidden in every update: {told:?}");
        if told.status == PresenceStatus::Online {
            break;
        }
    }
    bob_conn.close().await.unwrap();
    let gone = presence_of(&mut alice_conn, &bob.id).await;
    assert_eq!((gone.status, gone.last_seen), (PresenceStatus::Offline, None));

    let shown = bob.api.update_profile(None, Some(true)).await.unwrap();
    assert!(shown.show_last_seen);
    let seen = subscribe(&mut alice_conn, &[&bob.id]).await;
    assert_eq!(seen[0].status, PresenceStatus::Offline);
    assert!(seen[0].last_seen.is_some(), "shown again: {seen:?}");
    let (bob_conn, bulk) = connect_watching(&bob, "bob").await;
    let of_alice = bulk.iter().find(|p| p.user_id == alice.id).expect("Alice in Bob's bulk");
    assert!(of_alice.last_seen.is_some(), "Bob sees Alice's again: {of_alice:?}");
    let online = presence_of(&mut alice_conn, &bob.id).await;
    assert_eq!(online.status, PresenceStatus::Online);
    assert!(online.last_seen.is_some());
    bob_conn.close().await.unwrap();
    server.shutdown().await;
}
