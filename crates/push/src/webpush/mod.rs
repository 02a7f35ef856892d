//! Web Push: a POST to the subscription's endpoint at the browser's push service (RFC 8030), the
//! payload encrypted to the browser (RFC 8291, in [`ece`]) and the request signed with the
//! server's VAPID key (RFC 8292, in [`vapid`]). Endpoints are user-supplied, so every request goes
//! through the [`EndpointPolicy`] (see [`crate::endpoint`]).

pub mod ece;
pub mod vapid;

use std::time::Duration;

use async_trait::async_trait;
use confab_proto::PushKind;
use reqwest::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE};
use url::Url;

pub use ece::{decrypt, encrypt, EceError};
pub use vapid::VapidKey;

use crate::endpoint::{validate_endpoint, EndpointPolicy};
use crate::http::{self, unix_now};
use crate::{ClientOptions, Notification, Provider, PushError, Target, WebPushKeys};

/// How Web Push is delivered.
#[derive(Debug, Clone)]
pub struct WebPushConfig {
    pub vapid: VapidKey,
    /// Who the push service can contact about this server's traffic: a `mailto:` or `https:`
    /// URL (the VAPID `sub` claim).
    pub subject: String,
    /// How long the push service keeps a notification for a browser that is offline (`TTL`,
    /// default one day).
    pub ttl: Duration,
    /// Whether to send the conversation's `Topic`, so a newer push replaces an undelivered older
    /// one at the push service (default on).
    pub topic: bool,
    pub policy: EndpointPolicy,
    pub http: ClientOptions,
}

impl WebPushConfig {
    pub fn new(vapid: VapidKey, subject: impl Into<String>) -> WebPushConfig {
        WebPushConfig {
            vapid,
            subject: subject.into(),
            ttl: Duration::from_secs(86_400),
            topic: true,
            policy: EndpointPolicy::default(),
            http: ClientOptions::default(),
        }
    }
}

/// Delivers to [`Target::WebPush`] subscriptions.
#[derive(Debug)]
pub struct WebPushProvider {
    config: WebPushConfig,
    client: reqwest::Client,
    tokens: vapid::TokenCache,
}

impl WebPushProvider {
    pub fn new(config: WebPushConfig) -> Result<WebPushProvider, PushError> {
        let subject = config.subject.as_str();
        let valid_subject = match subject.split_once(':') {
            Some(("mailto", rest)) => !rest.is_empty(),
            Some(("https", _)) => Url::parse(subject).is_ok_and(|u| u.host().is_some()),
            _ => false,
        };
        if !valid_subject {
            return Err(PushError::Config("the VAPID subject must be a mailto: or https: URL".into()));
        }
        let builder = http::client_builder(&config.http)?
            // Only addresses the policy permits, and no proxy: through one, the policy's checks
            // would not see where the request really goes.
            .dns_resolver(std::sync::Arc::new(config.policy.resolver()))
            .no_proxy();
        Ok(WebPushProvider { client: http::build(builder)?, config, tokens: vapid::TokenCache::default() })
    }

    /// `webPushPublicKey` of `GET /api/v1/push/config`.
    pub fn public_key_base64url(&self) -> String {
        self.config.vapid.public_key_base64url()
    }

    /// The request body: the payload JSON, shortened to fit one record, encrypted.
    fn body(&self, keys: &WebPushKeys, notification: &Notification) -> Result<Vec<u8>, PushError> {
        let plaintext = notification.fit(ece::MAX_PLAINTEXT, |n| {
            serde_json::to_vec(&n.payload()).map_err(|e| PushError::Rejected(format!("payload: {e}")))
        })?;
        encrypt(keys, &plaintext).map_err(|e| PushError::Rejected(format!("payload not encrypted: {e}")))
    }
}

#[async_trait]
impl Provider for WebPushProvider {
    fn kind(&self) -> PushKind {
        PushKind::WebPush
    }

    async fn send(&self, target: &Target, notification: &Notification) -> Result<(), PushError> {
        let Target::WebPush { endpoint, keys } = target else {
            return Err(PushError::Config(format!(
                "webpush provider given a {} target",
                target.kind().as_str()
            )));
        };
        // Checked again here: a subscription may predate a stricter check, or be built by hand.
        validate_endpoint(endpoint.as_str()).map_err(|e| PushError::Rejected(e.to_string()))?;
        self.config.policy.check_literal(endpoint).map_err(|e| PushError::Rejected(e.to_string()))?;

        let origin = endpoint.origin().ascii_serialization();
        let token = self.tokens.token(&self.config.vapid, &self.config.subject, &origin, unix_now())?;
        let body = self.body(keys, notification)?;

        let mut request = self
            .client
            .post(endpoint.clone())
            .header(CONTENT_ENCODING, "aes128gcm")
            .header(CONTENT_TYPE, "application/octet-stream")
            .header("ttl", self.config.ttl.as_secs().to_string())
            .header("urgency", "high")
            .header(AUTHORIZATION, format!("vapid t={token}, k={}", self.config.vapid.public_key_base64url()))
            .body(body);
        if self.config.topic {
            request = request.header("topic", notification.collapse_key());
        }
        let response = request.send().await.map_err(http::transport_error)?;
        if response.status().is_success() {
            return Ok(());
        }
        let (status, headers, detail) = http::read(response).await;
        Err(match status.as_u16() {
            // The browser unsubscribed, or the subscription expired.
            404 | 410 => PushError::Gone(http::describe(status, &detail)),
            _ if http::is_transient(status) => http::retry_status(status, &headers, &detail),
            _ => {
                tracing::debug!(%origin, status = status.as_u16(), "web push rejected");
                PushError::Rejected(http::describe(status, &detail))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subject_is_a_mailto_or_https_url() {
        let key = VapidKey::generate().unwrap();
        for good in ["mailto:ops@example.com", "https://chat.example.com/contact"] {
            assert!(WebPushProvider::new(WebPushConfig::new(key.clone(), good)).is_ok(), "{good}");
        }
        for bad in ["", "ops@example.com", "mailto:", "http://example.com", "https://"] {
            assert!(matches!(
                WebPushProvider::new(WebPushConfig::new(key.clone(), bad)),
                Err(PushError::Config(_))
            ));
        }
    }

    #[tokio::test]
    async fn other_targets_are_a_configuration_error() {
        let key = VapidKey::generate().unwrap();
        let provider = WebPushProvider::new(WebPushConfig::new(key, "mailto:a@b")).unwrap();
        let result =
            provider.send(&Target::Fcm { token: "t".into() }, &crate::notification::tests::sample()).await;
        assert!(matches!(result, Err(PushError::Config(_))));
    }
}
