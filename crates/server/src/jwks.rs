//! Application tokens signed with the application's own keys (RS256 or ES256), checked against the
//! public keys it publishes as a JWKS document at `--jwks-url` (an identity provider's
//! `/.well-known/jwks.json`). Keys are fetched at start and again when a token names a key id not
//! seen yet (a rotation), at most every [`REFETCH_AFTER`], and every [`REFRESH_EVERY`] in any case.
//! Such tokens follow the rules of application-minted tokens (`sub`, `exp`, optional `username`).

use std::time::{Duration, Instant};

use confab_core::{Error, Result};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey};
use parking_lot::{Mutex, RwLock};

/// Least time between two fetches caused by unknown key ids, so forged ids cannot make the server
/// hammer the identity provider.
pub const REFETCH_AFTER: Duration = Duration::from_secs(10);
/// Keys are fetched again this often even when nothing asks (removed keys stop working).
pub const REFRESH_EVERY: Duration = Duration::from_secs(600);
/// The algorithms accepted from the document.
const ALGORITHMS: [Algorithm; 2] = [Algorithm::RS256, Algorithm::ES256];

/// One key of the set: its id (if it has one) and what it verifies.
struct Key {
    id: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
}

pub struct Jwks {
    url: String,
    http: reqwest::Client,
    keys: RwLock<Vec<Key>>,
    fetched: Mutex<Option<Instant>>,
    /// Serialises fetches.
    fetching: tokio::sync::Mutex<()>,
}

impl Jwks {
    pub fn new(url: &str) -> Jwks {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Jwks {
            url: url.to_string(),
            http,
            keys: RwLock::new(Vec::new()),
            fetched: Mutex::new(None),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// Fetches the document and replaces the keys with the usable ones in it (RS256 and ES256
    /// signing keys; others are skipped). On an error the keys held stay.
    pub async fn fetch(&self) -> Result<usize> {
        let _one = self.fetching.lock().await;
        *self.fetched.lock() = Some(Instant::now());
        let unavailable = |e: String| Error::Unavailable(format!("JWKS {}: {e}", self.url));
        let response = self.http.get(&self.url).send().await.map_err(|e| unavailable(e.to_string()))?;
        if !response.status().is_success() {
            return Err(unavailable(format!("answered {}", response.status())));
        }
        let set: JwkSet = response.json().await.map_err(|e| unavailable(e.to_string()))?;
        let keys: Vec<Key> = set
            .keys
            .iter()
            .filter_map(|jwk| {
                let algorithm = match jwk.common.key_algorithm.map(|a| a.to_string()) {
                    Some(a) => a.parse::<Algorithm>().ok()?,
                    // No `alg`: what the key type allows.
                    None => match &jwk.algorithm {
                        jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => Algorithm::RS256,
                        jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
                        _ => return None,
                    },
                };
                if !ALGORITHMS.contains(&algorithm) {
                    return None;
                }
                let key = DecodingKey::from_jwk(jwk).ok()?;
                Some(Key { id: jwk.common.key_id.clone(), algorithm, key })
            })
            .collect();
        let count = keys.len();
        *self.keys.write() = keys;
        Ok(count)
    }

    /// The key for a token's `kid` and algorithm (a token without `kid`: the only key of that
    /// algorithm), fetching the document again first when it is not known and the last fetch is
    /// old enough.
    pub async fn key(&self, id: Option<&str>, algorithm: Algorithm) -> Result<DecodingKey> {
        if let Some(key) = self.find(id, algorithm) {
            if !self.stale(REFRESH_EVERY) {
                return Ok(key);
            }
        }
        if self.stale(REFETCH_AFTER) {
            if let Err(e) = self.fetch().await {
                tracing::warn!(error = %e, "cannot fetch the application's signing keys");
            }
        }
        self.find(id, algorithm).ok_or_else(|| {
            Error::Unauthorized("token signed with a key the application does not publish".into())
        })
    }

    fn stale(&self, age: Duration) -> bool {
        self.fetched.lock().is_none_or(|at| at.elapsed() >= age)
    }

    fn find(&self, id: Option<&str>, algorithm: Algorithm) -> Option<DecodingKey> {
        let keys = self.keys.read();
        let mut fitting = keys.iter().filter(|k| k.algorithm == algorithm);
        match id {
            Some(id) => fitting.find(|k| k.id.as_deref() == Some(id)).map(|k| k.key.clone()),
            None => {
                let first = fitting.next()?;
                fitting.next().is_none().then(|| first.key.clone())
            }
        }
    }
}

/// Whether a token signed with `algorithm` is checked against the published keys.
pub fn accepts(algorithm: Algorithm) -> bool {
    ALGORITHMS.contains(&algorithm)
}
