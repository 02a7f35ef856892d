//! Rules about users as other changes see them: everyone a conversation change names must exist,
//! and a user search matches usernames the way they are stored (lower-case).

use crate::error::{Error, Result};

/// `UserNotFound` for the first of `wanted` (in the order given) that is not in `found`.
pub fn require_existing<'a>(wanted: impl IntoIterator<Item = &'a str>, found: &[String]) -> Result<()> {
    match wanted.into_iter().find(|id| !found.iter().any(|f| f == id)) {
        Some(missing) => Err(Error::UserNotFound(missing.to_string())),
        None => Ok(()),
    }
}

/// What a registration with an invite that cannot be used is told: the same whatever the reason
/// (unknown, used up, expired, revoked), so codes cannot be probed.
pub fn invalid_invite() -> Error {
    Error::Forbidden("this invite code is not valid (unknown, used up, expired or revoked)".into())
}

/// The username prefix a search looks for: usernames are stored trimmed and lower-cased (see
/// [`crate::validate::username`]), so the prefix is too.
pub fn search_prefix(raw: &str) -> String {
    raw.trim().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_missing_user_is_named() {
        let found = vec!["a".to_string(), "c".to_string()];
        assert_eq!(require_existing(["a", "c"], &found), Ok(()));
        assert_eq!(require_existing(["a", "x", "y"], &found), Err(Error::UserNotFound("x".into())));
        assert_eq!(require_existing([], &found), Ok(()));
    }

    #[test]
    fn search_prefixes_match_stored_usernames() {
        assert_eq!(search_prefix("  AlI "), "ali");
    }
}
