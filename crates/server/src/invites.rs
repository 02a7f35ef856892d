//! Invite codes for `--registration invite`: made by the operator (`confab admin invite create`),
//! shown once, stored only as their SHA-256, redeemed by [`crate::service::Accounts`] when someone
//! registers with one.

use confab_core::ids::{new_id, now_millis};
use confab_core::store::{Invite, NewInvite, SharedStore};
use confab_core::{Error, Result};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// The stored form of a code: SHA-256, hex. Codes carry 128 random bits, so a plain hash is
/// enough (no salt or slow hash needed against guessing).
pub fn code_hash(code: &str) -> String {
    Sha256::digest(code.trim().as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh code: 128 random bits as 32 hex digits in groups of four, easy to read out.
fn new_code() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    hex.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("-")
}

/// A new invite and its code (shown only now).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Created {
    pub code: String,
    #[serde(flatten)]
    pub invite: Invite,
}

/// Makes an invite good for `uses` registrations (1–10 000), until `valid_ms` from now if given.
pub async fn create(store: &SharedStore, uses: u32, valid_ms: Option<i64>) -> Result<Created> {
    if !(1..=10_000).contains(&uses) {
        return Err(Error::InvalidRequest("an invite allows 1 to 10000 uses".into()));
    }
    let code = new_code();
    let now = now_millis();
    let invite = store
        .create_invite(NewInvite {
            invite_id: new_id(),
            code_hash: code_hash(&code),
            uses,
            expires_at: valid_ms.map(|ms| now.saturating_add(ms)),
            created_at: now,
        })
        .await?;
    Ok(Created { code, invite })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_random_grouped_hex_and_hash_ignoring_surrounding_space() {
        let (a, b) = (new_code(), new_code());
        assert_ne!(a, b);
        assert_eq!(a.len(), 39);
        assert!(a.split('-').all(|g| g.len() == 4 && g.chars().all(|c| c.is_ascii_hexdigit())));
        assert_eq!(code_hash(&a), code_hash(&format!("  {a}\n")));
        assert_eq!(code_hash(&a).len(), 64);
        assert_ne!(code_hash(&a), code_hash(&b));
    }
}
