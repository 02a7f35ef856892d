//! Authentication: argon2 password hashes and HS256 JWT bearer tokens.
//!
//! Tokens this server issues carry `iss: "confab"`. Tokens without that issuer are
//! application-minted: an application's own backend signs them with the same shared secret to bring
//! its own login. Their `sub` names the user; an unknown `sub` is provisioned on first use when the
//! token also carries a `username` (and optionally `displayName` or `name`).

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use confab_core::{Error, Result};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Issuer of tokens minted by Confab itself.
pub const ISSUER: &str = "confab";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Claims {
    pub sub: String,
    /// Expiry, seconds since the epoch (JWT convention).
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// For application-minted tokens: the username to provision an unknown user with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, alias = "name", skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl_secs: i64,
}

impl TokenKeys {
    pub fn new(secret: &str, ttl: std::time::Duration) -> TokenKeys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        TokenKeys {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
            ttl_secs: ttl.as_secs() as i64,
        }
    }

    /// A token for `user_id` and its expiry in milliseconds since the epoch.
    pub fn issue(&self, user_id: &str) -> Result<(String, i64)> {
        let now = confab_core::ids::now_millis() / 1000;
        let exp = now + self.ttl_secs;
        let claims = Claims {
            sub: user_id.to_string(),
            exp,
            iat: Some(now),
            iss: Some(ISSUER.to_string()),
            username: None,
            display_name: None,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| Error::Internal(format!("cannot sign token: {e}")))?;
        Ok((token, exp * 1000))
    }

    /// Checks signature and expiry.
    pub fn verify(&self, token: &str) -> Result<Claims> {
        use jsonwebtoken::errors::ErrorKind;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map(|d| d.claims).map_err(
            |e| {
                Error::Unauthorized(match e.kind() {
                    ErrorKind::ExpiredSignature => "token expired".to_string(),
                    ErrorKind::InvalidSignature => "token signature is invalid".to_string(),
                    _ => format!("invalid token: {e}"),
                })
            },
        )
    }
}

/// Password hashes computed at once. Each argon2 hash takes 19 MiB for its duration; without a
/// bound, a burst of registrations or logins would make the process hold gigabytes.
fn hashing_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| {
        let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        tokio::sync::Semaphore::new(cpus * 2)
    })
}

async fn hashing_slot() -> Result<tokio::sync::SemaphorePermit<'static>> {
    hashing_slots().acquire().await.map_err(|_| Error::Internal("password hashing is closed".into()))
}

/// Hashes a password with argon2id (default parameters), off the async runtime.
pub async fn hash_password(password: String) -> Result<String> {
    let _slot = hashing_slot().await?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| Error::Internal(format!("password hashing task failed: {e}")))?
}

/// Checks a password against a stored hash, off the async runtime. With no hash (an unknown user,
/// or one provisioned by an application token) a dummy hash is still checked, so a login takes as
/// long whether or not the username exists.
pub async fn verify_password(password: String, hash: Option<String>) -> Result<bool> {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let _slot = hashing_slot().await?;
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| {
            DUMMY
                .get_or_init(|| {
                    let salt = SaltString::generate(&mut OsRng);
                    Argon2::default()
                        .hash_password(b"confab-dummy", &salt)
                        .map(|h| h.to_string())
                        .unwrap_or_default()
                })
                .clone()
        });
        let Ok(parsed) = PasswordHash::new(&hash) else { return false };
        known && Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()
    })
    .await
    .map_err(|e| Error::Internal(format!("password check task failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_forgeries_fail() {
        let keys = TokenKeys::new("secret-one", std::time::Duration::from_secs(60));
        let (token, expires_at) = keys.issue("u1").unwrap();
        assert!(expires_at > confab_core::ids::now_millis());
        let claims = keys.verify(&token).unwrap();
        assert_eq!(claims.sub, "u1");
        assert_eq!(claims.iss.as_deref(), Some(ISSUER));
        let other = TokenKeys::new("secret-two", std::time::Duration::from_secs(60));
        assert!(matches!(other.verify(&token), Err(Error::Unauthorized(m)) if m.contains("signature")));
        assert!(keys.verify("not.a.token").is_err());
    }

    #[tokio::test]
    async fn passwords_verify_only_against_their_hash() {
        let hash = hash_password("correct horse".into()).await.unwrap();
        assert!(verify_password("correct horse".into(), Some(hash.clone())).await.unwrap());
        assert!(!verify_password("wrong horse".into(), Some(hash)).await.unwrap());
        assert!(!verify_password("anything".into(), None).await.unwrap());
    }
}
