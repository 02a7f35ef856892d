//! Conversations and messages: opening, membership notices, sends, rate limits, history.

use super::*;

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
    t.app.messages().send("alice", &id, None, &text("hi"), Default::default(), Via::Rest).await.unwrap();
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
    let sent =
        messages.send("alice", &id, Some("m1".into()), &text("hi"), Default::default(), via()).await.unwrap();
    assert!(sent.created);
    assert_eq!((sent.ack.message_id.as_str(), sent.ack.sequence_number), ("m1", 1));
    assert!(matches!(bob.next().await.frame, ServerFrame::MessageNew(m) if m.message_id == "m1"));
    assert!(alice.queued().is_empty(), "the sending device does not get its own message back");

    let resent =
        messages.send("alice", &id, Some("m1".into()), &text("hi"), Default::default(), via()).await.unwrap();
    assert!(!resent.created);
    assert_eq!(resent.ack.sequence_number, 1);
    let changed =
        messages.send("alice", &id, Some("m1".into()), &text("changed"), Default::default(), via()).await;
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
    let first = messages.send("alice", &id, None, &text("1"), Default::default(), Via::Rest);
    let second = messages.send("alice", &id, None, &text("2"), Default::default(), Via::Rest);
    let third = messages.send("alice", &id, None, &text("3"), Default::default(), Via::Rest);
    assert!(matches!(third.await, Err(Error::RateLimited { retry_after_secs: 1 })));
    let sequences = [first.await.unwrap(), second.await.unwrap()].map(|s| s.ack.sequence_number);
    assert_eq!(sequences, [1, 2], "sends are stored in the order they were made");
    assert!(
        messages.send("bob", &id, None, &text("5"), Default::default(), Via::Rest).await.is_ok(),
        "bob has his own budget"
    );
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
            from_phone.push(messages.send(
                "alice",
                &id,
                None,
                &text(&format!("{connection}.{n}")),
                Default::default(),
                via,
            ));
        }
    }
    // Other devices and REST share what is left of the user's burst.
    let mut elsewhere = Vec::new();
    for device in 0..10 {
        let via =
            Via::Connection { id: Arc::from(format!("c-{device}")), device: &format!("tablet-{device}") };
        elsewhere.push(messages.send("alice", &id, None, &text("t"), Default::default(), via));
        elsewhere.push(messages.send("alice", &id, None, &text("r"), Default::default(), Via::Rest));
    }
    let accepted = |results: Vec<Result<crate::service::messages::Sent, Error>>| {
        results.iter().filter(|r| r.is_ok()).count()
    };
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
    let refused =
        messages.send("alice", &id, None, &text("x"), Default::default(), Via::Rest).await.unwrap_err();
    assert!(matches!(refused, Error::RateLimited { .. }), "{refused}");
    assert!(
        messages.send("bob", &id, None, &text("b"), Default::default(), Via::Rest).await.is_ok(),
        "bob has his own budget"
    );
}

#[tokio::test]
async fn history_pages_in_the_direction_asked() {
    let t = TestApp::new(ServerConfig::default());
    let id = pair(&t).await;
    let messages = t.app.messages();
    for n in 1..=3 {
        messages
            .send("alice", &id, None, &text(&n.to_string()), Default::default(), Via::Rest)
            .await
            .unwrap();
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

/// Spans opened while it is the default subscriber: name and `field=value` pairs.
#[derive(Clone, Default)]
struct SpanRecorder(Arc<parking_lot::Mutex<Vec<(String, String)>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for SpanRecorder {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        struct Fields(String);
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.push_str(&format!("{}={:?} ", field.name(), value));
            }
        }
        let mut fields = Fields(String::new());
        attrs.record(&mut fields);
        self.0.lock().push((attrs.metadata().name().to_string(), fields.0));
    }
}

#[tokio::test]
async fn a_send_is_traced_through_the_store_and_the_fanout_with_its_ids() {
    use tracing_subscriber::layer::SubscriberExt;
    // With a single dispatcher registered, `tracing` decides whether a callsite is enabled from
    // the dispatcher of whichever thread reaches it first: another test's thread, with none, would
    // disable these spans for good. A second live dispatcher makes it ask every dispatcher.
    let _second = tracing::Dispatch::new(tracing_subscriber::registry());
    let recorder = SpanRecorder::default();
    let _default = tracing::subscriber::set_default(tracing_subscriber::registry().with(recorder.clone()));
    let t = TestApp::new(ServerConfig::default());
    let id = pair(&t).await;
    let mut bob = t.device("bob", "bob-phone");
    let sent = t.app.messages().send(
        "alice",
        &id,
        Some("traced-1".into()),
        &text("hi"),
        Default::default(),
        Via::Rest,
    );
    sent.await.unwrap();
    loop {
        if matches!(bob.next().await.frame, ServerFrame::MessageNew(m) if m.message_id == "traced-1") {
            break;
        }
    }
    let spans = recorder.0.lock().clone();
    for name in ["store.append", "fanout"] {
        assert!(
            spans.iter().any(|(n, fields)| n == name
                && fields.contains(&format!("conversation={id}"))
                && fields.contains("message=traced-1")),
            "no {name} span with the conversation and message ids in {spans:?}"
        );
    }
}
