//! API keys of application backends, for the server API (`/api/v1/server`): made by the operator
//! (`confab admin api-key create`), shown once, stored only as their SHA-256.

use confab_core::ids::{new_id, now_millis};
use confab_core::store::{ApiKey, NewApiKey, SharedStore};
use confab_core::{validate, Error, Result};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Every key starts with this, so a key is told from a user's token at a glance (and by scanners
/// looking for leaked secrets).
pub const PREFIX: &str = "cfk_";

/// The stored form of a key: SHA-256, hex. Keys carry 256 random bits, so a plain hash is enough
/// (no salt or slow hash needed against guessing).
pub fn key_hash(key: &str) -> String {
    Sha256::digest(key.trim().as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh key: the prefix and 256 random bits as 64 hex digits.
fn new_key() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{PREFIX}{hex}")
}

/// A new API key and the key itself (shown only now).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Created {
    pub key: String,
    #[serde(flatten)]
    pub api_key: ApiKey,
}

/// Makes an API key named `name` (which application holds it: 1–100 characters).
pub async fn create(store: &SharedStore, name: &str) -> Result<Created> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::InvalidRequest("an API key's name is 1 to 100 characters".into()));
    }
    let key = new_key();
    let api_key = store
        .create_api_key(NewApiKey {
            key_id: new_id(),
            name: name.to_string(),
            key_hash: key_hash(&key),
            created_at: now_millis(),
        })
        .await?;
    Ok(Created { key, api_key })
}

/// The API key `presented` is, if it is one in force; `UNAUTHORIZED` otherwise (unknown and revoked
/// keys alike).
pub async fn authenticate(store: &SharedStore, presented: &str) -> Result<ApiKey> {
    let refused = || Error::Unauthorized("unknown or revoked API key".into());
    if !presented.starts_with(PREFIX) || validate::client_id("key", presented).is_err() {
        return Err(Error::Unauthorized(
            "the server API needs an API key (`Authorization: Bearer cfk_…`)".into(),
        ));
    }
    match store.api_key_by_hash(&key_hash(presented)).await? {
        Some(key) if key.revoked_at.is_none() => Ok(key),
        _ => Err(refused()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_prefixed_hex_and_hash_ignoring_surrounding_space() {
        let (a, b) = (new_key(), new_key());
        assert_ne!(a, b);
        assert!(a.starts_with(PREFIX) && a.len() == PREFIX.len() + 64);
        assert!(a[PREFIX.len()..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(key_hash(&a), key_hash(&format!(" {a}\n")));
        assert_ne!(key_hash(&a), key_hash(&b));
    }
}
