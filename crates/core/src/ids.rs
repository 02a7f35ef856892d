//! Identifiers and the server clock.

/// A new random identifier. UUIDv7 keeps ids roughly time-ordered, which keeps B-tree inserts local.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Milliseconds since the Unix epoch, by the server's clock (never the client's).
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The canonical key of a direct conversation: the two user ids, ordered, so the same pair always
/// finds the same conversation.
pub fn direct_key(a: &str, b: &str) -> String {
    if a <= b {
        format!("{a}|{b}")
    } else {
        format!("{b}|{a}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn direct_key_is_symmetric() {
        assert_eq!(super::direct_key("u2", "u1"), super::direct_key("u1", "u2"));
        assert_ne!(super::direct_key("u1", "u2"), super::direct_key("u1", "u3"));
    }
}
