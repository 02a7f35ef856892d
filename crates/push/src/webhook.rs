//! The operator's push webhook: each push for a [`Target::Webhook`] subscription is POSTed as JSON
//! to the operator's URL, for an application backend that reaches its devices its own way:
//!
//! ```json
//! {"type": "push", "eventId": "…", "userId": "…", "deviceId": "…",
//!  "notification": {"conversationId": "…", "messageId": "…", "sequenceNumber": 7, "count": 1, …}}
//! ```
//!
//! Signed as the server's event webhooks are: `Confab-Signature: t=<unix seconds>,v1=<lowercase
//! hex of HMAC-SHA256(secret, "<t>.<body>")>`. `Confab-Event-Id` (also `eventId` in the body) is
//! the same for every attempt of one push (a hash of user, device, conversation and message), so
//! the backend can drop repeats. The endpoint answers `2xx` when it took the push; `410` deletes
//! the subscription; `408`, `429` and `5xx` are retried; any other status is final.

use std::fmt;

use async_trait::async_trait;
use confab_proto::{PushKind, PushPayload};
use hmac::{Hmac, Mac};
use reqwest::header::CONTENT_TYPE;
use serde::Serialize;
use sha2::{Digest, Sha256};
use url::Url;

use crate::http::{self, unix_now};
use crate::{ClientOptions, Notification, Provider, PushError, Target};

/// The most a webhook body carries of a notification (the preview is cut to fit).
const MAX_BODY: usize = 64 * 1024;

/// Where push webhooks go.
#[derive(Clone)]
pub struct WebhookConfig {
    /// The operator's endpoint (`http` or `https`: it is the operator's own, so any address).
    pub url: Url,
    /// The HMAC key of `Confab-Signature`.
    pub secret: String,
    pub http: ClientOptions,
}

impl WebhookConfig {
    pub fn new(url: Url, secret: impl Into<String>) -> WebhookConfig {
        WebhookConfig { url, secret: secret.into(), http: ClientOptions::default() }
    }
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.url.as_str())
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

/// Delivers [`Target::Webhook`] pushes to the operator's endpoint.
#[derive(Debug)]
pub struct WebhookProvider {
    config: WebhookConfig,
    client: reqwest::Client,
}

impl WebhookProvider {
    pub fn new(config: WebhookConfig) -> Result<WebhookProvider, PushError> {
        if !matches!(config.url.scheme(), "http" | "https") || config.url.host().is_none() {
            return Err(PushError::Config("the push webhook URL must be an http(s) URL".into()));
        }
        if config.secret.is_empty() {
            return Err(PushError::Config("the push webhook needs a secret to sign with".into()));
        }
        Ok(WebhookProvider { client: http::build(http::client_builder(&config.http)?)?, config })
    }
}

/// The request body.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    event_id: &'a str,
    user_id: &'a str,
    device_id: &'a str,
    notification: PushPayload,
}

/// The `Confab-Signature` header of `body` sent at `timestamp` (unix seconds), as
/// confab-server's event webhooks sign.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail; an empty tag would only
    // make the receiver refuse the request.
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()) else {
        return format!("t={timestamp},v1=");
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

/// The push's event id: a UUID (version 8) from a hash of whom and what it notifies, so every
/// attempt, on any node, carries the same one.
pub fn event_id(user_id: &str, device_id: &str, notification: &Notification) -> String {
    let mut hash = Sha256::new();
    hash.update(b"confab-push webhook event\0");
    for part in [user_id, device_id, &notification.conversation_id, &notification.message_id] {
        // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid().to_string()
}

#[async_trait]
impl Provider for WebhookProvider {
    fn kind(&self) -> PushKind {
        PushKind::Webhook
    }

    async fn send(&self, target: &Target, notification: &Notification) -> Result<(), PushError> {
        let Target::Webhook { user_id, device_id } = target else {
            return Err(PushError::Config(format!(
                "webhook provider given a {} target",
                target.kind().as_str()
            )));
        };
        let event_id = event_id(user_id, device_id, notification);
        let body = notification.fit(MAX_BODY, |n| {
            let envelope =
                Envelope { kind: "push", event_id: &event_id, user_id, device_id, notification: n.payload() };
            serde_json::to_vec(&envelope).map_err(|e| PushError::Rejected(format!("webhook body: {e}")))
        })?;
        let timestamp = i64::try_from(unix_now()).unwrap_or(i64::MAX);
        let response = self
            .client
            .post(self.config.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header("confab-event-id", &event_id)
            .header("confab-signature", signature(&self.config.secret, timestamp, &body))
            .body(body)
            .send()
            .await
            .map_err(http::transport_error)?;
        if response.status().is_success() {
            return Ok(());
        }
        let (status, headers, detail) = http::read(response).await;
        Err(match status.as_u16() {
            410 => PushError::Gone(http::describe(status, &detail)),
            _ if http::is_transient(status) => http::retry_status(status, &headers, &detail),
            _ => PushError::Rejected(http::describe(status, &detail)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notification::tests::sample;

    #[test]
    fn the_signature_is_the_event_webhooks_one() {
        // The same vector as confab-server's webhook test (Python's hmac module).
        assert_eq!(
            signature("secret", 1_700_000_000, b"{}"),
            "t=1700000000,v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
    }

    #[test]
    fn event_ids_are_stable_uuids_per_device_and_message() {
        let id = event_id("u1", "d1", &sample());
        assert_eq!(id, event_id("u1", "d1", &sample()));
        let parsed = uuid::Uuid::parse_str(&id).unwrap();
        assert_eq!(parsed.get_version_num(), 8);
        assert_ne!(id, event_id("u1", "d2", &sample()));
        assert_ne!(event_id("u1", "d1", &sample()), event_id("u", "1d1", &sample()));
        let mut later = sample();
        later.message_id = "m10".into();
        assert_ne!(id, event_id("u1", "d1", &later));
    }

    #[test]
    fn the_configuration_is_checked() {
        let url = Url::parse("http://backend.internal:8080/push").unwrap();
        assert!(WebhookProvider::new(WebhookConfig::new(url.clone(), "s")).is_ok());
        assert!(matches!(WebhookProvider::new(WebhookConfig::new(url, "")), Err(PushError::Config(_))));
        let ftp = Url::parse("ftp://backend/push").unwrap();
        assert!(matches!(WebhookProvider::new(WebhookConfig::new(ftp, "s")), Err(PushError::Config(_))));
        let config = WebhookConfig::new(Url::parse("https://x.example").unwrap(), "topsecret");
        assert!(!format!("{config:?}").contains("topsecret"));
    }
}
