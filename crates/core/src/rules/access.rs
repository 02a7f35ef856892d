//! Who may see what. A conversation's members see it, its history, its markers and its receipts;
//! anyone else learns only that it exists (`Forbidden`), and never which messages it holds.

use confab_proto::Role;

use crate::error::{Error, Result};
use crate::rows::{ConversationRow, LocatedMessage, MemberRow};

/// A conversation together with one of its members, as read in one snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub conversation: ConversationRow,
    pub member: MemberRow,
}

impl Membership {
    pub fn is_admin(&self) -> bool {
        self.member.role == Role::Admin
    }
}

/// `user`'s membership: `ConversationNotFound` when the conversation does not exist, `Forbidden`
/// when `user` is not in it.
pub fn membership(conversation: Option<ConversationRow>, member: Option<MemberRow>) -> Result<Membership> {
    let conversation = conversation.ok_or(Error::ConversationNotFound)?;
    let member = member.ok_or_else(Error::not_member)?;
    Ok(Membership { conversation, member })
}

/// Where a message is, for a viewer: `MessageNotFound` both when it does not exist and when it is
/// in a conversation the viewer is not in, so the answer never reveals other conversations.
pub fn locate(found: Option<LocatedMessage>) -> Result<(String, u64)> {
    match found {
        Some(m) if m.viewer_is_member => Ok((m.conversation_id, m.sequence_number)),
        _ => Err(Error::MessageNotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::fixtures::{group, member};

    #[test]
    fn a_missing_conversation_is_reported_before_membership() {
        assert_eq!(membership(None, None).unwrap_err(), Error::ConversationNotFound);
        assert!(matches!(membership(Some(group()), None), Err(Error::Forbidden(_))));
        let m = membership(Some(group()), Some(member("u", Role::Admin, 1))).unwrap();
        assert!(m.is_admin());
    }

    #[test]
    fn messages_of_other_conversations_are_not_found() {
        let at = |viewer_is_member| LocatedMessage {
            conversation_id: "c".into(),
            sequence_number: 4,
            viewer_is_member,
        };
        assert_eq!(locate(Some(at(true))).unwrap(), ("c".to_string(), 4));
        assert_eq!(locate(Some(at(false))).unwrap_err(), Error::MessageNotFound);
        assert_eq!(locate(None).unwrap_err(), Error::MessageNotFound);
    }
}
