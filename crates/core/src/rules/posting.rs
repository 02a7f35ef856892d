//! Appending: who may post where, and how a resent message is answered. Sequence numbers and
//! timestamps are the adapter's to assign at commit; everything else about an append is decided
//! here.

use confab_proto::{GroupSettings, Message, Role};

use super::blocks::{self, Blocking};
use crate::error::{Error, Result};
use crate::rows::LocatedMessage;
use crate::store::{Appended, NewMessage};

use super::access;

/// The user id of the system account: the sender of the messages an application posts through
/// the server API as nobody in particular. It is a member of no conversation, yet may post in any;
/// no one can log in as it (its username is not one registration accepts).
pub const SYSTEM_USER_ID: &str = "system";
/// The system account's username (`@` is never accepted at registration) and display name.
pub const SYSTEM_USERNAME: &str = "@system";
pub const SYSTEM_DISPLAY_NAME: &str = "System";

/// What an append must know before it writes, read together: the sender's stored message with the
/// same id (a `messageId` is unique per sender; other senders' messages with it are other
/// messages), the conversation's settings (`None`: no such conversation), the sender's role
/// in it, in a direct conversation, blocks between the sender and the other member, and, for a
/// reply, the conversation's messages with the `messageId` it replies to, and for an attachment
/// message, who uploaded the attachment it names (`None`: no such attachment).
#[derive(Debug, Clone, Default)]
pub struct AppendCheck {
    pub existing: Option<Message>,
    pub settings: Option<GroupSettings>,
    pub role: Option<Role>,
    /// Blocks between the sender and the other member of a direct conversation; the default (no
    /// block) in a group, where blocks change nothing.
    pub blocking: Blocking,
    pub reply_candidates: Vec<LocatedMessage>,
    pub attachment_uploader: Option<String>,
}

/// What to do with a checked append.
#[derive(Debug, Clone)]
pub enum AppendPlan {
    /// The same message was stored before: answer with it (`created: false`), write nothing.
    Repeat(Box<Appended>),
    /// Assign the next sequence number and write it, replying to the message at
    /// `reply_to_sequence` when it is a reply.
    Write { reply_to_sequence: Option<u64> },
}

/// Decides a checked append. The sender's stored message with the same id wins over everything
/// else (a retry is answered even if the sender has since left); otherwise the conversation must
/// exist, the sender must be a member (or the system account), no block may stand between the two
/// members of a direct conversation, in a group where only admins post the sender must be an
/// admin, and an attachment message must link a file its sender uploaded.
pub fn decide(message: &NewMessage, check: AppendCheck) -> Result<AppendPlan> {
    if let Some(original) = check.existing {
        return message.resend_of(original).map(|a| AppendPlan::Repeat(Box::new(a)));
    }
    let settings = check.settings.ok_or(Error::ConversationNotFound)?;
    // The system account posts where the application tells it to, as a group's admin would.
    let system = message.sender_id == SYSTEM_USER_ID;
    let role = check.role.or(system.then_some(Role::Admin)).ok_or_else(Error::not_member)?;
    blocks::direct_send(check.blocking)?;
    if settings.only_admins_can_post && role != Role::Admin {
        return Err(Error::Forbidden("only admins can post in this group".into()));
    }
    if message.content.attachment().is_some() {
        super::attachments::may_link(check.attachment_uploader.as_deref(), &message.sender_id)?;
    }
    let reply_to_sequence = match &message.reply_to {
        None => None,
        Some(_) => Some(reply_target(message, check.reply_candidates)?),
    };
    Ok(AppendPlan::Write { reply_to_sequence })
}

/// The sequence number of the message a reply means among `candidates` (its conversation's
/// messages with the `replyTo` id): the replier's own, else the newest. `InvalidMessage` when
/// the conversation has none.
pub fn reply_target(message: &NewMessage, candidates: Vec<LocatedMessage>) -> Result<u64> {
    let in_conversation = candidates
        .into_iter()
        .filter(|m| m.conversation_id == message.conversation_id)
        .map(|m| LocatedMessage { viewer_is_member: true, ..m })
        .collect();
    access::meant_by(&message.sender_id, in_conversation)
        .map(|m| m.sequence_number)
        .ok_or_else(|| Error::InvalidMessage("`replyTo` names no message of this conversation".into()))
}

/// Where a batch of appends checked together must end: before the first reply to a message of
/// the same batch (its target is not stored yet when the batch is checked), so it is checked in
/// the next batch, after its target committed. `batch.len()` when no reply needs that.
pub fn batch_end(batch: &[&NewMessage]) -> usize {
    (1..batch.len())
        .find(|&i| {
            let reply = batch[i];
            reply.reply_to.as_ref().is_some_and(|target| {
                batch[..i]
                    .iter()
                    .any(|m| m.conversation_id == reply.conversation_id && &m.message_id == target)
            })
        })
        .unwrap_or(batch.len())
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

/// The answer to an append written with `sequence` at `timestamp`, replying to the message at
/// `reply_to_sequence` if any.
pub fn stored(
    message: &NewMessage,
    sequence: u64,
    timestamp: i64,
    reply_to_sequence: Option<u64>,
) -> Appended {
    let mut stored = Message::new(
        message.message_id.clone(),
        message.conversation_id.clone(),
        message.sender_id.clone(),
        message.content.clone(),
        sequence,
        timestamp,
    );
    stored.reply_to = message.reply_to.clone();
    stored.reply_to_sequence = reply_to_sequence;
    stored.expires_at = super::expiry::expires_at(timestamp, message.expires_in);
    Appended { message: stored, created: true }
}

#[cfg(test)]
mod tests {
    use confab_proto::Content;

    use super::*;

    fn msg(id: &str, text: &str) -> NewMessage {
        NewMessage::new(id.into(), "c".into(), "u".into(), Content::Text { text: text.into() })
    }

    fn check(only_admins: bool, role: Option<Role>) -> AppendCheck {
        AppendCheck {
            existing: None,
            settings: Some(GroupSettings {
                only_admins_can_post: only_admins,
                allow_member_invites: false,
                retention_days: 0,
            }),
            role,
            blocking: Blocking::default(),
            reply_candidates: vec![],
            attachment_uploader: None,
        }
    }

    fn write(plan: Result<AppendPlan>) -> Option<u64> {
        match plan {
            Ok(AppendPlan::Write { reply_to_sequence }) => reply_to_sequence,
            other => panic!("expected a write, got {other:?}"),
        }
    }

    fn candidate(conversation: &str, sender: &str, sequence: u64, at: i64) -> LocatedMessage {
        LocatedMessage {
            conversation_id: conversation.into(),
            sequence_number: sequence,
            sender_id: sender.into(),
            created_at: at,
            viewer_is_member: false,
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
        let retry = AppendCheck { existing: Some(stored(&msg("m", "hi"), 2, 1, None).message), ..blocked };
        assert!(matches!(decide(&msg("m", "hi"), retry), Ok(AppendPlan::Repeat(_))));
    }

    #[test]
    fn the_system_account_posts_anywhere_without_being_a_member() {
        let system = NewMessage { sender_id: SYSTEM_USER_ID.into(), ..msg("m", "hi") };
        assert_eq!(write(decide(&system, check(true, None))), None, "even where only admins post");
        assert_eq!(decide(&msg("m", "hi"), check(false, None)).unwrap_err(), Error::not_member());
        let missing = AppendCheck { settings: None, ..check(false, None) };
        assert_eq!(decide(&system, missing).unwrap_err(), Error::ConversationNotFound);
    }

    #[test]
    fn a_reply_names_a_message_of_its_conversation() {
        let reply = NewMessage { reply_to: Some("r".into()), ..msg("m", "hi") };
        assert_eq!(write(decide(&msg("m", "hi"), check(false, Some(Role::Member)))), None);
        let found =
            |candidates| AppendCheck { reply_candidates: candidates, ..check(false, Some(Role::Member)) };
        assert_eq!(write(decide(&reply, found(vec![candidate("c", "o", 4, 1)]))), Some(4));
        // The replier's own message with that id first, else the newest.
        let shared = vec![candidate("c", "o", 4, 9), candidate("c", "u", 2, 1), candidate("c", "p", 6, 5)];
        assert_eq!(write(decide(&reply, found(shared))), Some(2));
        assert_eq!(
            write(decide(&reply, found(vec![candidate("c", "o", 4, 9), candidate("c", "p", 6, 5)]))),
            Some(4)
        );
        for none in [vec![], vec![candidate("elsewhere", "o", 4, 1)]] {
            let err = decide(&reply, found(none)).unwrap_err();
            assert_eq!(err.code(), confab_proto::ErrorCode::InvalidMessage);
        }
    }

    #[test]
    fn a_batch_ends_before_a_reply_to_a_message_of_the_same_batch() {
        let (a, b) = (msg("a", "x"), msg("b", "x"));
        let reply_a = NewMessage { reply_to: Some("a".into()), ..msg("r", "x") };
        let elsewhere =
            NewMessage { conversation_id: "d".into(), reply_to: Some("b".into()), ..msg("s", "x") };
        assert_eq!(batch_end(&[&a, &b, &elsewhere]), 3);
        assert_eq!(batch_end(&[&a, &b, &reply_a, &elsewhere]), 2);
        assert_eq!(batch_end(&[&reply_a, &a]), 2, "a reply to a later message is checked as usual");
        assert_eq!(batch_end(&[]), 0);
    }

    #[test]
    fn members_post_and_outsiders_do_not() {
        assert!(matches!(
            decide(&msg("m", "hi"), check(false, Some(Role::Member))),
            Ok(AppendPlan::Write { .. })
        ));
        assert!(matches!(decide(&msg("m", "hi"), check(false, None)), Err(Error::Forbidden(_))));
        let missing = AppendCheck { settings: None, ..check(false, None) };
        assert_eq!(decide(&msg("m", "hi"), missing).unwrap_err(), Error::ConversationNotFound);
    }

    #[test]
    fn an_attachment_message_links_only_its_senders_upload() {
        let file = |id: &str| {
            NewMessage::new(
                "m".into(),
                "c".into(),
                "u".into(),
                Content::File(confab_proto::AttachmentContent {
                    attachment_id: id.into(),
                    text: None,
                    metadata: None,
                }),
            )
        };
        let own = AppendCheck { attachment_uploader: Some("u".into()), ..check(false, Some(Role::Member)) };
        assert!(matches!(decide(&file("a"), own), Ok(AppendPlan::Write { .. })));
        let foreign =
            AppendCheck { attachment_uploader: Some("o".into()), ..check(false, Some(Role::Member)) };
        assert!(matches!(decide(&file("a"), foreign), Err(Error::InvalidMessage(_))));
        let missing = check(false, Some(Role::Member));
        assert!(matches!(decide(&file("a"), missing), Err(Error::InvalidMessage(_))));
    }

    #[test]
    fn only_admins_post_where_the_group_says_so() {
        assert!(matches!(decide(&msg("m", "hi"), check(true, Some(Role::Member))), Err(Error::Forbidden(_))));
        assert!(matches!(
            decide(&msg("m", "hi"), check(true, Some(Role::Admin))),
            Ok(AppendPlan::Write { .. })
        ));
    }

    #[test]
    fn a_resend_is_answered_before_any_permission_check() {
        let original = stored(&msg("m", "hi"), 3, 100, None).message;
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
        let stored_before = stored(&msg("a", "x"), 1, 100, None).message;
        let check = AppendCheck { existing: Some(stored_before), ..check(false, Some(Role::Member)) };
        assert!(matches!(decide(&same, check), Ok(AppendPlan::Repeat(a)) if !a.created));
    }
}
