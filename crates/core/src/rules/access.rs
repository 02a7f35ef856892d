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

/// Which message `viewer` means by a `messageId`, among every stored message found with it (a
/// `messageId` is unique per sender, so several senders' messages may share one). Only messages
/// in conversations the viewer is in count. Of those, the viewer's own comes first (a sender has
/// at most one message with a given id); else the newest: the latest timestamp, then the highest
/// sequence number, then the greatest conversation id, so the choice never depends on the order
/// the rows were read in. `None` when the viewer can see none of them.
pub fn meant_by(viewer: &str, found: Vec<LocatedMessage>) -> Option<LocatedMessage> {
    let rank = |m: &LocatedMessage| (m.sender_id == viewer, m.created_at, m.sequence_number);
    found
        .into_iter()
        .filter(|m| m.viewer_is_member)
        .max_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.conversation_id.cmp(&b.conversation_id)))
}

/// Where the message `viewer` means by a `messageId` is (see [`meant_by`]): `MessageNotFound` both
/// when none exists and when every one is in a conversation the viewer is not in, so the answer
/// never reveals other conversations or other users' ids.
pub fn locate(viewer: &str, found: Vec<LocatedMessage>) -> Result<(String, u64)> {
    let m = meant_by(viewer, found).ok_or(Error::MessageNotFound)?;
    Ok((m.conversation_id, m.sequence_number))
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

    fn found(conversation: &str, sequence: u64, sender: &str, at: i64, member: bool) -> LocatedMessage {
        LocatedMessage {
            conversation_id: conversation.into(),
            sequence_number: sequence,
            sender_id: sender.into(),
            created_at: at,
            viewer_is_member: member,
        }
    }

    #[test]
    fn messages_of_other_conversations_are_not_found() {
        assert_eq!(locate("v", vec![found("c", 4, "s", 1, true)]).unwrap(), ("c".to_string(), 4));
        assert_eq!(locate("v", vec![found("c", 4, "s", 1, false)]).unwrap_err(), Error::MessageNotFound);
        assert_eq!(locate("v", vec![found("c", 4, "v", 1, false)]).unwrap_err(), Error::MessageNotFound);
        assert_eq!(locate("v", vec![]).unwrap_err(), Error::MessageNotFound);
        // A newer message the viewer cannot see is skipped, not reported.
        let hidden = vec![found("c", 4, "s", 1, true), found("x", 9, "t", 5, false)];
        assert_eq!(locate("v", hidden).unwrap(), ("c".to_string(), 4));
    }

    #[test]
    fn a_shared_id_means_the_viewers_own_else_the_newest() {
        let own = found("c", 2, "v", 10, true);
        let newer = found("d", 7, "s", 20, true);
        assert_eq!(meant_by("v", vec![newer.clone(), own.clone()]), Some(own.clone()));
        assert_eq!(meant_by("v", vec![own.clone(), newer.clone()]), Some(own));
        assert_eq!(meant_by("w", vec![found("c", 2, "v", 10, true), newer.clone()]), Some(newer));
        // Ties on time: the higher sequence, then the greater conversation id, whatever the order.
        let (low, high) = (found("c", 3, "s", 10, true), found("c", 5, "t", 10, true));
        assert_eq!(meant_by("w", vec![high.clone(), low.clone()]), Some(high.clone()));
        assert_eq!(meant_by("w", vec![low, high.clone()]), Some(high));
        let (a, b) = (found("a", 3, "s", 10, true), found("b", 3, "t", 10, true));
        assert_eq!(meant_by("w", vec![b.clone(), a.clone()]), Some(b.clone()));
        assert_eq!(meant_by("w", vec![a, b.clone()]), Some(b));
    }
}
