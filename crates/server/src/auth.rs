//! Authentication: argon2 password hashes (on their own bounded pool) and HS256 JWT bearer tokens.
//!
//! Tokens this server issues carry `iss: "confab"`. Tokens without that issuer are
//! application-minted: an application's own backend signs them with the same shared secret to bring
//! its own login. Their `sub` names the user; an unknown `sub` is provisioned on first use when the
//! token also carries a `username` (and optionally `displayName` or `name`).
//!
//! Every token Confab issues carries a unique session id (`jti`) and when it was issued (`iat` in
//! seconds, as JWT has it, and `iatMs` to the millisecond), so it can be revoked on its own
//! (logout) or with every token of its user issued before a moment (logout-all, password change).
//! Application-minted tokens may omit both: without `jti` they cannot be logged out one by one,
//! and without `iat` no cutoff reaches them.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
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
    /// When the token was issued in milliseconds (Confab's own tokens), so a cutoff taken in the
    /// same second as a login tells them apart; `iat` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat_ms: Option<i64>,
    /// The session id, unique per issued token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// For application-minted tokens: the username to provision an unknown user with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, alias = "name", skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

impl Claims {
    /// What revocations know this token by.
    pub fn session(&self) -> confab_core::rules::sessions::TokenSession {
        confab_core::rules::sessions::TokenSession {
            session_id: self.jti.clone(),
            issued_at: self.iat_ms.or_else(|| self.iat.map(|s| s.saturating_mul(1000))),
        }
    }
}

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl_secs: i64,
    /// The application's published keys (`--jwks-url`), for RS256 and ES256 tokens.
    jwks: Option<std::sync::Arc<crate::jwks::Jwks>>,
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
            jwks: None,
        }
    }

    /// Also accepts tokens signed with the keys `jwks` publishes.
    pub fn with_jwks(mut self, jwks: std::sync::Arc<crate::jwks::Jwks>) -> TokenKeys {
        self.jwks = Some(jwks);
        self
    }

    /// Checks signature and expiry of any token accepted here: HS256 with the secret, or RS256 and
    /// ES256 with the application's published keys when `--jwks-url` is set.
    pub async fn verify_any(&self, token: &str) -> Result<Claims> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| Error::Unauthorized(format!("invalid token: {e}")))?;
        match &self.jwks {
            Some(jwks) if crate::jwks::accepts(header.alg) => {
                let key = jwks.key(header.kid.as_deref(), header.alg).await?;
                let mut validation = self.validation.clone();
                validation.algorithms = vec![header.alg];
                decode(token, &key, &validation)
            }
            _ => self.verify(token),
        }
    }

    /// A token for `user_id` and its expiry in milliseconds since the epoch.
    pub fn issue(&self, user_id: &str) -> Result<(String, i64)> {
        let now_ms = confab_core::ids::now_millis();
        let now = now_ms / 1000;
        let exp = now + self.ttl_secs;
        let claims = Claims {
            sub: user_id.to_string(),
            exp,
            iat: Some(now),
            iat_ms: Some(now_ms),
            jti: Some(confab_core::ids::new_id()),
            iss: Some(ISSUER.to_string()),
            username: None,
            display_name: None,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| Error::Internal(format!("cannot sign token: {e}")))?;
        Ok((token, exp * 1000))
    }

    /// Checks signature (HS256, the secret) and expiry.
    pub fn verify(&self, token: &str) -> Result<Claims> {
        decode(token, &self.decoding, &self.validation)
    }
}

fn decode(token: &str, key: &DecodingKey, validation: &Validation) -> Result<Claims> {
    use jsonwebtoken::errors::ErrorKind;
    jsonwebtoken::decode::<Claims>(token, key, validation).map(|d| d.claims).map_err(|e| {
        Error::Unauthorized(match e.kind() {
            ErrorKind::ExpiredSignature => "token expired".to_string(),
            ErrorKind::InvalidSignature => "token signature is invalid".to_string(),
            _ => format!("invalid token: {e}"),
        })
    })
}

/// A job for the hashing threads.
type Job = Box<dyn FnOnce() + Send>;

/// Argon2 hashing and verification on a few dedicated threads behind a bounded queue.
///
/// Each argon2id hash (default parameters) takes 19 MiB and tens of milliseconds of one core. On
/// tokio's own threads a login flood would stall every connection; on its blocking pool it would
/// still take every core and, waiting without bound, memory. Here at most `workers` hashes run,
/// at a lower scheduling priority than the async runtime, and at most `queue` wait: beyond that
/// the caller gets `RATE_LIMITED` at once.
pub struct HashPool {
    jobs: std::sync::mpsc::SyncSender<Job>,
    /// Argon2 verifications performed, known user or not (`confab_password_verifications_total`).
    verifications: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl HashPool {
    /// Starts `workers` threads (at least one); they end when the pool is dropped.
    pub fn new(workers: usize, queue: usize) -> HashPool {
        let (jobs, rx) = std::sync::mpsc::sync_channel::<Job>(queue);
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        for i in 0..workers.max(1) {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new().name(format!("confab-hash-{i}")).spawn(move || {
                lower_priority();
                loop {
                    let job = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    // A panicking hash fails its own request (its reply is dropped), not the thread.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        HashPool { jobs, verifications: Default::default() }
    }

    /// Queues `job` for a hashing thread, or fails at once when the queue is full. A job whose
    /// caller has gone (the client hung up while it waited) is skipped.
    fn submit<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<tokio::sync::oneshot::Receiver<T>> {
        use std::sync::mpsc::TrySendError;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            if !tx.is_closed() {
                let _ = tx.send(job());
            }
        });
        match self.jobs.try_send(job) {
            Ok(()) => Ok(rx),
            Err(TrySendError::Full(_)) => {
                metrics::counter!("confab_password_hash_rejected_total").increment(1);
                Err(Error::RateLimited { retry_after_secs: 1 })
            }
            Err(TrySendError::Disconnected(_)) => {
                Err(Error::Internal("password hashing threads are gone".into()))
            }
        }
    }

    async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        self.submit(job)?.await.map_err(|_| Error::Internal("password hashing failed".into()))
    }

    /// Hashes a password with argon2id (default parameters).
    pub async fn hash(&self, password: String) -> Result<String> {
        self.run(move || {
            // A fresh random salt each time (the OS's generator).
            Argon2::default()
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| Error::Internal(format!("password hashing failed: {e}")))
        })
        .await?
    }

    /// Checks a password against a stored hash. With no hash (an unknown user, or one provisioned
    /// by an application token) the password is checked against a dummy hash made with the same
    /// parameters, and the answer is `false`: a login costs one full verification, and so takes as
    /// long, whether or not the username exists or has a password.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool> {
        let verifications = self.verifications.clone();
        self.run(move || {
            let known = hash.is_some();
            let stored = hash.unwrap_or_else(|| dummy_hash().to_string());
            let matches = match PasswordHash::new(&stored) {
                Ok(parsed) => {
                    verifications.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    metrics::counter!("confab_password_verifications_total").increment(1);
                    Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()
                }
                Err(_) => false,
            };
            known && matches
        })
        .await
    }

    /// Verifications performed so far.
    #[cfg(test)]
    pub fn verifications(&self) -> u64 {
        self.verifications.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The hash unknown users are checked against: made once, with the parameters real hashes use, of
/// a random password nobody knows.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        use rand::RngCore;
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        Argon2::default()
            .hash_password(&secret)
            .map(|h| h.to_string())
            .expect("argon2 with default parameters hashes any 32 bytes")
    })
}

/// Hashing threads yield to the async runtime's when the CPU is short.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority has no memory effects; on Linux it applies to the calling thread.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hash written by an earlier release (argon2 0.5): accounts made then must keep working.
    const EARLIER_HASH: &str =
        "$argon2id$v=19$m=19456,t=2,p=1$aJEvOpgo7+t+swgGvc/2fQ$fRg3dY85ZtqGmULXq/zm2yYpoGm8RqV7U0OaeRSoZA4";

    #[tokio::test]
    async fn hashes_made_by_earlier_releases_still_verify() {
        let pool = HashPool::new(1, 4);
        let right = "correct horse battery staple".to_string();
        assert!(pool.verify(right.clone(), Some(EARLIER_HASH.into())).await.unwrap());
        assert!(!pool.verify("wrong horse".into(), Some(EARLIER_HASH.into())).await.unwrap());
        let fresh = pool.hash(right.clone()).await.unwrap();
        assert!(fresh.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{fresh}");
        assert!(pool.verify(right, Some(fresh)).await.unwrap());
    }

    #[test]
    fn tokens_round_trip_and_forgeries_fail() {
        let keys = TokenKeys::new("secret-one", std::time::Duration::from_secs(60));
        let (token, expires_at) = keys.issue("u1").unwrap();
        assert!(expires_at > confab_core::ids::now_millis());
        let claims = keys.verify(&token).unwrap();
        assert_eq!(claims.sub, "u1");
        assert_eq!(claims.iss.as_deref(), Some(ISSUER));
        let session = claims.session();
        assert!(session.issued_at.is_some_and(|at| at / 1000 == claims.iat.unwrap_or(0)));
        let (again, _) = keys.issue("u1").unwrap();
        assert_ne!(keys.verify(&again).unwrap().jti, claims.jti, "each token is its own session");
        assert!(claims.jti.is_some());
        let other = TokenKeys::new("secret-two", std::time::Duration::from_secs(60));
        assert!(matches!(other.verify(&token), Err(Error::Unauthorized(m)) if m.contains("signature")));
        assert!(keys.verify("not.a.token").is_err());
    }

    #[tokio::test]
    async fn passwords_verify_only_against_their_hash() {
        let pool = HashPool::new(1, 8);
        let hash = pool.hash("correct horse battery".into()).await.unwrap();
        assert!(pool.verify("correct horse battery".into(), Some(hash.clone())).await.unwrap());
        assert!(!pool.verify("wrong horse battery".into(), Some(hash)).await.unwrap());
        assert!(!pool.verify("anything".into(), None).await.unwrap());
        assert_eq!(pool.verifications(), 3, "an unknown user costs a verification too");
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        let pool = HashPool::new(1, 1);
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let busy = pool
            .submit(move || {
                let _ = started_tx.send(());
                let _ = release_rx.recv();
            })
            .unwrap();
        // The one thread is now taken, until released.
        started_rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        let queued = pool.submit(|| 7).unwrap();
        assert!(matches!(pool.submit(|| 8), Err(Error::RateLimited { retry_after_secs: 1 })));
        release_tx.send(()).unwrap();
        busy.await.unwrap();
        assert_eq!(queued.await.unwrap(), 7);
        assert_eq!(pool.run(|| 9).await.unwrap(), 9, "room again once the queue drained");
    }
}
