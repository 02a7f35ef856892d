//! Presence data as the store answers it.

/// `lastSeen` answers for `requested`, in the order asked (repeats included), from the rows found
/// in any order; users that do not exist are left out.
pub fn in_request_order(requested: &[String], found: &[(String, Option<i64>)]) -> Vec<(String, Option<i64>)> {
    requested.iter().filter_map(|id| found.iter().find(|(f, _)| f == id).cloned()).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn answers_follow_the_request() {
        let ask: Vec<String> = ["b", "ghost", "a"].iter().map(|s| s.to_string()).collect();
        let found = [("a".to_string(), Some(1)), ("b".to_string(), None)];
        assert_eq!(
            super::in_request_order(&ask, &found),
            [("b".to_string(), None), ("a".to_string(), Some(1))]
        );
    }
}
