//! Receipts of one message: which members received and read it, each with when they first did.
//! Only members of the conversation may ask; the sender is never listed.

use crate::error::{Error, Result};
use crate::rows::{ConversationRow, FirstMark, MarkerKind, MemberRow};
use crate::store::{MessageRef, Receipts};

use super::access;

/// The message receipts are asked for: the viewer must be a member (`ConversationNotFound`,
/// `Forbidden`), and the message must be in that conversation (`MessageNotFound`).
pub fn target(
    conversation: Option<ConversationRow>,
    viewer: Option<MemberRow>,
    message: Option<MessageRef>,
) -> Result<MessageRef> {
    access::membership(conversation, viewer)?;
    message.ok_or(Error::MessageNotFound)
}

/// The receipts of `message` from the first marks at or beyond it: everyone but the sender, the
/// earliest first.
pub fn collect(message: &MessageRef, marks: Vec<FirstMark>) -> Receipts {
    let mut marks: Vec<FirstMark> = marks.into_iter().filter(|m| m.user_id != message.sender_id).collect();
    marks.sort_by(|a, b| (a.at, &a.user_id).cmp(&(b.at, &b.user_id)));
    let mut out = Receipts::default();
    for m in marks {
        let list = match m.kind {
            MarkerKind::Delivered => &mut out.delivered_to,
            MarkerKind::Read => &mut out.read_by,
        };
        list.push((m.user_id, m.at));
    }
    out
}

#[cfg(test)]
mod tests {
    use confab_proto::Role;

    use super::*;
    use crate::rules::fixtures::{group, member};

    fn message() -> MessageRef {
        MessageRef { message_id: "m".into(), sender_id: "s".into(), sequence_number: 3 }
    }

    fn mark(user: &str, kind: MarkerKind, at: i64) -> FirstMark {
        FirstMark { user_id: user.into(), kind, at }
    }

    #[test]
    fn only_members_see_receipts_of_messages_in_their_conversation() {
        let me = || Some(member("v", Role::Member, 0));
        assert_eq!(target(None, me(), Some(message())).unwrap_err(), Error::ConversationNotFound);
        assert!(matches!(target(Some(group()), None, Some(message())), Err(Error::Forbidden(_))));
        assert_eq!(target(Some(group()), me(), None).unwrap_err(), Error::MessageNotFound);
        assert_eq!(target(Some(group()), me(), Some(message())).unwrap(), message());
    }

    #[test]
    fn receipts_list_others_earliest_first() {
        use MarkerKind::*;
        let marks = vec![
            mark("b", Delivered, 20),
            mark("s", Read, 1),
            mark("a", Delivered, 20),
            mark("c", Delivered, 5),
            mark("a", Read, 30),
        ];
        let r = collect(&message(), marks);
        assert_eq!(r.delivered_to, [("c".to_string(), 5), ("a".to_string(), 20), ("b".to_string(), 20)]);
        assert_eq!(r.read_by, [("a".to_string(), 30)]);
    }
}
