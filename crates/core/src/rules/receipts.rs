//! Receipts of one message: which members received and read it, each with when they first did.
//! Only members of the conversation may ask; the sender is never listed.

use crate::error::{Error, Result};
use crate::rows::{ConversationRow, FirstMark, LocatedMessage, MarkerKind, MemberRow};
use crate::store::{MessageRef, Receipts};

use super::access;

/// The message receipts are asked for: the viewer must be a member (`ConversationNotFound`,
/// `Forbidden`), and a message with `message_id` must be in that conversation (`MessageNotFound`).
/// `found` is every message of the conversation with that id (one per sender at most); which one
/// the viewer means is [`access::meant_by`]'s choice: their own, else the newest.
pub fn target(
    conversation: Option<ConversationRow>,
    viewer: Option<MemberRow>,
    message_id: &str,
    found: Vec<LocatedMessage>,
) -> Result<MessageRef> {
    let membership = access::membership(conversation, viewer)?;
    let conversation_id = &membership.conversation.conversation_id;
    let here = found.into_iter().filter(|m| &m.conversation_id == conversation_id).collect();
    let m = access::meant_by(&membership.member.user_id, here).ok_or(Error::MessageNotFound)?;
    Ok(MessageRef {
        message_id: message_id.to_string(),
        sender_id: m.sender_id,
        sequence_number: m.sequence_number,
    })
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

    fn found(sequence: u64, sender: &str) -> LocatedMessage {
        LocatedMessage {
            conversation_id: "c".into(),
            sequence_number: sequence,
            sender_id: sender.into(),
            created_at: sequence as i64,
            viewer_is_member: true,
        }
    }

    #[test]
    fn only_members_see_receipts_of_messages_in_their_conversation() {
        let me = || Some(member("v", Role::Member, 0));
        let one = || vec![found(3, "s")];
        assert_eq!(target(None, me(), "m", one()).unwrap_err(), Error::ConversationNotFound);
        assert!(matches!(target(Some(group()), None, "m", one()), Err(Error::Forbidden(_))));
        assert_eq!(target(Some(group()), me(), "m", vec![]).unwrap_err(), Error::MessageNotFound);
        let elsewhere = vec![LocatedMessage { conversation_id: "x".into(), ..found(3, "s") }];
        assert_eq!(target(Some(group()), me(), "m", elsewhere).unwrap_err(), Error::MessageNotFound);
        assert_eq!(target(Some(group()), me(), "m", one()).unwrap(), message());
    }

    #[test]
    fn a_shared_id_means_the_viewers_own_else_the_newest() {
        let both = || vec![found(3, "s"), found(5, "v")];
        let own = target(Some(group()), Some(member("v", Role::Member, 0)), "m", both()).unwrap();
        assert_eq!((own.sender_id.as_str(), own.sequence_number), ("v", 5));
        let both = || vec![found(5, "t"), found(3, "v")];
        let own = target(Some(group()), Some(member("v", Role::Member, 0)), "m", both()).unwrap();
        assert_eq!((own.sender_id.as_str(), own.sequence_number), ("v", 3));
        let newest = target(Some(group()), Some(member("w", Role::Member, 0)), "m", both()).unwrap();
        assert_eq!((newest.sender_id.as_str(), newest.sequence_number), ("t", 5));
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
