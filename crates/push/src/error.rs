//! The crate's errors: [`PushError`] for a delivery, [`TargetError`] for what a client registers
//! (the REST route answers `400 INVALID_REQUEST` with its text), [`EndpointError`] for a Web Push
//! endpoint URL.

use std::net::IpAddr;
use std::time::Duration;

/// How one delivery failed; the variant says what the caller does with the subscription.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// The subscription no longer exists at the push service (Web Push `404`/`410`, FCM
    /// `UNREGISTERED`, APNs `410` or `BadDeviceToken`, webhook `410`): delete it.
    #[error("subscription gone: {0}")]
    Gone(String),
    /// Worth trying again later: a network error, a timeout, `408`, `429` or a `5xx`. `after` is
    /// the push service's `Retry-After`, when it sent one. From [`crate::send_with_retries`], the
    /// attempts ran out.
    #[error("temporary failure: {reason}")]
    Retry { after: Option<Duration>, reason: String },
    /// The push service refused this notification for good (another `4xx`, an endpoint this
    /// server may not call, a payload too large); the subscription stays.
    #[error("rejected: {0}")]
    Rejected(String),
    /// This server's push configuration is wrong (credentials, key, topic, a provider given
    /// another kind's target): no subscription is at fault.
    #[error("push configuration: {0}")]
    Config(String),
}

impl PushError {
    pub(crate) fn retry(reason: impl Into<String>) -> PushError {
        PushError::Retry { after: None, reason: reason.into() }
    }

    /// The `reason` label of `confab_push_failed_total` for this error, as the final outcome of
    /// [`crate::send_with_retries`].
    pub fn reason_label(&self) -> &'static str {
        match self {
            PushError::Gone(_) => "gone",
            PushError::Retry { .. } => "retry_exhausted",
            PushError::Rejected(_) => "rejected",
            PushError::Config(_) => "config",
        }
    }
}

/// Why a subscription cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// `keys.p256dh` is not the base64url of an uncompressed P-256 point on the curve.
    #[error("keys.p256dh must be a base64url uncompressed P-256 public key (65 bytes): {0}")]
    P256dh(&'static str),
    /// `keys.auth` is not the base64url of 16 bytes.
    #[error("keys.auth must be a base64url 16-byte secret")]
    Auth,
    /// `token` does not look like the kind's token.
    #[error("token: {0}")]
    Token(&'static str),
}

/// Why a Web Push endpoint may not be called.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("endpoint is not a URL")]
    Unparseable,
    #[error("endpoint is longer than {} bytes", crate::endpoint::MAX_ENDPOINT_LEN)]
    TooLong,
    #[error("endpoint must be an https URL")]
    NotHttps,
    #[error("endpoint has no host")]
    NoHost,
    #[error("endpoint must not carry a user name or password")]
    UserInfo,
    /// The host is an IP address this server may not call (loopback, private, link-local, …).
    #[error("endpoint address {0} is not a public address")]
    ForbiddenAddress(IpAddr),
    /// The host name resolved, but to no address this server may call.
    #[error("endpoint host {0} resolves to no public address")]
    NoPermittedAddress(String),
}
