//! The push webhook against a local HTTP server: the signature, the body, and the event id kept
//! across retries.

mod common;

use common::{notification, now, quick_retries, Exchange, Protocol, Server};
use confab_push::{
    send_with_retries, Attempts, Preview, Provider, PushError, Target, WebhookConfig, WebhookProvider,
};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use url::Url;

const SECRET: &str = "webhook-secret";

fn provider(server: &Server) -> WebhookProvider {
    WebhookProvider::new(WebhookConfig::new(Url::parse(&server.url("/hooks/push")).unwrap(), SECRET)).unwrap()
}

/// Verifies the request's signature as a receiver would; returns the event id.
fn verify(request: &Exchange) -> String {
    assert_eq!(request.method, "POST");
    assert_eq!(request.uri.path(), "/hooks/push");
    assert_eq!(request.header("content-type"), "application/json");
    let signature = request.header("confab-signature");
    let (t, v1) =
        signature.strip_prefix("t=").and_then(|rest| rest.split_once(",v1=")).expect("t=<seconds>,v1=<hex>");
    let t: u64 = t.parse().unwrap();
    assert!(t.abs_diff(now()) <= 5);
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(&request.body);
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(v1, expected);
    request.header("confab-event-id").to_owned()
}

#[tokio::test]
async fn a_signed_push_is_retried_with_the_same_event_id() {
    let mut server = Server::start(Protocol::Http1).await;
    let provider = provider(&server);
    let target = Target::webhook("user-1", "device-1");
    let n = notification().with_preview(Preview::Full);
    let send = tokio::spawn(async move { send_with_retries(&provider, &target, &n, &quick_retries()).await });

    let first = server.next().await;
    let event_id = verify(&first);
    assert!(uuid::Uuid::parse_str(&event_id).is_ok());
    assert_eq!(
        first.json(),
        serde_json::json!({"type": "push", "eventId": event_id, "userId": "user-1", "deviceId": "device-1",
            "notification": {"conversationId": "conv-1", "messageId": "msg-7", "sequenceNumber": 7, "count": 2,
                "senderName": "Alice", "preview": "See you at 10", "title": "Team"}})
    );
    first.respond(503, &[], "busy");

    let second = server.next().await;
    assert_eq!(verify(&second), event_id);
    second.respond(204, &[], "");
    assert_eq!(send.await.unwrap(), Ok(Attempts(2)));
}

#[tokio::test]
async fn answers_map_to_outcomes() {
    let mut server = Server::start(Protocol::Http1).await;
    let provider = std::sync::Arc::new(provider(&server));
    for (status, expected) in
        [(200, "ok"), (410, "gone"), (404, "rejected"), (400, "rejected"), (500, "retry")]
    {
        let send = {
            let provider = provider.clone();
            tokio::spawn(async move { provider.send(&Target::webhook("u", "d"), &notification()).await })
        };
        server.next().await.respond(status, &[], "");
        let outcome = match send.await.unwrap() {
            Ok(()) => "ok",
            Err(PushError::Gone(_)) => "gone",
            Err(PushError::Rejected(_)) => "rejected",
            Err(PushError::Retry { .. }) => "retry",
            Err(PushError::Config(_)) => "config",
        };
        assert_eq!(outcome, expected, "{status}");
    }
}
