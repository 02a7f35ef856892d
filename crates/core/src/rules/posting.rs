//! Appending: who may post where, and how a resent message is answered. Sequence numbers and
//! timestamps are the adapter's to assign at commit; everything else about an append is decided
//! here.

use confab_proto::{GroupSettings, Message, Role};

use super::blocks::{self, Blocking};
use crate::error::{Error, Result};
use crate::store::{Appended, NewMessage};

/// What an append must know before it writes, read together: the sender's stored message with the
/// same id (a `messageId` is unique per sender; other senders' messages with it are other
/// messages), the conversation's settings (`None`: no such conversation), the sender's role
/// in it, and, in a direct conversation, blocks between the sender and the other member.
#[derive(Debug, Clone, Default)]
pub struct AppendCheck {
    pub existing: Option<Message>,
    pub settings: Option<GroupSettings>,
    pub role: Option<Role>,
    /// Blocks between the sender and the other member of a direct conversation; the default (no
    /// block) in a group, where blocks change nothing.
    pub blocking: Blocking,
}

/// What to do with a checked append.
#[derive(Debug, Clone)]
pub enum AppendPlan {
    /// The same message was stored before: answer with it (`created: false`), write nothing.
    Repeat(Appended),
    /// Assign the next sequence number and write it.
    Write,
}

/// Decides a checked append. The sender's stored message with the same id wins over everything
/// else (a retry is answered even if the sender has since left); otherwise the conversation must
/// exist, the sender must be a member, no block may stand between the two members of a direct
/// conversation, and in a group where only admins post, the sender must be an admin.
pub fn decide(message: &NewMessage, check: AppendCheck) -> Result<AppendPlan> {
    if let Some(original) = check.existing {
        return message.resend_of(original).map(AppendPlan::Repeat);
    }
    let settings = check.settings.ok_or(Error::ConversationNotFound)?;
    let role = check.role.ok_or_else(Error::not_member)?;
    blocks::direct_send(check.blocking)?;
    if settings.only_admins_can_post && role != Role::Admin {
        return Err(Error::Forbidden("only admins can post in this group".into()));
    }
    Ok(AppendPlan::Write)
}

/// For appends committed together, where message `index` of `batch` repeats an earlier one of the
/// same sender that this batch writes (`written(j)`; not yet visible to the checks): `Some(Ok(j))`
/// when it is the same message as `batch[j]` and gets `batch[j]`'s answer,
/// `Some(Err(DuplicateMessage))` when only the sender and id are the same, `None` when no earlier
/// message of the batch with its sender and id is written. Only written ones count: when the id is
/// already stored, or an earlier attempt was refused, the message is decided on its own, as if it
/// came alone.
pub fn earlier_in_batch(
    batch: &[&NewMessage],
    index: usize,
    written: impl Fn(usize) -> bool,
) -> Option<Result<usize>> {
    let message = batch[index];
    let j = batch[..index].iter().enumerate().position(|(j, m)| {
        m.sender_id == message.sender_id && m.message_id == message.message_id && written(j)
    })?;
    Some(if batch[j].same_as(message) { Ok(j) } else { Err(Error::DuplicateMessage) })
}

/// The answer to an append written with `sequence` at `timestamp`.
pub fn stored(message: &NewMessage, sequence: u64, timestamp: i64) -> Appended {
    Appended {
        message: Message {
            message_id: message.message_id.clone(),
            conversation_id: message.conversation_id.clone(),
            sender_id: message.sender_id.clone(),
            content: message.content.clone(),
            sequence_number: sequence,
            timestamp,
            status: None,
        },
        created: true,
    }
}

#[cfg(test)]
mod tests {
    use confab_proto::Content;

    use super::*;

    fn msg(id: &str, text: &str) -> NewMessage {
        NewMessage {
            message_id: id.into(),
            conversation_id: "c".into(),
            sender_id: "u".into(),
            content: Content::Text { text: text.into() },
        }
    }

    fn check(only_admins: bool, role: Option<Role>) -> AppendCheck {
        AppendCheck {
            existing: None,
            settings: Some(GroupSettings { only_admins_can_post: only_admins, allow_member_invites: false }),
            role,
            blocking: Blocking::default(),
        }
    }

    #[test]
    fn a_block_either_way_stops_sends_but_not_the_answer_to_a_retry() {
        let blocked = AppendCheck {
            blocking: Blocking { blocks_peer: false, blocked_by_peer: true },
            ..check(false, Some(Role::Member))
        };
        assert_eq!(
            decide(&msg("m", "hi"), blocked.clone()).unwrap_err(),
            Error::Forbidden(blocks::BLOCKED_MESSAGE.into())
        );
        let blocker = AppendCheck {
            blocking: Blocking { blocks_peer: true, blocked_by_peer: false },
            ..check(false, Some(Role::Member))
        };
        assert_eq!(
            decide(&msg("m", "hi"), blocker).unwrap_err(),
            Error::Forbidden(blocks::BLOCKER_MESSAGE.into())
        );
        let outsider = AppendCheck { role: None, ..blocked.clone() };
        assert_eq!(decide(&msg("m", "hi"), outsider).unwrap_err(), Error::not_member(), "membership first");
        let retry = AppendCheck { existing: Some(stored(&msg("m", "hi"), 2, 1).message), ..blocked };
        assert!(matches!(decide(&msg("m", "hi"), retry), Ok(AppendPlan::Repeat(_))));
    }

    #[test]
    fn members_post_and_outsiders_do_not() {
        assert!(matches!(decide(&msg("m", "hi"), check(false, Some(Role::Member))), Ok(AppendPlan::Write)));
        assert!(matches!(decide(&msg("m", "hi"), check(false, None)), Err(Error::Forbidden(_))));
        let missing = AppendCheck { settings: None, ..check(false, None) };
        assert_eq!(decide(&msg("m", "hi"), missing).unwrap_err(), Error::ConversationNotFound);
    }

    #[test]
    fn only_admins_post_where_the_group_says_so() {
        assert!(matches!(decide(&msg("m", "hi"), check(true, Some(Role::Member))), Err(Error::Forbidden(_))));
        assert!(matches!(decide(&msg("m", "hi"), check(true, Some(Role::Admin))), Ok(AppendPlan::Write)));
    }

    #[test]
    fn a_resend_is_answered_before_any_permission_check() {
        let original = stored(&msg("m", "hi"), 3, 100).message;
        let retry = AppendCheck { existing: Some(original.clone()), ..check(true, None) };
        let Ok(AppendPlan::Repeat(again)) = decide(&msg("m", "hi"), retry) else {
            panic!("expected a repeat")
        };
        assert_eq!((again.created, again.message.sequence_number), (false, 3));
        let clash = AppendCheck { existing: Some(original), ..check(false, Some(Role::Admin)) };
        assert_eq!(decide(&msg("m", "changed"), clash).unwrap_err(), Error::DuplicateMessage);
    }

    #[test]
    fn repeats_within_one_batch_follow_the_first_written() {
        let (a, b, a_again, a_changed) = (msg("a", "x"), msg("b", "x"), msg("a", "x"), msg("a", "y"));
        let a_by_other = NewMessage { sender_id: "o".into(), ..msg("a", "x") };
        let batch = [&a, &b, &a_by_other, &a_again, &a_changed];
        let all = |_| true;
        assert!(earlier_in_batch(&batch, 0, all).is_none());
        assert!(earlier_in_batch(&batch, 1, all).is_none());
        assert!(earlier_in_batch(&batch, 2, all).is_none(), "another sender's id is another message");
        assert_eq!(earlier_in_batch(&batch, 3, all), Some(Ok(0)));
        assert_eq!(earlier_in_batch(&batch, 4, all), Some(Err(Error::DuplicateMessage)));
    }

    /// `a` was stored with "x" before this batch: the batch's "y" is refused by its check and
    /// writes nothing, so the "x" after it is a plain retry of the stored message, not a clash
    /// with "y".
    #[test]
    fn repeats_of_an_attempt_that_writes_nothing_are_decided_alone() {
        let (changed, same) = (msg("a", "y"), msg("a", "x"));
        let batch = [&changed, &same];
        assert_eq!(earlier_in_batch(&batch, 1, |j| j != 0), None);
        let stored_before = stored(&msg("a", "x"), 1, 100).message;
        let check = AppendCheck { existing: Some(stored_before), ..check(false, Some(Role::Member)) };
        assert!(matches!(decide(&same, check), Ok(AppendPlan::Repeat(a)) if !a.created));
    }
}
