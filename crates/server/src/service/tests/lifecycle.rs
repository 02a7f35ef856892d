//! Edits, deletes and reactions: who is told, who is not, and the admin's delete.

use confab_core::lifecycle::Actor;

use super::*;
use crate::service::Named;

fn named<'a>(id: &'a str, message_id: &'a str) -> Named<'a> {
    Named { conversation_id: id, message_id, sender_id: None }
}

/// The next `message.updated` a device is sent.
async fn updated(device: &mut crate::testing::Device) -> confab_proto::Message {
    loop {
        if let ServerFrame::MessageUpdated(u) = device.next().await.frame {
            return u.message;
        }
    }
}

#[tokio::test]
async fn a_change_is_announced_to_every_device_but_the_one_that_asked() {
    let t = TestApp::new(ServerConfig::default());
    let id = pair(&t).await;
    t.app
        .messages()
        .send("alice", &id, Some("m".into()), &text("hi"), Default::default(), Via::Rest)
        .await
        .unwrap();
    let mut asking = t.device("alice", "alice-phone");
    let mut other = t.device("alice", "alice-laptop");
    let mut bob = t.device("bob", "bob-phone");
    let lifecycle = t.app.lifecycle();
    let origin: std::sync::Arc<str> = "alice-phone".into();
    let m = lifecycle.edit("alice", &id, "m", &text("hello"), Some(origin.clone())).await.unwrap();
    assert_eq!(updated(&mut other).await, m);
    assert_eq!(updated(&mut bob).await, m);
    // Nothing changed, nobody is told; the connection that asked never gets the push (its reply
    // carries the message).
    lifecycle.edit("alice", &id, "m", &text("hello"), Some(origin.clone())).await.unwrap();
    lifecycle.react("bob", named(&id, "m"), "👍", true, None).await.unwrap();
    lifecycle.react("bob", named(&id, "m"), "👍", true, None).await.unwrap();
    let reacted = updated(&mut other).await;
    assert_eq!(reacted.update_sequence, 2);
    assert_eq!(updated(&mut bob).await, reacted);
    assert!(other.queued().is_empty() && bob.queued().is_empty());
    // The phone that asked for the edit was not pushed it; the reaction came from elsewhere, so it
    // hears of that like any device.
    assert_eq!(updated(&mut asking).await, reacted);
}

#[tokio::test]
async fn a_server_administrator_deletes_without_being_a_member() {
    let t = TestApp::new(ServerConfig::default());
    let id = pair(&t).await;
    t.user("root").await;
    t.app
        .messages()
        .send("bob", &id, Some("spam".into()), &text("buy now"), Default::default(), Via::Rest)
        .await
        .unwrap();
    let mut alice = t.device("alice", "alice-phone");
    let lifecycle = t.app.lifecycle();
    let refused = lifecycle.delete(Actor::User("root".into()), named(&id, "spam"), None).await;
    assert!(matches!(refused, Err(Error::Forbidden(_))));
    let tombstone =
        lifecycle.delete(Actor::ServerAdmin("root".into()), named(&id, "spam"), None).await.unwrap();
    assert_eq!(tombstone.deleted, Some(true));
    assert_eq!(updated(&mut alice).await, tombstone);
}

#[tokio::test]
async fn changes_are_rate_limited_per_user() {
    let limits =
        Limits { user_messages_per_second: Some(1), user_message_burst: Some(3), ..Limits::default() };
    let t = TestApp::new(ServerConfig { limits, ..ServerConfig::default() });
    let id = pair(&t).await;
    t.app
        .messages()
        .send("alice", &id, Some("m".into()), &text("hi"), Default::default(), Via::Rest)
        .await
        .unwrap();
    let lifecycle = t.app.lifecycle();
    for n in 0..3 {
        lifecycle.edit("alice", &id, "m", &text(&format!("v{n}")), None).await.unwrap();
    }
    let refused = lifecycle.edit("alice", &id, "m", &text("v3"), None).await.unwrap_err();
    assert!(matches!(refused, Error::RateLimited { .. }));
    assert!(
        lifecycle.react("bob", named(&id, "m"), "👍", true, None).await.is_ok(),
        "bob has his own budget"
    );
}
