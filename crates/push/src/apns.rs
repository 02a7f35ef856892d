//! Apple Push Notification service with token-based authentication: `POST /3/device/{token}` over
//! HTTP/2 (APNs speaks nothing else), authorised by an ES256 provider token signed with the team's
//! `.p8` key, reused for 50 minutes (Apple refuses tokens older than an hour and throttles
//! providers that renew them too often).
//!
//! Every push is a visible `alert`: with [`crate::Preview::Hidden`] it says only "New message"
//! ("N new messages"). `mutable-content` lets the app's notification service extension fetch and
//! show the message itself.
//!
//! A caution for operators: Apple answers `BadDeviceToken` for a token of the other environment
//! (a development build's token sent to production), and that deletes the subscription as
//! [`PushError::Gone`]. Configure [`ApnsEnvironment`] to match the app's build.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use confab_proto::PushKind;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::StatusCode;
use serde::Serialize;
use serde_json::{json, Value};
use url::Url;

use crate::http::{self, unix_now};
use crate::target::validate_apns_token;
use crate::{ClientOptions, Notification, Provider, PushError, Target};

/// A provider token is replaced after this long.
pub const TOKEN_REFRESH: Duration = Duration::from_secs(50 * 60);
/// APNs caps a notification's payload at 4 KiB.
const MAX_BODY: usize = 4096;

/// Which APNs environment the app's tokens belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApnsEnvironment {
    /// Development builds: `https://api.sandbox.push.apple.com`.
    Sandbox,
    /// App Store, TestFlight and ad hoc builds: `https://api.push.apple.com`.
    Production,
}

impl ApnsEnvironment {
    /// `sandbox` or `production`.
    pub fn parse(s: &str) -> Option<ApnsEnvironment> {
        match s {
            "sandbox" => Some(ApnsEnvironment::Sandbox),
            "production" => Some(ApnsEnvironment::Production),
            _ => None,
        }
    }

    pub fn base_url(self) -> &'static str {
        match self {
            ApnsEnvironment::Sandbox => "https://api.sandbox.push.apple.com",
            ApnsEnvironment::Production => "https://api.push.apple.com",
        }
    }
}

/// The team's APNs authentication key (`AuthKey_<key id>.p8`).
#[derive(Clone)]
pub struct ApnsKey {
    key_id: String,
    team_id: String,
    signing: EncodingKey,
}

impl ApnsKey {
    /// The `.p8` file's text (a PKCS#8 PEM P-256 key), its 10-character key id and the team id.
    pub fn from_pem(pem: &str, key_id: &str, team_id: &str) -> Result<ApnsKey, PushError> {
        let id_like =
            |s: &str| !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_alphanumeric());
        if !id_like(key_id) {
            return Err(PushError::Config("APNs key id must be alphanumeric".into()));
        }
        if !id_like(team_id) {
            return Err(PushError::Config("APNs team id must be alphanumeric".into()));
        }
        let secret = p256::SecretKey::from_pkcs8_pem(pem.trim())
            .map_err(|_| PushError::Config("APNs key is not a PKCS#8 PEM P-256 key (.p8)".into()))?;
        let der = secret.to_pkcs8_der().map_err(|e| PushError::Config(format!("APNs key: {e}")))?;
        Ok(ApnsKey {
            key_id: key_id.to_owned(),
            team_id: team_id.to_owned(),
            signing: EncodingKey::from_ec_der(der.as_bytes()),
        })
    }

    /// A provider token issued at `now` (unix seconds).
    fn token(&self, now: u64) -> Result<String, PushError> {
        #[derive(Serialize)]
        struct Claims<'a> {
            iss: &'a str,
            iat: u64,
        }
        // Apple's header is exactly `alg` and `kid`.
        let mut header = Header::new(Algorithm::ES256);
        header.typ = None;
        header.kid = Some(self.key_id.clone());
        jsonwebtoken::encode(&header, &Claims { iss: &self.team_id, iat: now }, &self.signing)
            .map_err(|e| PushError::Config(format!("APNs provider token not signed: {e}")))
    }
}

impl fmt::Debug for ApnsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApnsKey")
            .field("key_id", &self.key_id)
            .field("team_id", &self.team_id)
            .finish_non_exhaustive()
    }
}

/// How APNs is reached.
#[derive(Debug, Clone)]
pub struct ApnsConfig {
    pub key: ApnsKey,
    /// The app's bundle id (`apns-topic`).
    pub topic: String,
    pub environment: ApnsEnvironment,
    /// Overrides the environment's URL (tests use a local `http://` HTTP/2 server).
    pub base_url: Option<Url>,
    /// How long APNs keeps a notification for an offline device (`apns-expiration`, default one
    /// day).
    pub ttl: Duration,
    pub http: ClientOptions,
}

impl ApnsConfig {
    pub fn new(key: ApnsKey, topic: impl Into<String>, environment: ApnsEnvironment) -> ApnsConfig {
        ApnsConfig {
            key,
            topic: topic.into(),
            environment,
            base_url: None,
            ttl: Duration::from_secs(86_400),
            http: ClientOptions::default(),
        }
    }
}

/// Delivers to [`Target::Apns`] device tokens.
pub struct ApnsProvider {
    config: ApnsConfig,
    client: reqwest::Client,
    /// The base URL without a trailing `/`.
    base: String,
    /// The provider token and when it was made; a std mutex, as signing does not wait.
    token: Mutex<Option<(String, Instant)>>,
}

impl ApnsProvider {
    pub fn new(config: ApnsConfig) -> Result<ApnsProvider, PushError> {
        if config.topic.is_empty() || !config.topic.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(PushError::Config("APNs topic (the app's bundle id) is missing".into()));
        }
        let base = match &config.base_url {
            Some(url) => url.as_str().trim_end_matches('/').to_owned(),
            None => config.environment.base_url().to_owned(),
        };
        // HTTP/2 only: over TLS, ALPN offers only `h2`; over plain HTTP (tests), prior knowledge.
        let builder = http::client_builder(&config.http)?.http2_prior_knowledge();
        Ok(ApnsProvider { client: http::build(builder)?, config, base, token: Mutex::new(None) })
    }

    /// The provider token, renewed after [`TOKEN_REFRESH`].
    fn provider_token(&self) -> Result<String, PushError> {
        let mut cached =
            self.token.lock().map_err(|_| PushError::Config("APNs token cache poisoned".into()))?;
        if let Some((token, made)) = cached.as_ref() {
            if made.elapsed() < TOKEN_REFRESH {
                return Ok(token.clone());
            }
        }
        let token = self.config.key.token(unix_now())?;
        *cached = Some((token.clone(), Instant::now()));
        Ok(token)
    }

    /// Forgets `used` unless it was already replaced.
    fn drop_token(&self, used: &str) {
        if let Ok(mut cached) = self.token.lock() {
            if cached.as_ref().is_some_and(|(t, _)| t == used) {
                *cached = None;
            }
        }
    }

    async fn post(
        &self,
        token: &str,
        device: &str,
        body: &[u8],
        collapse_id: &str,
    ) -> Result<reqwest::Response, PushError> {
        let expiration = unix_now() + self.config.ttl.as_secs();
        self.client
            .post(format!("{}/3/device/{device}", self.base))
            .header(AUTHORIZATION, format!("bearer {token}"))
            .header("apns-topic", &self.config.topic)
            .header("apns-push-type", "alert")
            .header("apns-priority", "10")
            .header("apns-collapse-id", collapse_id)
            .header("apns-expiration", expiration.to_string())
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_vec())
            .send()
            .await
            .map_err(http::transport_error)
    }
}

/// The notification body: `aps` and the payload's keys beside it.
fn body(n: &Notification) -> Result<Value, PushError> {
    let alert = match n.alert() {
        Some(alert) => {
            let mut shown = json!({"body": alert.body});
            if let Some(title) = alert.title {
                shown["title"] = json!(title);
            }
            shown
        }
        None => json!({"body": n.generic_text()}),
    };
    let mut aps =
        json!({"alert": alert, "thread-id": n.conversation_id, "sound": "default", "mutable-content": 1});
    if let Some(badge) = n.badge {
        aps["badge"] = json!(badge);
    }
    let mut body =
        serde_json::to_value(n.payload()).map_err(|e| PushError::Rejected(format!("payload: {e}")))?;
    body["aps"] = aps;
    Ok(body)
}

/// APNs's error body: `{"reason": "…"}`.
fn reason(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["reason"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// What a non-success response with `reason` means.
fn classify(status: StatusCode, headers: &reqwest::header::HeaderMap, reason: &str) -> PushError {
    let what = http::describe(status, reason);
    match (status.as_u16(), reason) {
        // The app was uninstalled or the token expired; or the token is not a token (in this
        // environment).
        (410, _) | (400, "BadDeviceToken") => PushError::Gone(what),
        (400, "BadTopic" | "MissingTopic" | "TopicDisallowed") => PushError::Config(what),
        (403, _) => PushError::Config(what),
        _ if http::is_transient(status) => http::retry_status(status, headers, reason),
        // DeviceTokenNotForTopic, PayloadTooLarge, BadCollapseId, …: this push only.
        _ => PushError::Rejected(what),
    }
}

#[async_trait]
impl Provider for ApnsProvider {
    fn kind(&self) -> PushKind {
        PushKind::Apns
    }

    async fn send(&self, target: &Target, notification: &Notification) -> Result<(), PushError> {
        let Target::Apns { token: device } = target else {
            return Err(PushError::Config(format!(
                "apns provider given a {} target",
                target.kind().as_str()
            )));
        };
        // The token goes into the path: never anything but hex there.
        validate_apns_token(device).map_err(|e| PushError::Rejected(e.to_string()))?;
        let payload = notification.fit(MAX_BODY, |n| {
            serde_json::to_vec(&body(n)?).map_err(|e| PushError::Rejected(format!("payload: {e}")))
        })?;
        let collapse_id = notification.collapse_key();

        let mut used = self.provider_token()?;
        let mut response = self.post(&used, device, &payload, &collapse_id).await?;
        if response.status() == StatusCode::FORBIDDEN {
            let (status, headers, detail) = http::read(response).await;
            if reason(&detail) != "ExpiredProviderToken" {
                return Err(classify(status, &headers, &reason(&detail)));
            }
            // The token aged out before its refresh (a suspended host, a skewed clock): one more
            // try with a new one.
            self.drop_token(&used);
            used = self.provider_token()?;
            response = self.post(&used, device, &payload, &collapse_id).await?;
        }
        if response.status().is_success() {
            return Ok(());
        }
        let (status, headers, detail) = http::read(response).await;
        let reason = reason(&detail);
        if reason == "ExpiredProviderToken" || reason == "InvalidProviderToken" {
            self.drop_token(&used);
        }
        Err(classify(status, &headers, &reason))
    }
}

impl fmt::Debug for ApnsProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApnsProvider")
            .field("config", &self.config)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderMap;

    use super::*;
    use crate::notification::tests::sample;
    use crate::Preview;

    fn key() -> ApnsKey {
        let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let pem = secret.to_pkcs8_pem(p256::pkcs8::LineEnding::LF).unwrap();
        ApnsKey::from_pem(&pem, "ABC123DEFG", "TEAM123456").unwrap()
    }

    #[test]
    fn bodies_carry_aps_and_the_payload() {
        assert_eq!(
            body(&sample()).unwrap(),
            json!({"aps": {"alert": {"title": "Team", "body": "Alice: Lunch at noon?"}, "badge": 5,
                    "thread-id": "c1", "sound": "default", "mutable-content": 1},
                "conversationId": "c1", "messageId": "m9", "sequenceNumber": 42, "count": 3,
                "senderName": "Alice", "preview": "Lunch at noon?", "title": "Team"})
        );
        let mut hidden = sample().with_preview(Preview::Hidden);
        hidden.badge = None;
        assert_eq!(
            body(&hidden).unwrap(),
            json!({"aps": {"alert": {"body": "3 new messages"}, "thread-id": "c1", "sound": "default",
                    "mutable-content": 1},
                "conversationId": "c1", "messageId": "m9", "sequenceNumber": 42, "count": 3})
        );
    }

    #[test]
    fn errors_by_reason() {
        let h = HeaderMap::new();
        let c = |s: u16, r: &str| classify(StatusCode::from_u16(s).unwrap(), &h, r);
        assert!(matches!(c(410, "Unregistered"), PushError::Gone(_)));
        assert!(matches!(c(410, "ExpiredToken"), PushError::Gone(_)));
        assert!(matches!(c(400, "BadDeviceToken"), PushError::Gone(_)));
        assert!(matches!(c(400, "DeviceTokenNotForTopic"), PushError::Rejected(_)));
        assert!(matches!(c(413, "PayloadTooLarge"), PushError::Rejected(_)));
        assert!(matches!(c(400, "BadTopic"), PushError::Config(_)));
        assert!(matches!(c(403, "InvalidProviderToken"), PushError::Config(_)));
        assert!(matches!(c(429, "TooManyRequests"), PushError::Retry { .. }));
        assert!(matches!(c(500, "InternalServerError"), PushError::Retry { .. }));
        assert!(matches!(c(503, "ServiceUnavailable"), PushError::Retry { .. }));
        assert_eq!(reason(r#"{"reason":"BadDeviceToken"}"#), "BadDeviceToken");
        assert_eq!(reason("<html>"), "");
    }

    #[test]
    fn keys_and_ids_are_checked() {
        let pem = p256::SecretKey::random(&mut rand::rngs::OsRng)
            .to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
            .unwrap();
        assert!(ApnsKey::from_pem(&pem, "ABC123DEFG", "TEAM123456").is_ok());
        assert!(matches!(ApnsKey::from_pem("not a key", "A", "B"), Err(PushError::Config(_))));
        assert!(matches!(ApnsKey::from_pem(&pem, "", "B"), Err(PushError::Config(_))));
        assert!(matches!(ApnsKey::from_pem(&pem, "A", "B\"C"), Err(PushError::Config(_))));
        assert_eq!(ApnsEnvironment::parse("sandbox"), Some(ApnsEnvironment::Sandbox));
        assert_eq!(
            ApnsEnvironment::parse("production").map(|e| e.base_url()),
            Some("https://api.push.apple.com")
        );
        assert_eq!(ApnsEnvironment::parse("prod"), None);
        let config = ApnsConfig::new(key(), "", ApnsEnvironment::Sandbox);
        assert!(matches!(ApnsProvider::new(config), Err(PushError::Config(_))));
    }

    #[test]
    fn provider_tokens_have_apples_header_and_claims() {
        let token = key().token(1_700_000_000).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(
            (header.alg, header.kid.as_deref(), header.typ),
            (Algorithm::ES256, Some("ABC123DEFG"), None)
        );
        let claims = token.split('.').nth(1).unwrap();
        use base64::Engine as _;
        let claims: Value =
            serde_json::from_slice(&crate::target::BASE64URL.decode(claims).unwrap()).unwrap();
        assert_eq!(claims, json!({"iss": "TEAM123456", "iat": 1_700_000_000u64}));
    }
}
