//! Firebase Cloud Messaging, HTTP v1 API: `POST /v1/projects/{project}/messages:send` with an
//! OAuth2 access token obtained from a Google service account (the JWT-bearer grant, RFC 7523),
//! cached until shortly before it expires and refreshed by one request at a time.
//!
//! The message is `data` (the payload, as strings) for the app, plus a visible `notification`
//! only when the preview shows names or text: with [`crate::Preview::Hidden`] the message is
//! data-only and the app renders its own generic notification.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use confab_proto::PushKind;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::AUTHORIZATION;
use reqwest::StatusCode;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::DecodePrivateKey;
use rsa::RsaPrivateKey;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use url::Url;

use crate::http::{self, unix_now};
use crate::{ClientOptions, Notification, Provider, PushError, Target};

/// The production API.
pub const DEFAULT_BASE_URL: &str = "https://fcm.googleapis.com";
/// The OAuth2 scope for sending messages.
pub const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// How long the signed assertion is valid (Google's maximum).
const ASSERTION_LIFETIME_SECS: u64 = 3600;
/// A cached access token is replaced this long before it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);
/// FCM caps a message at 4 KiB.
const MAX_BODY: usize = 4096;

/// A Google service account key (the JSON file the Firebase console downloads).
#[derive(Clone)]
pub struct ServiceAccount {
    project_id: String,
    client_email: String,
    token_uri: Url,
    private_key_id: Option<String>,
    /// The RSA key as PKCS#1 DER, what the JWT signer takes.
    signing: EncodingKey,
}

impl ServiceAccount {
    /// Reads the key file's JSON: `type` must be `service_account`; `project_id`, `client_email`,
    /// `private_key` (RSA, PEM) and `token_uri` are used.
    pub fn from_json(json: &str) -> Result<ServiceAccount, PushError> {
        #[derive(Deserialize)]
        struct File {
            #[serde(rename = "type")]
            kind: String,
            project_id: String,
            private_key: String,
            #[serde(default)]
            private_key_id: Option<String>,
            client_email: String,
            token_uri: String,
        }
        let file: File = serde_json::from_str(json)
            .map_err(|e| PushError::Config(format!("FCM service account file: {e}")))?;
        if file.kind != "service_account" {
            return Err(PushError::Config(format!(
                "FCM credentials are of type {:?}, not service_account",
                file.kind
            )));
        }
        // It becomes a path segment: letters, digits and `-`, `.`, `:` (domain-scoped projects),
        // starting with a letter or digit so it can never be `..`.
        let project_id_ok = file.project_id.starts_with(|c: char| c.is_ascii_alphanumeric())
            && file
                .project_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b':');
        if !project_id_ok {
            return Err(PushError::Config("FCM service account has no valid project_id".into()));
        }
        let token_uri =
            Url::parse(&file.token_uri).ok().filter(|u| matches!(u.scheme(), "https" | "http")).ok_or_else(
                || PushError::Config("FCM service account's token_uri is not an http(s) URL".into()),
            )?;
        // Google issues PKCS#8 ("BEGIN PRIVATE KEY"); PKCS#1 is accepted too.
        let key = RsaPrivateKey::from_pkcs8_pem(&file.private_key)
            .or_else(|_| RsaPrivateKey::from_pkcs1_pem(&file.private_key))
            .map_err(|_| {
                PushError::Config("FCM service account's private_key is not an RSA PEM key".into())
            })?;
        let der = key
            .to_pkcs1_der()
            .map_err(|e| PushError::Config(format!("FCM service account's private_key: {e}")))?;
        Ok(ServiceAccount {
            project_id: file.project_id,
            client_email: file.client_email,
            token_uri,
            private_key_id: file.private_key_id.filter(|id| !id.is_empty()),
            signing: EncodingKey::from_rsa_der(der.as_bytes()),
        })
    }

    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    pub fn client_email(&self) -> &str {
        &self.client_email
    }

    pub fn token_uri(&self) -> &Url {
        &self.token_uri
    }

    /// The signed JWT-bearer assertion issued at `now` (unix seconds).
    fn assertion(&self, now: u64) -> Result<String, PushError> {
        #[derive(Serialize)]
        struct Claims<'a> {
            iss: &'a str,
            scope: &'a str,
            aud: &'a str,
            iat: u64,
            exp: u64,
        }
        let mut header = Header::new(Algorithm::RS256);
        header.kid = self.private_key_id.clone();
        let claims = Claims {
            iss: &self.client_email,
            scope: SCOPE,
            aud: self.token_uri.as_str(),
            iat: now,
            exp: now + ASSERTION_LIFETIME_SECS,
        };
        jsonwebtoken::encode(&header, &claims, &self.signing)
            .map_err(|e| PushError::Config(format!("FCM assertion not signed: {e}")))
    }
}

impl fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("project_id", &self.project_id)
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri.as_str())
            .finish_non_exhaustive()
    }
}

/// How FCM is reached.
#[derive(Debug, Clone)]
pub struct FcmConfig {
    pub service_account: ServiceAccount,
    /// Overrides the API's base URL, [`DEFAULT_BASE_URL`] (tests point it at a local server).
    pub base_url: Option<Url>,
    /// How long FCM keeps a message for an offline device (`android.ttl`, default one day).
    pub ttl: Duration,
    pub http: ClientOptions,
}

impl FcmConfig {
    pub fn new(service_account: ServiceAccount) -> FcmConfig {
        FcmConfig {
            service_account,
            base_url: None,
            ttl: Duration::from_secs(86_400),
            http: ClientOptions::default(),
        }
    }
}

struct AccessToken {
    value: String,
    refresh_at: Instant,
}

/// Delivers to [`Target::Fcm`] registration tokens.
pub struct FcmProvider {
    config: FcmConfig,
    client: reqwest::Client,
    send_url: Url,
    /// A tokio mutex held across the token request, so concurrent sends wait for one refresh
    /// instead of each asking Google for a token.
    token: tokio::sync::Mutex<Option<AccessToken>>,
}

impl FcmProvider {
    pub fn new(config: FcmConfig) -> Result<FcmProvider, PushError> {
        let client = http::build(http::client_builder(&config.http)?)?;
        let path = format!("v1/projects/{}/messages:send", config.service_account.project_id);
        let base = match &config.base_url {
            Some(url) => url.clone(),
            None => {
                Url::parse(DEFAULT_BASE_URL).map_err(|e| PushError::Config(format!("FCM base URL: {e}")))?
            }
        };
        let send_url = base_with_slash(&base)
            .join(&path)
            .map_err(|e| PushError::Config(format!("FCM base URL: {e}")))?;
        Ok(FcmProvider { config, client, send_url, token: tokio::sync::Mutex::new(None) })
    }

    /// The cached access token, or a new one.
    async fn access_token(&self) -> Result<String, PushError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| Instant::now() < t.refresh_at) {
            return Ok(token.value.clone());
        }
        let fresh = self.fetch_token().await?;
        let value = fresh.value.clone();
        *cached = Some(fresh);
        Ok(value)
    }

    /// Forgets `used` unless another send already replaced it.
    async fn drop_token(&self, used: &str) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|t| t.value == used) {
            *cached = None;
        }
    }

    async fn fetch_token(&self) -> Result<AccessToken, PushError> {
        #[derive(Deserialize)]
        struct Granted {
            access_token: String,
            #[serde(default)]
            expires_in: Option<u64>,
        }
        let account = &self.config.service_account;
        let assertion = account.assertion(unix_now())?;
        let requested_at = Instant::now();
        let response = self
            .client
            .post(account.token_uri.clone())
            .form(&[("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", &assertion)])
            .send()
            .await
            .map_err(http::transport_error)?;
        let (status, headers, body) = http::read(response).await;
        if http::is_transient(status) {
            return Err(http::retry_status(status, &headers, &format!("token endpoint: {body}")));
        }
        if !status.is_success() {
            // invalid_grant and friends: the key was revoked, or the clock is far off.
            return Err(PushError::Config(http::describe(status, &format!("token endpoint: {body}"))));
        }
        let granted: Granted = serde_json::from_str(&body)
            .map_err(|e| PushError::retry(format!("token endpoint answered no token: {e}")))?;
        let lifetime = Duration::from_secs(granted.expires_in.unwrap_or(3600));
        Ok(AccessToken {
            value: granted.access_token,
            refresh_at: requested_at + lifetime.saturating_sub(TOKEN_MARGIN),
        })
    }

    async fn post(&self, token: &str, body: &[u8]) -> Result<reqwest::Response, PushError> {
        self.client
            .post(self.send_url.clone())
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_vec())
            .send()
            .await
            .map_err(http::transport_error)
    }

    /// The `messages:send` body.
    fn body(&self, token: &str, notification: &Notification) -> Result<Vec<u8>, PushError> {
        let ttl = format!("{}s", self.config.ttl.as_secs());
        notification.fit(MAX_BODY, |n| {
            serde_json::to_vec(&message(token, n, &ttl)?)
                .map_err(|e| PushError::Rejected(format!("message: {e}")))
        })
    }
}

/// `{"message": …}` for `token`.
fn message(token: &str, n: &Notification, ttl: &str) -> Result<Value, PushError> {
    // FCM's data values are strings: every payload field, numbers written out.
    let payload =
        serde_json::to_value(n.payload()).map_err(|e| PushError::Rejected(format!("payload: {e}")))?;
    let data: BTreeMap<String, String> = match payload {
        Value::Object(fields) => fields
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => (k, s),
                other => (k, other.to_string()),
            })
            .collect(),
        _ => BTreeMap::new(),
    };
    let collapse_key = n.collapse_key();
    let mut android = json!({"collapse_key": collapse_key, "priority": "high", "ttl": ttl});
    let mut message = json!({"token": token, "data": data});
    if let Some(alert) = n.alert() {
        message["notification"] = json!({"title": alert.title, "body": alert.body});
        // The same tag replaces the conversation's earlier notification on the device.
        android["notification"] = json!({"tag": collapse_key});
        let mut aps = json!({"thread-id": n.conversation_id});
        if let Some(badge) = n.badge {
            aps["badge"] = json!(badge);
        }
        message["apns"] = json!({"headers": {"apns-collapse-id": collapse_key}, "payload": {"aps": aps}});
    }
    message["android"] = android;
    Ok(json!({ "message": message }))
}

/// `base` ending in `/`, so joining a relative path keeps its path.
fn base_with_slash(base: &Url) -> Url {
    let mut base = base.clone();
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    base
}

/// FCM's error body: `{"error": {"status": "…", "message": "…", "details": [{"errorCode": "…"}]}}`.
fn error_codes(body: &str) -> (String, Vec<String>) {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let error = &parsed["error"];
    let status = error["status"].as_str().unwrap_or_default().to_owned();
    let codes = error["details"]
        .as_array()
        .map(|details| details.iter().filter_map(|d| d["errorCode"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    (status, codes)
}

/// What a non-success `messages:send` response means.
fn classify(status: StatusCode, headers: &reqwest::header::HeaderMap, body: &str) -> PushError {
    let (error_status, codes) = error_codes(body);
    let has = |code: &str| codes.iter().any(|c| c == code);
    let what = http::describe(status, &format!("{error_status} {}", codes.join(",")));
    if has("UNREGISTERED") {
        return PushError::Gone(what);
    }
    if http::is_transient(status) || has("QUOTA_EXCEEDED") || has("UNAVAILABLE") || has("INTERNAL") {
        return http::retry_status(status, headers, &what);
    }
    // A wrong project, a service account without the permission, APNs or Web Push credentials
    // missing in the Firebase project: nothing to do with this subscription.
    if has("THIRD_PARTY_AUTH_ERROR") || (status == StatusCode::FORBIDDEN && !has("SENDER_ID_MISMATCH")) {
        return PushError::Config(what);
    }
    // INVALID_ARGUMENT (even naming the token), SENDER_ID_MISMATCH, a message too large: this
    // message is refused, the subscription stays.
    PushError::Rejected(what)
}

#[async_trait]
impl Provider for FcmProvider {
    fn kind(&self) -> PushKind {
        PushKind::Fcm
    }

    async fn send(&self, target: &Target, notification: &Notification) -> Result<(), PushError> {
        let Target::Fcm { token } = target else {
            return Err(PushError::Config(format!("fcm provider given a {} target", target.kind().as_str())));
        };
        let body = self.body(token, notification)?;
        let access = self.access_token().await?;
        let mut response = self.post(&access, &body).await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            // The token was revoked or expired early: one more try with a new one.
            self.drop_token(&access).await;
            let access = self.access_token().await?;
            response = self.post(&access, &body).await?;
            if response.status() == StatusCode::UNAUTHORIZED {
                let (status, _, detail) = http::read(response).await;
                return Err(PushError::Config(http::describe(
                    status,
                    &format!("fresh access token refused: {detail}"),
                )));
            }
        }
        if response.status().is_success() {
            return Ok(());
        }
        let (status, headers, detail) = http::read(response).await;
        Err(classify(status, &headers, &detail))
    }
}

impl fmt::Debug for FcmProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FcmProvider").field("config", &self.config).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderMap;

    use super::*;
    use crate::notification::tests::sample;
    use crate::Preview;

    #[test]
    fn messages_carry_string_data_and_a_notification_only_when_shown() {
        let full = message("tok", &sample(), "86400s").unwrap();
        let key = sample().collapse_key();
        assert_eq!(
            full,
            json!({"message": {
                "token": "tok",
                "data": {"conversationId": "c1", "messageId": "m9", "sequenceNumber": "42", "count": "3",
                    "senderName": "Alice", "preview": "Lunch at noon?", "title": "Team"},
                "notification": {"title": "Team", "body": "Alice: Lunch at noon?"},
                "android": {"collapse_key": key, "priority": "high", "ttl": "86400s", "notification": {"tag": key}},
                "apns": {"headers": {"apns-collapse-id": key}, "payload": {"aps": {"thread-id": "c1", "badge": 5}}},
            }})
        );
        let hidden = message("tok", &sample().with_preview(Preview::Hidden), "60s").unwrap();
        assert_eq!(
            hidden,
            json!({"message": {
                "token": "tok",
                "data": {"conversationId": "c1", "messageId": "m9", "sequenceNumber": "42", "count": "3"},
                "android": {"collapse_key": key, "priority": "high", "ttl": "60s"},
            }})
        );
    }

    #[test]
    fn errors_by_fcm_code() {
        let body = |status: &str, code: &str| {
            json!({"error": {"code": 0, "message": "m", "status": status, "details": [
                {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}]}})
            .to_string()
        };
        let h = HeaderMap::new();
        let c = |s: u16, b: &str| classify(StatusCode::from_u16(s).unwrap(), &h, b);
        assert!(matches!(c(404, &body("NOT_FOUND", "UNREGISTERED")), PushError::Gone(_)));
        assert!(matches!(c(400, &body("INVALID_ARGUMENT", "INVALID_ARGUMENT")), PushError::Rejected(_)));
        assert!(matches!(c(403, &body("PERMISSION_DENIED", "SENDER_ID_MISMATCH")), PushError::Rejected(_)));
        assert!(matches!(c(403, &body("PERMISSION_DENIED", "")), PushError::Config(_)));
        assert!(matches!(c(401, &body("UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR")), PushError::Config(_)));
        assert!(matches!(c(429, &body("RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED")), PushError::Retry { .. }));
        assert!(matches!(c(503, &body("UNAVAILABLE", "UNAVAILABLE")), PushError::Retry { .. }));
        assert!(matches!(c(500, "<html>"), PushError::Retry { .. }));
        assert!(matches!(c(404, "not json"), PushError::Rejected(_)));
    }

    #[test]
    fn service_account_files_are_checked() {
        let pem = include_str!("../tests/fixtures/fcm-test-key.pem");
        let file = |kind: &str, project: &str, key: &str, uri: &str| {
            json!({"type": kind, "project_id": project, "private_key": key, "private_key_id": "k1",
                "client_email": "push@p.iam.gserviceaccount.com", "token_uri": uri})
            .to_string()
        };
        let uri = "https://oauth2.googleapis.com/token";
        let account = ServiceAccount::from_json(&file("service_account", "my-project", pem, uri)).unwrap();
        assert_eq!(account.project_id(), "my-project");
        assert!(!format!("{account:?}").contains("PRIVATE"));
        for bad in [
            file("authorized_user", "p", pem, uri),
            file("service_account", "", pem, uri),
            file("service_account", "a/b", pem, uri),
            file("service_account", "..", pem, uri),
            file(
                "service_account",
                "p",
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                uri,
            ),
            file("service_account", "p", pem, "file:///etc/passwd"),
            "{}".to_owned(),
        ] {
            assert!(matches!(ServiceAccount::from_json(&bad), Err(PushError::Config(_))), "{bad}");
        }
    }

    #[test]
    fn the_send_url_keeps_the_base_path() {
        let pem = include_str!("../tests/fixtures/fcm-test-key.pem");
        let file = json!({"type": "service_account", "project_id": "p1", "private_key": pem,
            "client_email": "e", "token_uri": "https://oauth2.googleapis.com/token"});
        let mut config = FcmConfig::new(ServiceAccount::from_json(&file.to_string()).unwrap());
        let provider = FcmProvider::new(config.clone()).unwrap();
        assert_eq!(provider.send_url.as_str(), "https://fcm.googleapis.com/v1/projects/p1/messages:send");
        config.base_url = Some(Url::parse("http://127.0.0.1:9/prefix").unwrap());
        let provider = FcmProvider::new(config).unwrap();
        assert_eq!(provider.send_url.as_str(), "http://127.0.0.1:9/prefix/v1/projects/p1/messages:send");
    }
}
