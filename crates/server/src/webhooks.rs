//! Webhooks: what happens on this server, POSTed as JSON to the operator's URL (`--webhook-url`)
//! so an application backend can react: `message.created`, `member.joined`, `member.left`,
//! `user.registered`. Each request is signed with HMAC-SHA256 under `--webhook-secret`
//! (`Confab-Signature: t=<unix seconds>,v1=<hex of HMAC(secret, "<t>.<body>")>`) and retried with
//! exponential backoff while the endpoint fails (a network error, `408`, `429` or `5xx`); another
//! `4xx` is final.
//!
//! Events leave the node that made them, once each (in a cluster, the node that committed the
//! message or the change), in the order they happened, one request at a time. The queue is in
//! memory and bounded ([`QUEUE`]): a node that stops loses what it had not delivered yet, and a
//! full queue drops new events (`confab_webhook_events_total{outcome="dropped"}`); applications
//! that must see every message reconcile with history or sync.

use std::time::Duration;

use confab_proto::{Message, User};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use tokio::sync::mpsc;

/// Events waiting for delivery before new ones are dropped.
pub const QUEUE: usize = 10_000;
/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Where and how events are delivered.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub url: String,
    pub secret: String,
    /// Attempts per event, the first included.
    pub max_attempts: u32,
    /// Wait before the first retry; each further retry waits twice as long (at most a minute).
    pub retry_base: Duration,
}

impl WebhookConfig {
    pub fn new(url: String, secret: String) -> WebhookConfig {
        WebhookConfig { url, secret, max_attempts: 8, retry_base: Duration::from_millis(500) }
    }
}

/// One event, as the `type` and `data` of the request body.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", content = "data")]
pub enum WebhookEvent {
    /// A new message was stored (sent by a member, or published through the server API).
    #[serde(rename = "message.created")]
    MessageCreated { message: Box<Message> },
    /// Users became members of a conversation (it was created with them, or they were added).
    #[serde(rename = "member.joined", rename_all = "camelCase")]
    MemberJoined { conversation_id: String, user_ids: Vec<String>, actor_id: String },
    /// A member left a group or was removed from it.
    #[serde(rename = "member.left", rename_all = "camelCase")]
    MemberLeft { conversation_id: String, user_id: String, actor_id: String },
    /// Someone registered, or was provisioned from an application's token.
    #[serde(rename = "user.registered")]
    UserRegistered { user: User },
}

/// The request body: the event with its id and time.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    event_id: String,
    created_at: i64,
    #[serde(flatten)]
    event: WebhookEvent,
}

/// The node's webhook sender: cheap to clone; does nothing when no URL is configured.
#[derive(Clone, Default)]
pub struct Webhooks {
    queue: Option<mpsc::Sender<Envelope>>,
}

impl Webhooks {
    /// Starts the delivery task (so it must run inside a tokio runtime); `None` sends nothing.
    pub fn start(config: Option<WebhookConfig>) -> Webhooks {
        let Some(config) = config else { return Webhooks::default() };
        let (queue, events) = mpsc::channel(QUEUE);
        tokio::spawn(deliver(config, events));
        Webhooks { queue: Some(queue) }
    }

    /// Whether events are delivered at all (callers skip building events otherwise).
    pub fn enabled(&self) -> bool {
        self.queue.is_some()
    }

    /// Queues `event` without waiting; dropped (and counted) when the queue is full.
    pub fn emit(&self, event: WebhookEvent) {
        let Some(queue) = &self.queue else { return };
        let envelope = Envelope {
            event_id: confab_core::ids::new_id(),
            created_at: confab_core::ids::now_millis(),
            event,
        };
        if queue.try_send(envelope).is_err() {
            metrics::counter!(crate::metrics::WEBHOOK_EVENTS, "outcome" => "dropped").increment(1);
            tracing::warn!("webhook queue full: an event was dropped");
        }
    }
}

/// The `Confab-Signature` header of `body` sent at `timestamp` (unix seconds).
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

/// How one attempt ended.
enum Attempt {
    Delivered,
    /// Worth trying again later.
    Retry(String),
    /// The endpoint refused the event for good.
    Refused(String),
}

async fn deliver(config: WebhookConfig, mut events: mpsc::Receiver<Envelope>) {
    let http = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap_or_else(|_| reqwest::Client::new());
    while let Some(envelope) = events.recv().await {
        let body = match serde_json::to_vec(&envelope) {
            Ok(body) => body,
            Err(e) => {
                tracing::error!(error = %e, "webhook event not serializable");
                continue;
            }
        };
        let mut wait = config.retry_base;
        let mut attempt = 1;
        let outcome = loop {
            match post(&http, &config, &envelope.event_id, &body).await {
                Attempt::Delivered => break "delivered",
                Attempt::Refused(why) => {
                    tracing::warn!(event = %envelope.event_id, %why, "webhook refused");
                    break "failed";
                }
                Attempt::Retry(why) if attempt >= config.max_attempts => {
                    tracing::warn!(event = %envelope.event_id, %why, attempt, "webhook given up");
                    break "failed";
                }
                Attempt::Retry(why) => {
                    tracing::debug!(event = %envelope.event_id, %why, attempt, "webhook retried");
                    metrics::counter!(crate::metrics::WEBHOOK_RETRIES).increment(1);
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(MAX_BACKOFF);
                    attempt += 1;
                }
            }
        };
        metrics::counter!(crate::metrics::WEBHOOK_EVENTS, "outcome" => outcome).increment(1);
    }
}

async fn post(http: &reqwest::Client, config: &WebhookConfig, event_id: &str, body: &[u8]) -> Attempt {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let sent = http
        .post(&config.url)
        .header("content-type", "application/json")
        .header("confab-event-id", event_id)
        .header("confab-signature", signature(&config.secret, now, body))
        .body(body.to_vec())
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => Attempt::Delivered,
        Ok(r) => {
            let status = r.status();
            let transient = status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429;
            if transient {
                Attempt::Retry(format!("status {status}"))
            } else {
                Attempt::Refused(format!("status {status}"))
            }
        }
        Err(e) => Attempt::Retry(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_the_timestamp_and_the_body() {
        let s = signature("secret", 1_700_000_000, b"{}");
        // HMAC-SHA256("secret", "1700000000.{}"), computed independently (Python's hmac module).
        assert_eq!(s, "t=1700000000,v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163");
    }

    #[test]
    fn events_carry_their_type_and_camel_case_data() {
        let envelope = Envelope {
            event_id: "e1".into(),
            created_at: 5,
            event: WebhookEvent::MemberLeft {
                conversation_id: "c".into(),
                user_id: "u".into(),
                actor_id: "a".into(),
            },
        };
        let json = serde_json::to_value(&envelope).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"eventId": "e1", "createdAt": 5, "type": "member.left",
                "data": {"conversationId": "c", "userId": "u", "actorId": "a"}})
        );
    }
}
