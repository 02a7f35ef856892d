//! Changes to stored messages: which message a change means, who may edit, delete or react, what
//! an edit may change, when a change changes nothing, and the message as it is after a change.
//!
//! An adapter applies a change in two steps: [`locate`] picks the message from the rows found
//! with its `messageId` (and checks the actor's membership); then, with that message read (and,
//! in a cluster, locked) and the actor's reactions on it, [`decide`] says what to write, and
//! [`applied`] gives the message as written.

use confab_proto::{Content, Message, Reaction, Role};

use crate::error::{Error, Result};
use crate::lifecycle::{Actor, ChangeKind, MessageChange};
use crate::rows::{ConversationRow, LocatedMessage, MemberRow};

use super::access;
use super::reactions::MAX_EMOJI_PER_USER;

/// The message a change means and the actor's membership (`None` for a server administrator
/// outside the conversation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub sequence_number: u64,
    pub actor_role: Option<Role>,
}

/// Picks the message `change` means among `candidates` (the conversation's messages with the
/// target's `messageId`, one per sender at most): the named sender's, else the actor's own, else
/// the newest. `ConversationNotFound` without a conversation, `Forbidden` for a user who is not a
/// member, `MessageNotFound` when no candidate fits.
pub fn locate(
    change: &MessageChange,
    conversation: Option<ConversationRow>,
    actor: Option<MemberRow>,
    candidates: Vec<LocatedMessage>,
) -> Result<Located> {
    let conversation = conversation.ok_or(Error::ConversationNotFound)?;
    let actor_role = match (&change.actor, actor) {
        (_, Some(member)) => Some(member.role),
        (Actor::ServerAdmin(_), None) => None,
        (Actor::User(_), None) => return Err(Error::not_member()),
    };
    // Direct conversations have no admins, whatever a row says.
    let actor_role = actor_role.map(|r| {
        if conversation.kind == confab_proto::ConversationType::Direct {
            Role::Member
        } else {
            r
        }
    });
    let candidates = candidates
        .into_iter()
        .filter(|m| m.conversation_id == change.conversation_id)
        .filter(|m| match &change.target.sender_id {
            Some(sender) => *sender == m.sender_id,
            None => true,
        })
        .map(|m| LocatedMessage { viewer_is_member: true, ..m })
        .collect();
    let meant = access::meant_by(change.actor.user_id(), candidates).ok_or(Error::MessageNotFound)?;
    Ok(Located { sequence_number: meant.sequence_number, actor_role })
}

/// What to write for a change.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangePlan {
    /// The message already is as asked: write nothing, take no update sequence.
    Unchanged,
    /// New content (the sender's new text), edited at `edited_at`.
    Edit { content: Content, edited_at: i64 },
    /// Overwrite the content with a tombstone and erase the reply link and every reaction.
    Delete { deleted_at: i64 },
    /// Store the actor's reaction.
    AddReaction { emoji: String },
    /// Remove the actor's reaction.
    RemoveReaction { emoji: String },
}

/// Decides a located change against the message as stored and the emoji the actor has already
/// reacted with on it.
pub fn decide(
    change: &MessageChange,
    located: &Located,
    message: &Message,
    own_emoji: &[String],
) -> Result<ChangePlan> {
    let actor = change.actor.user_id();
    let is_sender = matches!(&change.actor, Actor::User(u) if *u == message.sender_id);
    match &change.kind {
        ChangeKind::Delete => {
            let allowed = is_sender
                || matches!(change.actor, Actor::ServerAdmin(_))
                || located.actor_role == Some(Role::Admin);
            if !allowed {
                return Err(Error::Forbidden(
                    "only the sender or a group admin can delete this message".into(),
                ));
            }
            if message.is_deleted() {
                return Ok(ChangePlan::Unchanged);
            }
            Ok(ChangePlan::Delete { deleted_at: change.at })
        }
        ChangeKind::Edit { content, window_ms } => {
            if message.is_deleted() {
                return Err(Error::MessageNotFound);
            }
            if !is_sender {
                return Err(Error::Forbidden("only the sender can edit a message".into()));
            }
            if let Some(window) = window_ms {
                if change.at.saturating_sub(message.timestamp) > *window {
                    return Err(Error::Forbidden("this message can no longer be edited".into()));
                }
            }
            let content = edited(&message.content, content)?;
            if content == message.content {
                return Ok(ChangePlan::Unchanged);
            }
            Ok(ChangePlan::Edit { content, edited_at: change.at })
        }
        ChangeKind::React { emoji, add } => {
            if message.is_deleted() {
                return Err(Error::MessageNotFound);
            }
            if located.actor_role.is_none() {
                return Err(Error::not_member());
            }
            let has = own_emoji.iter().any(|e| e == emoji);
            match (add, has) {
                (true, true) | (false, false) => Ok(ChangePlan::Unchanged),
                (true, false) if own_emoji.len() >= MAX_EMOJI_PER_USER => Err(Error::InvalidRequest(format!(
                    "at most {MAX_EMOJI_PER_USER} different reactions per user on one message ({actor} has {})",
                    own_emoji.len()
                ))),
                (true, false) => Ok(ChangePlan::AddReaction { emoji: emoji.clone() }),
                (false, true) => Ok(ChangePlan::RemoveReaction { emoji: emoji.clone() }),
            }
        }
    }
}

/// The content after an edit: a text message gets the new text; an attachment message keeps its
/// attachment and metadata and gets the new caption (or none). Anything else would change more
/// than the text: `InvalidMessage`.
pub fn edited(stored: &Content, new: &Content) -> Result<Content> {
    let only_text = || {
        Error::InvalidMessage("an edit changes only the text: keep the content type and attachment".into())
    };
    match (stored, new) {
        (Content::Text { .. }, Content::Text { text }) => Ok(Content::Text { text: text.clone() }),
        (Content::Image(old), Content::Image(new))
        | (Content::Video(old), Content::Video(new))
        | (Content::Audio(old), Content::Audio(new))
        | (Content::File(old), Content::File(new)) => {
            let same_metadata = new.metadata.is_none() || new.metadata == old.metadata;
            if new.attachment_id != old.attachment_id || !same_metadata {
                return Err(only_text());
            }
            let mut kept = old.clone();
            kept.text = new.text.clone();
            Ok(match stored {
                Content::Image(_) => Content::Image(kept),
                Content::Video(_) => Content::Video(kept),
                Content::Audio(_) => Content::Audio(kept),
                _ => Content::File(kept),
            })
        }
        _ => Err(only_text()),
    }
}

/// The message as a written `plan` leaves it: with the update sequence it took and, after a
/// reaction change, the reactions as recounted.
pub fn applied(
    mut message: Message,
    plan: &ChangePlan,
    update_sequence: u64,
    reactions: Option<Vec<Reaction>>,
) -> Message {
    match plan {
        ChangePlan::Unchanged => return message,
        ChangePlan::Edit { content, edited_at } => {
            message.content = content.clone();
            message.edited_at = Some(*edited_at);
        }
        ChangePlan::Delete { .. } => super::expiry::erase(&mut message),
        ChangePlan::AddReaction { .. } | ChangePlan::RemoveReaction { .. } => message.reactions = reactions,
    }
    message.update_sequence = update_sequence;
    message
}

#[cfg(test)]
mod tests {
    use confab_proto::{AttachmentContent, ConversationType, GroupSettings};

    use super::*;
    use crate::lifecycle::MessageTarget;
    use crate::rules::fixtures::{conversation, group, member};

    fn text(t: &str) -> Content {
        Content::Text { text: t.into() }
    }

    fn change(actor: Actor, kind: ChangeKind) -> MessageChange {
        MessageChange { conversation_id: "c".into(), target: MessageTarget::id("m"), actor, kind, at: 1_000 }
    }

    fn user(id: &str) -> Actor {
        Actor::User(id.into())
    }

    fn stored(sender: &str) -> Message {
        Message::new("m".into(), "c".into(), sender.into(), text("hi"), 3, 100)
    }

    fn as_role(role: Option<Role>) -> Located {
        Located { sequence_number: 3, actor_role: role }
    }

    fn found(sender: &str, sequence: u64, at: i64) -> LocatedMessage {
        LocatedMessage {
            conversation_id: "c".into(),
            sequence_number: sequence,
            sender_id: sender.into(),
            created_at: at,
            viewer_is_member: false,
        }
    }

    #[test]
    fn locating_checks_the_conversation_and_membership_first() {
        let edit = change(user("u"), ChangeKind::Delete);
        assert_eq!(locate(&edit, None, None, vec![]).unwrap_err(), Error::ConversationNotFound);
        assert!(matches!(
            locate(&edit, Some(group()), None, vec![found("u", 1, 1)]),
            Err(Error::Forbidden(_))
        ));
        let admin = change(Actor::ServerAdmin("root".into()), ChangeKind::Delete);
        assert_eq!(
            locate(&admin, Some(group()), None, vec![found("u", 1, 1)]).unwrap(),
            as_role(None).with_sequence(1)
        );
        let member = Some(member("u", Role::Member, 0));
        assert_eq!(locate(&edit, Some(group()), member, vec![]).unwrap_err(), Error::MessageNotFound);
    }

    impl Located {
        fn with_sequence(mut self, s: u64) -> Located {
            self.sequence_number = s;
            self
        }
    }

    #[test]
    fn a_shared_id_means_the_named_sender_else_the_actors_own_else_the_newest() {
        let rows = || vec![found("a", 1, 10), found("u", 2, 5), found("b", 3, 20)];
        let me = || Some(member("u", Role::Member, 0));
        let mut c = change(user("u"), ChangeKind::Delete);
        assert_eq!(locate(&c, Some(group()), me(), rows()).unwrap().sequence_number, 2);
        c.target.sender_id = Some("a".into());
        assert_eq!(locate(&c, Some(group()), me(), rows()).unwrap().sequence_number, 1);
        c.target.sender_id = Some("nobody".into());
        assert_eq!(locate(&c, Some(group()), me(), rows()).unwrap_err(), Error::MessageNotFound);
        let other = change(user("v"), ChangeKind::Delete);
        let v = Some(member("v", Role::Member, 0));
        assert_eq!(locate(&other, Some(group()), v, rows()).unwrap().sequence_number, 3);
    }

    #[test]
    fn direct_conversations_have_no_admins() {
        let direct = conversation(ConversationType::Direct, GroupSettings::default());
        let c = change(user("u"), ChangeKind::Delete);
        let located =
            locate(&c, Some(direct), Some(member("u", Role::Admin, 0)), vec![found("o", 1, 1)]).unwrap();
        assert_eq!(located.actor_role, Some(Role::Member));
    }

    #[test]
    fn the_sender_or_an_admin_deletes_once() {
        let msg = stored("s");
        let delete = |actor| change(actor, ChangeKind::Delete);
        assert_eq!(
            decide(&delete(user("s")), &as_role(Some(Role::Member)), &msg, &[]).unwrap(),
            ChangePlan::Delete { deleted_at: 1_000 }
        );
        assert!(decide(&delete(user("o")), &as_role(Some(Role::Admin)), &msg, &[]).is_ok());
        assert!(decide(&delete(Actor::ServerAdmin("root".into())), &as_role(None), &msg, &[]).is_ok());
        assert!(matches!(
            decide(&delete(user("o")), &as_role(Some(Role::Member)), &msg, &[]),
            Err(Error::Forbidden(_))
        ));
        let tombstone = applied(msg, &ChangePlan::Delete { deleted_at: 1 }, 4, None);
        assert_eq!(
            (tombstone.content.clone(), tombstone.deleted, tombstone.update_sequence),
            (Content::Deleted, Some(true), 4)
        );
        assert_eq!(
            decide(&delete(user("s")), &as_role(Some(Role::Member)), &tombstone, &[]).unwrap(),
            ChangePlan::Unchanged
        );
        // Nothing else can be done to a tombstone.
        let edit = change(user("s"), ChangeKind::Edit { content: text("x"), window_ms: None });
        assert_eq!(
            decide(&edit, &as_role(Some(Role::Member)), &tombstone, &[]).unwrap_err(),
            Error::MessageNotFound
        );
        let react = change(user("s"), ChangeKind::React { emoji: "👍".into(), add: true });
        assert_eq!(
            decide(&react, &as_role(Some(Role::Member)), &tombstone, &[]).unwrap_err(),
            Error::MessageNotFound
        );
    }

    #[test]
    fn only_the_sender_edits_within_the_window_and_the_same_text_changes_nothing() {
        let msg = stored("s");
        let member = as_role(Some(Role::Admin));
        let edit =
            |actor, t: &str, window| change(actor, ChangeKind::Edit { content: text(t), window_ms: window });
        assert_eq!(
            decide(&edit(user("s"), "new", None), &member, &msg, &[]).unwrap(),
            ChangePlan::Edit { content: text("new"), edited_at: 1_000 }
        );
        assert_eq!(decide(&edit(user("s"), "hi", None), &member, &msg, &[]).unwrap(), ChangePlan::Unchanged);
        assert!(matches!(
            decide(&edit(user("admin"), "new", None), &member, &msg, &[]),
            Err(Error::Forbidden(_))
        ));
        assert!(matches!(
            decide(&edit(Actor::ServerAdmin("s".into()), "new", None), &member, &msg, &[]),
            Err(Error::Forbidden(_))
        ));
        assert!(decide(&edit(user("s"), "new", Some(900)), &member, &msg, &[]).is_ok());
        assert!(matches!(
            decide(&edit(user("s"), "new", Some(899)), &member, &msg, &[]),
            Err(Error::Forbidden(_))
        ));
    }

    #[test]
    fn an_attachment_edit_changes_only_the_caption() {
        let file = |id: &str, caption: Option<&str>, meta: Option<serde_json::Value>| {
            Content::File(AttachmentContent {
                attachment_id: id.into(),
                text: caption.map(Into::into),
                metadata: meta,
            })
        };
        let meta = Some(serde_json::json!({"w": 1}));
        let stored = file("a", Some("old"), meta.clone());
        assert_eq!(
            edited(&stored, &file("a", Some("new"), None)).unwrap(),
            file("a", Some("new"), meta.clone())
        );
        assert_eq!(edited(&stored, &file("a", None, meta.clone())).unwrap(), file("a", None, meta.clone()));
        for bad in [
            file("b", Some("new"), None),
            file("a", Some("new"), Some(serde_json::json!({"w": 2}))),
            text("new"),
        ] {
            assert_eq!(
                edited(&stored, &bad).unwrap_err().code(),
                confab_proto::ErrorCode::InvalidMessage,
                "{bad:?}"
            );
        }
        assert!(edited(&text("a"), &file("a", None, None)).is_err());
    }

    #[test]
    fn reactions_are_set_once_per_user_and_emoji_and_capped() {
        let msg = stored("s");
        let member = as_role(Some(Role::Member));
        let react = |emoji: &str, add| change(user("u"), ChangeKind::React { emoji: emoji.into(), add });
        let own = vec!["👍".to_string()];
        assert_eq!(decide(&react("👍", true), &member, &msg, &own).unwrap(), ChangePlan::Unchanged);
        assert_eq!(decide(&react("🎉", false), &member, &msg, &own).unwrap(), ChangePlan::Unchanged);
        assert_eq!(
            decide(&react("🎉", true), &member, &msg, &own).unwrap(),
            ChangePlan::AddReaction { emoji: "🎉".into() }
        );
        assert_eq!(
            decide(&react("👍", false), &member, &msg, &own).unwrap(),
            ChangePlan::RemoveReaction { emoji: "👍".into() }
        );
        let full: Vec<String> = (0..MAX_EMOJI_PER_USER).map(|i| format!("e{i}")).collect();
        assert!(matches!(decide(&react("new", true), &member, &msg, &full), Err(Error::InvalidRequest(_))));
        assert_eq!(decide(&react("e3", true), &member, &msg, &full).unwrap(), ChangePlan::Unchanged);
        let outsider =
            change(Actor::ServerAdmin("root".into()), ChangeKind::React { emoji: "x".into(), add: true });
        assert!(matches!(decide(&outsider, &as_role(None), &msg, &[]), Err(Error::Forbidden(_))));
    }
}
