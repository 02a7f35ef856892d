//! Which tokens a revocation covers. A token is known by its session id (`jti`, absent from
//! application-minted tokens that do not set one) and when it was issued (ms; absent when the
//! token carries no `iat`).

use crate::bus::Revoked;
use crate::store::Revocations;

/// What revocations can tell one token from another by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenSession {
    pub session_id: Option<String>,
    /// Milliseconds since the epoch.
    pub issued_at: Option<i64>,
}

impl TokenSession {
    /// Whether `revoked` covers this token: its session, or a cutoff after it was issued (unless
    /// it is the kept session). A token without `iat` is never covered by a cutoff; one without
    /// `jti` is never covered by a single-session revocation.
    pub fn covered_by(&self, revoked: &Revoked) -> bool {
        match revoked {
            Revoked::Session(id) => self.session_id.as_deref() == Some(id),
            Revoked::IssuedBefore { before, keep } => self.before_cutoff(*before, keep.as_deref()),
        }
    }

    /// Whether anything recorded for the token's user revokes it.
    pub fn revoked_by(&self, revocations: &Revocations) -> bool {
        let by_session = self.session_id.as_ref().is_some_and(|id| revocations.sessions.contains(id));
        let by_cutoff = revocations
            .cutoff
            .as_ref()
            .is_some_and(|c| self.before_cutoff(c.before, c.kept_session.as_deref()));
        by_session || by_cutoff
    }

    fn before_cutoff(&self, before: i64, keep: Option<&str>) -> bool {
        let kept = keep.is_some() && self.session_id.as_deref() == keep;
        !kept && self.issued_at.is_some_and(|at| at < before)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SessionCutoff;

    fn token(id: Option<&str>, at: Option<i64>) -> TokenSession {
        TokenSession { session_id: id.map(String::from), issued_at: at }
    }

    #[test]
    fn a_session_revocation_covers_that_session_only() {
        let revoked = Revoked::Session("s1".into());
        assert!(token(Some("s1"), Some(5)).covered_by(&revoked));
        assert!(!token(Some("s2"), Some(5)).covered_by(&revoked));
        assert!(!token(None, Some(5)).covered_by(&revoked));
    }

    #[test]
    fn a_cutoff_covers_earlier_tokens_with_iat_except_the_kept_one() {
        let cutoff = Revoked::IssuedBefore { before: 100, keep: Some("mine".into()) };
        assert!(token(Some("other"), Some(99)).covered_by(&cutoff));
        assert!(!token(Some("other"), Some(100)).covered_by(&cutoff), "issued at the cutoff: after it");
        assert!(!token(Some("mine"), Some(50)).covered_by(&cutoff), "the kept session");
        assert!(token(None, Some(50)).covered_by(&cutoff), "application token with iat");
        assert!(!token(None, None).covered_by(&cutoff), "no iat: nothing to compare");
        let no_keep = Revoked::IssuedBefore { before: 100, keep: None };
        assert!(token(None, Some(50)).covered_by(&no_keep));
    }

    #[test]
    fn stored_revocations_combine_both_kinds() {
        let revocations = Revocations {
            sessions: vec!["gone".into()],
            cutoff: Some(SessionCutoff { before: 100, kept_session: Some("kept".into()) }),
        };
        assert!(token(Some("gone"), Some(500)).revoked_by(&revocations));
        assert!(token(Some("old"), Some(10)).revoked_by(&revocations));
        assert!(!token(Some("kept"), Some(10)).revoked_by(&revocations));
        assert!(!token(Some("new"), Some(100)).revoked_by(&revocations));
        assert!(!token(Some("any"), Some(1)).revoked_by(&Revocations::default()));
    }
}
