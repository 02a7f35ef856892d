//! Where a push goes: one [`Target`] per subscription kind, and the checks of what a client
//! registers (`POST /api/v1/push/subscriptions` answers `400 INVALID_REQUEST` with a
//! [`TargetError`]).

use std::fmt;

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use confab_proto::PushKind;
use url::Url;

use crate::endpoint::EndpointPolicy;
use crate::TargetError;

/// Longest FCM registration token accepted (they are about 160 characters today).
pub const FCM_TOKEN_MAX_LEN: usize = 4096;
/// APNs device tokens: hex, 32 bytes today; Apple warns they may grow.
pub const APNS_TOKEN_LEN: std::ops::RangeInclusive<usize> = 64..=200;

/// base64url, with or without `=` padding (browsers omit it, some libraries add it).
pub(crate) const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// One subscription: where and how to reach a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A browser's push service: the subscription's endpoint and the keys its payload is
    /// encrypted to.
    WebPush { endpoint: Url, keys: WebPushKeys },
    /// An FCM registration token.
    Fcm { token: String },
    /// An APNs device token (hex).
    Apns { token: String },
    /// The operator's webhook, told whom to notify so the application's backend can reach the
    /// device its own way.
    Webhook { user_id: String, device_id: String },
}

impl Target {
    /// A Web Push subscription as `PushSubscription.toJSON()` gives it. The endpoint is checked
    /// syntactically and, when its host is an IP address, against the default (public addresses
    /// only) [`EndpointPolicy`]; use [`Target::web_push_with`] for another policy.
    pub fn web_push(endpoint: &str, p256dh: &str, auth: &str) -> Result<Target, TargetError> {
        Target::web_push_with(&EndpointPolicy::default(), endpoint, p256dh, auth)
    }

    /// [`Target::web_push`] under `policy`.
    pub fn web_push_with(
        policy: &EndpointPolicy,
        endpoint: &str,
        p256dh: &str,
        auth: &str,
    ) -> Result<Target, TargetError> {
        let endpoint = policy.validate(endpoint)?;
        Ok(Target::WebPush { endpoint, keys: WebPushKeys::parse(p256dh, auth)? })
    }

    pub fn fcm(token: &str) -> Result<Target, TargetError> {
        validate_fcm_token(token)?;
        Ok(Target::Fcm { token: token.to_owned() })
    }

    pub fn apns(token: &str) -> Result<Target, TargetError> {
        validate_apns_token(token)?;
        Ok(Target::Apns { token: token.to_owned() })
    }

    pub fn webhook(user_id: impl Into<String>, device_id: impl Into<String>) -> Target {
        Target::Webhook { user_id: user_id.into(), device_id: device_id.into() }
    }

    pub fn kind(&self) -> PushKind {
        match self {
            Target::WebPush { .. } => PushKind::WebPush,
            Target::Fcm { .. } => PushKind::Fcm,
            Target::Apns { .. } => PushKind::Apns,
            Target::Webhook { .. } => PushKind::Webhook,
        }
    }
}

/// A browser subscription's keys, decoded and checked.
#[derive(Clone, PartialEq, Eq)]
pub struct WebPushKeys {
    p256dh: [u8; 65],
    auth: [u8; 16],
}

impl WebPushKeys {
    /// `keys.p256dh` (an uncompressed P-256 point on the curve) and `keys.auth` (16 bytes), each
    /// base64url with or without padding.
    pub fn parse(p256dh: &str, auth: &str) -> Result<WebPushKeys, TargetError> {
        let point = BASE64URL.decode(p256dh.trim()).map_err(|_| TargetError::P256dh("not base64url"))?;
        let p256dh: [u8; 65] = point.try_into().map_err(|_| TargetError::P256dh("not 65 bytes"))?;
        WebPushKeys::from_bytes(p256dh, {
            let auth = BASE64URL.decode(auth.trim()).map_err(|_| TargetError::Auth)?;
            auth.try_into().map_err(|_| TargetError::Auth)?
        })
    }

    /// The keys from their bytes, checked as [`WebPushKeys::parse`] does.
    pub fn from_bytes(p256dh: [u8; 65], auth: [u8; 16]) -> Result<WebPushKeys, TargetError> {
        if p256dh[0] != 0x04 {
            return Err(TargetError::P256dh("not an uncompressed point"));
        }
        p256::PublicKey::from_sec1_bytes(&p256dh).map_err(|_| TargetError::P256dh("not on the curve"))?;
        Ok(WebPushKeys { p256dh, auth })
    }

    /// The browser's public key (uncompressed point).
    pub fn p256dh(&self) -> &[u8; 65] {
        &self.p256dh
    }

    /// The browser's authentication secret.
    pub fn auth(&self) -> &[u8; 16] {
        &self.auth
    }

    pub(crate) fn public_key(&self) -> Option<p256::PublicKey> {
        p256::PublicKey::from_sec1_bytes(&self.p256dh).ok()
    }
}

impl fmt::Debug for WebPushKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The auth secret is what keeps the push service from reading payloads: never in logs.
        f.debug_struct("WebPushKeys")
            .field("p256dh", &BASE64URL.encode(self.p256dh))
            .field("auth", &"<redacted>")
            .finish()
    }
}

/// An FCM registration token: 1 to [`FCM_TOKEN_MAX_LEN`] printable ASCII characters, no spaces.
pub fn validate_fcm_token(token: &str) -> Result<(), TargetError> {
    if token.is_empty() {
        return Err(TargetError::Token("empty"));
    }
    if token.len() > FCM_TOKEN_MAX_LEN {
        return Err(TargetError::Token("longer than 4096 characters"));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(TargetError::Token("not printable ASCII"));
    }
    Ok(())
}

/// An APNs device token: [`APNS_TOKEN_LEN`] hex digits.
pub fn validate_apns_token(token: &str) -> Result<(), TargetError> {
    if !APNS_TOKEN_LEN.contains(&token.len()) {
        return Err(TargetError::Token("an APNs device token has 64 to 200 hex digits"));
    }
    if !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(TargetError::Token("an APNs device token is hex"));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::EndpointError;

    /// RFC 8291 Appendix A's user agent public key and auth secret.
    pub(crate) const UA_PUBLIC: &str =
        "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    pub(crate) const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";

    #[test]
    fn web_push_keys_accept_base64url_with_or_without_padding() {
        let keys = WebPushKeys::parse(UA_PUBLIC, AUTH).unwrap();
        assert_eq!(keys.p256dh()[0], 4);
        let padded = WebPushKeys::parse(&format!("{UA_PUBLIC}="), &format!("{AUTH}==")).unwrap();
        assert_eq!(keys, padded);
        assert!(!format!("{keys:?}").contains(AUTH));
    }

    #[test]
    fn web_push_keys_refuse_what_is_no_key() {
        use TargetError::*;
        assert!(matches!(WebPushKeys::parse("***", AUTH), Err(P256dh(_))));
        assert!(matches!(WebPushKeys::parse("BA", AUTH), Err(P256dh(_))));
        // Standard base64's alphabet is not base64url.
        assert!(matches!(WebPushKeys::parse(&UA_PUBLIC.replace('_', "/"), AUTH), Err(P256dh(_))));
        // The right length, but a compressed-point prefix, and a point off the curve.
        let mut point = BASE64URL.decode(UA_PUBLIC).unwrap();
        point[0] = 2;
        assert!(matches!(WebPushKeys::parse(&BASE64URL.encode(&point), AUTH), Err(P256dh(_))));
        point[0] = 4;
        point[64] ^= 1;
        assert!(matches!(WebPushKeys::parse(&BASE64URL.encode(&point), AUTH), Err(P256dh(_))));
        assert_eq!(WebPushKeys::parse(UA_PUBLIC, "AAAA"), Err(Auth));
        assert_eq!(WebPushKeys::parse(UA_PUBLIC, "not base64!"), Err(Auth));
    }

    #[test]
    fn web_push_targets_check_their_endpoint() {
        let t = Target::web_push("https://push.example.net/s/1", UA_PUBLIC, AUTH).unwrap();
        assert_eq!(t.kind(), PushKind::WebPush);
        assert_eq!(
            Target::web_push("http://push.example.net/s/1", UA_PUBLIC, AUTH),
            Err(TargetError::Endpoint(EndpointError::NotHttps))
        );
        assert!(matches!(
            Target::web_push("https://10.0.0.1/s", UA_PUBLIC, AUTH),
            Err(TargetError::Endpoint(EndpointError::ForbiddenAddress(_)))
        ));
    }

    #[test]
    fn fcm_tokens_are_bounded_printable_ascii() {
        assert!(validate_fcm_token("dGVzdA:APA91b-x_y").is_ok());
        assert!(validate_fcm_token(&"a".repeat(4096)).is_ok());
        assert!(validate_fcm_token("").is_err());
        assert!(validate_fcm_token(&"a".repeat(4097)).is_err());
        assert!(validate_fcm_token("has space").is_err());
        assert!(validate_fcm_token("tab\t").is_err());
        assert!(validate_fcm_token("é").is_err());
        assert_eq!(Target::fcm("abc").unwrap().kind(), PushKind::Fcm);
    }

    #[test]
    fn apns_tokens_are_64_to_200_hex_digits() {
        assert!(validate_apns_token(&"ab".repeat(32)).is_ok());
        assert!(validate_apns_token(&"AB".repeat(100)).is_ok());
        assert!(validate_apns_token(&"a".repeat(63)).is_err());
        assert!(validate_apns_token(&"a".repeat(201)).is_err());
        assert!(validate_apns_token(&"g".repeat(64)).is_err());
        assert!(validate_apns_token(&format!("{}/..", "a".repeat(62))).is_err());
        assert_eq!(Target::apns(&"0".repeat(64)).unwrap().kind(), PushKind::Apns);
        assert_eq!(Target::webhook("u", "d").kind(), PushKind::Webhook);
    }
}
