//! VAPID (RFC 8292): the server's P-256 key, which browsers bind a subscription to, and the
//! signed `Authorization: vapid t=…, k=…` header, cached per push service origin.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::EncodePrivateKey;
use p256::SecretKey;
use serde::Serialize;

use super::ece::encoded;
use crate::target::BASE64URL;
use crate::PushError;

/// How long a VAPID token is valid (RFC 8292 allows at most 24 hours).
pub const TOKEN_LIFETIME_SECS: u64 = 12 * 3600;
/// A cached token is replaced when it has less than this left, so none expires in flight.
const REFRESH_MARGIN_SECS: u64 = 3600;
/// Origins whose tokens are kept; beyond it the cache starts over (push services are a handful of
/// origins, but WNS has many host names).
const MAX_CACHED_ORIGINS: usize = 1024;

/// The server's VAPID key pair.
#[derive(Clone)]
pub struct VapidKey {
    secret: SecretKey,
    public: [u8; 65],
    signing: EncodingKey,
}

impl VapidKey {
    /// A new random key pair. Generate once and keep it: every browser subscription is bound to
    /// the public key, and a new key makes every existing subscription fail.
    pub fn generate() -> Result<VapidKey, PushError> {
        VapidKey::from_secret(SecretKey::random(&mut rand::rngs::OsRng))
    }

    /// The key from its private scalar, base64url (with or without padding) of 32 bytes, as
    /// [`VapidKey::private_key_base64url`] writes it (and as other Web Push libraries store it).
    pub fn from_base64url(private_key: &str) -> Result<VapidKey, PushError> {
        let bytes = BASE64URL
            .decode(private_key.trim())
            .map_err(|_| PushError::Config("VAPID private key is not base64url".into()))?;
        if bytes.len() != 32 {
            return Err(PushError::Config("VAPID private key must be 32 bytes".into()));
        }
        let secret = SecretKey::from_slice(&bytes)
            .map_err(|_| PushError::Config("VAPID private key is not a P-256 scalar".into()))?;
        VapidKey::from_secret(secret)
    }

    fn from_secret(secret: SecretKey) -> Result<VapidKey, PushError> {
        let der = secret
            .to_pkcs8_der()
            .map_err(|e| PushError::Config(format!("VAPID private key does not encode: {e}")))?;
        let public = encoded(&secret.public_key());
        Ok(VapidKey { signing: EncodingKey::from_ec_der(der.as_bytes()), secret, public })
    }

    /// The private scalar, base64url without padding: what the server stores.
    pub fn private_key_base64url(&self) -> String {
        BASE64URL.encode(self.secret.to_bytes())
    }

    /// The public key (uncompressed point), base64url without padding: `webPushPublicKey` of
    /// `GET /api/v1/push/config`, the browser's `applicationServerKey`.
    pub fn public_key_base64url(&self) -> String {
        BASE64URL.encode(self.public)
    }

    pub fn public_key(&self) -> &[u8; 65] {
        &self.public
    }

    /// A token for `audience` (the endpoint's origin) expiring at `expires` (unix seconds).
    pub(crate) fn sign(&self, audience: &str, subject: &str, expires: u64) -> Result<String, PushError> {
        #[derive(Serialize)]
        struct Claims<'a> {
            aud: &'a str,
            exp: u64,
            sub: &'a str,
        }
        jsonwebtoken::encode(
            &Header::new(Algorithm::ES256),
            &Claims { aud: audience, exp: expires, sub: subject },
            &self.signing,
        )
        .map_err(|e| PushError::Config(format!("VAPID token not signed: {e}")))
    }
}

impl fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VapidKey").field("public", &self.public_key_base64url()).finish_non_exhaustive()
    }
}

/// Signed VAPID tokens by push service origin.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    // A std mutex: held for a lookup or an insert, never across an await.
    by_origin: Mutex<HashMap<String, (String, u64)>>,
}

impl TokenCache {
    /// The token for `origin` at `now` (unix seconds): the cached one while it has more than an
    /// hour left, else a new one valid for [`TOKEN_LIFETIME_SECS`].
    pub(crate) fn token(
        &self,
        key: &VapidKey,
        subject: &str,
        origin: &str,
        now: u64,
    ) -> Result<String, PushError> {
        if let Ok(cache) = self.by_origin.lock() {
            if let Some((token, expires)) = cache.get(origin) {
                if *expires > now + REFRESH_MARGIN_SECS {
                    return Ok(token.clone());
                }
            }
        }
        let expires = now + TOKEN_LIFETIME_SECS;
        let token = key.sign(origin, subject, expires)?;
        if let Ok(mut cache) = self.by_origin.lock() {
            if cache.len() >= MAX_CACHED_ORIGINS {
                cache.retain(|_, (_, exp)| *exp > now + REFRESH_MARGIN_SECS);
                if cache.len() >= MAX_CACHED_ORIGINS {
                    cache.clear();
                }
            }
            cache.insert(origin.to_owned(), (token.clone(), expires));
        }
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{DecodingKey, Validation};
    use p256::ecdsa::signature::Verifier;
    use p256::ecdsa::{Signature, VerifyingKey};

    use super::*;

    #[test]
    fn keys_round_trip_through_their_stored_form() {
        let key = VapidKey::generate().unwrap();
        let stored = key.private_key_base64url();
        assert_eq!(stored.len(), 43);
        let loaded = VapidKey::from_base64url(&stored).unwrap();
        assert_eq!(loaded.public_key(), key.public_key());
        assert_eq!(VapidKey::from_base64url(&format!("{stored}=")).unwrap().public_key(), key.public_key());
        let public = BASE64URL.decode(key.public_key_base64url()).unwrap();
        assert_eq!(public.len(), 65);
        assert_eq!(public[0], 4);
        assert!(!format!("{key:?}").contains(&stored));
    }

    #[test]
    fn the_rfc8291_key_loads() {
        let key = VapidKey::from_base64url("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw").unwrap();
        assert_eq!(
            key.public_key_base64url(),
            "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
        );
    }

    #[test]
    fn bad_private_keys_are_configuration_errors() {
        for bad in ["", "not base64!", "AAAA", &BASE64URL.encode([0u8; 32]), &BASE64URL.encode([0xffu8; 32])]
        {
            assert!(matches!(VapidKey::from_base64url(bad), Err(PushError::Config(_))), "{bad}");
        }
    }

    #[test]
    fn tokens_are_es256_over_the_claims() {
        let key = VapidKey::generate().unwrap();
        let token = key.sign("https://push.example", "mailto:ops@example.com", 2_000_000_000).unwrap();
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let verifying = VerifyingKey::from_sec1_bytes(key.public_key()).unwrap();
        let signature = Signature::from_slice(&BASE64URL.decode(signature).unwrap()).unwrap();
        verifying.verify(signed.as_bytes(), &signature).unwrap();

        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::ES256);
        let (x, y) = (BASE64URL.encode(&key.public_key()[1..33]), BASE64URL.encode(&key.public_key()[33..]));
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_audience(&["https://push.example"]);
        validation.validate_exp = false;
        let claims = jsonwebtoken::decode::<serde_json::Value>(
            &token,
            &DecodingKey::from_ec_components(&x, &y).unwrap(),
            &validation,
        )
        .unwrap()
        .claims;
        assert_eq!(
            claims,
            serde_json::json!({"aud": "https://push.example", "exp": 2_000_000_000u64, "sub": "mailto:ops@example.com"})
        );
    }

    #[test]
    fn tokens_are_cached_per_origin_until_an_hour_before_expiry() {
        let key = VapidKey::generate().unwrap();
        let cache = TokenCache::default();
        let (a, b) = ("https://a.example", "https://b.example");
        let t0 = 1_700_000_000;
        let first = cache.token(&key, "mailto:x@y", a, t0).unwrap();
        assert_eq!(cache.token(&key, "mailto:x@y", a, t0 + 3600).unwrap(), first);
        assert_eq!(cache.token(&key, "mailto:x@y", a, t0 + TOKEN_LIFETIME_SECS - 3601).unwrap(), first);
        let other = cache.token(&key, "mailto:x@y", b, t0).unwrap();
        assert_ne!(other, first);
        let renewed = cache.token(&key, "mailto:x@y", a, t0 + TOKEN_LIFETIME_SECS - 3600).unwrap();
        assert_ne!(renewed, first);
        assert_eq!(cache.token(&key, "mailto:x@y", a, t0 + TOKEN_LIFETIME_SECS - 3599).unwrap(), renewed);
    }
}
