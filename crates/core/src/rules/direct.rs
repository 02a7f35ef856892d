//! Direct conversations: each pair of users has at most one, found again by its pair key.

use confab_proto::{ConversationType, GroupSettings, Role};

use super::blocks::Blocking;
use crate::error::{Error, Result};
use crate::ids::direct_key;
use crate::rows::{ConversationRow, MemberRow, NewConversation};

/// What opening a direct conversation comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectOpening {
    /// The pair already has this conversation.
    Existing(String),
    /// Insert this conversation. Two nodes may race to create the same pair: the adapter lets the
    /// unique pair key pick the winner and answers with whichever conversation was stored.
    Create(NewConversation),
}

/// Opens the direct conversation of `a` and `b`, given which of them exist (`found`), the
/// conversation already stored under their pair key, and the blocks between `a` and `b` (as `a`
/// sees them). Both users must exist (`UserNotFound`, `a` checked first), they must be two
/// different users (`InvalidRequest`), and `b` must not block `a` (`Forbidden`, whether or not the
/// conversation exists: see [`super::blocks::direct_open`]).
pub fn open(
    a: &str,
    b: &str,
    found: &[String],
    existing: Option<String>,
    blocking: Blocking,
    new_id: &str,
    now: i64,
) -> Result<DirectOpening> {
    if a == b {
        return Err(Error::InvalidRequest("a direct conversation needs another user".into()));
    }
    super::users::require_existing([a, b], found)?;
    super::blocks::direct_open(blocking)?;
    if let Some(id) = existing {
        return Ok(DirectOpening::Existing(id));
    }
    // Both start with nothing to receive or read.
    let member = |user_id: &str| MemberRow {
        user_id: user_id.to_string(),
        role: Role::Member,
        joined_at: now,
        last_read_sequence: 0,
        last_delivered_sequence: 0,
        muted_until: None,
    };
    Ok(DirectOpening::Create(NewConversation {
        conversation: ConversationRow {
            conversation_id: new_id.to_string(),
            kind: ConversationType::Direct,
            name: None,
            settings: GroupSettings::default(),
            created_at: now,
            last_sequence: 0,
            member_count: 2,
            purged_up_to: 0,
        },
        direct_key: Some(direct_key(a, b)),
        members: vec![member(a), member(b)],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both() -> Vec<String> {
        vec!["a".into(), "b".into()]
    }

    #[test]
    fn missing_users_are_refused_even_when_a_conversation_is_known() {
        let only_a = vec!["a".to_string()];
        assert_eq!(
            open("a", "b", &only_a, None, Blocking::default(), "n", 1),
            Err(Error::UserNotFound("b".into()))
        );
        assert_eq!(
            open("b", "a", &[], Some("c".into()), Blocking::default(), "n", 1),
            Err(Error::UserNotFound("b".into()))
        );
    }

    #[test]
    fn an_existing_pair_is_reused() {
        assert_eq!(
            open("a", "b", &both(), Some("c".into()), Blocking::default(), "n", 1),
            Ok(DirectOpening::Existing("c".into()))
        );
    }

    #[test]
    fn a_new_pair_gets_two_plain_members_and_the_pair_key() {
        let Ok(DirectOpening::Create(new)) = open("b", "a", &both(), None, Blocking::default(), "n", 5)
        else {
            panic!("expected a new conversation")
        };
        assert_eq!(new.direct_key.as_deref(), Some("a|b"));
        assert_eq!((new.conversation.conversation_id.as_str(), new.conversation.member_count), ("n", 2));
        assert!(new.members.iter().all(|m| m.role == Role::Member && m.joined_at == 5));
        assert_eq!(new.members.len(), 2);
    }

    #[test]
    fn a_user_blocked_by_the_other_cannot_open_the_conversation() {
        let blocked = Blocking { blocks_peer: false, blocked_by_peer: true };
        for existing in [None, Some("c".to_string())] {
            assert!(matches!(open("a", "b", &both(), existing, blocked, "n", 1), Err(Error::Forbidden(_))));
        }
        let blocker = Blocking { blocks_peer: true, blocked_by_peer: false };
        assert!(open("a", "b", &both(), Some("c".into()), blocker, "n", 1).is_ok());
    }

    #[test]
    fn nobody_opens_a_direct_conversation_with_themselves() {
        assert!(matches!(
            open("a", "a", &both(), None, Blocking::default(), "n", 1),
            Err(Error::InvalidRequest(_))
        ));
    }
}
