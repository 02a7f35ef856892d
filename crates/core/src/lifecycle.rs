//! The storage boundary of the message lifecycle: changes to messages already stored (edits,
//! deletes for everyone, reactions) and the conversation's update sequence that orders them.
//!
//! Guarantees every adapter gives, on top of those of [`crate::store`]:
//! - Each change that changes something takes its conversation's next update sequence, at commit:
//!   1, 2, 3, … per conversation with no gap and no reuse, however many callers (or nodes) change
//!   one conversation at once; the changed message carries it as `updateSequence`.
//! - A change that changes nothing (the same text again, a reaction already there or already
//!   gone, a second delete) writes nothing and takes no update sequence.
//! - Changes to one message are serialized: concurrent reactions from many users are all counted,
//!   exactly once each.
//! - A delete erases the message's content, reply link and reactions from storage (the rows are
//!   overwritten, not flagged), keeping its place in the sequence as a tombstone.
//! - What may be changed, and by whom, is decided by [`crate::rules::lifecycle`].

use async_trait::async_trait;
use confab_proto::{Content, Message};

use crate::error::Result;

/// Which message of a conversation a change means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageTarget {
    pub message_id: String,
    /// The sender, when the caller named one. Without it, a `messageId` several senders used in
    /// the conversation means the actor's own message, else the newest
    /// ([`rules::access::meant_by`](crate::rules::access::meant_by)).
    pub sender_id: Option<String>,
}

impl MessageTarget {
    pub fn id(message_id: impl Into<String>) -> MessageTarget {
        MessageTarget { message_id: message_id.into(), sender_id: None }
    }
}

/// Who asks for a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A user, who must be a member of the conversation.
    User(String),
    /// A server administrator acting on any conversation (member or not); may only delete.
    ServerAdmin(String),
}

impl Actor {
    pub fn user_id(&self) -> &str {
        match self {
            Actor::User(id) | Actor::ServerAdmin(id) => id,
        }
    }
}

/// What a change does.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangeKind {
    /// Replaces the text of a text message, or the caption of an attachment message (`content`
    /// already validated as a send's is). `window_ms`: how long after sending the sender may
    /// still edit (`None`: always).
    Edit { content: Content, window_ms: Option<i64> },
    /// Deletes the message for everyone, leaving a tombstone.
    Delete,
    /// Adds (`add`) or removes the actor's reaction with `emoji` (already validated).
    React { emoji: String, add: bool },
}

/// One change to an existing message.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageChange {
    pub conversation_id: String,
    pub target: MessageTarget,
    pub actor: Actor,
    pub kind: ChangeKind,
    /// When the change is made (ms since the epoch); the edit window is measured to it.
    pub at: i64,
}

/// The outcome of a change: the message in its current state, and whether this call changed it
/// (`false`: it already was as asked; nothing was written and no update sequence taken).
#[derive(Debug, Clone, PartialEq)]
pub struct Changed {
    pub message: Message,
    pub changed: bool,
}

#[async_trait]
pub trait LifecycleStore: Send + Sync {
    /// Applies one change, deciding with [`crate::rules::lifecycle::decide`]. Errors:
    /// `ConversationNotFound` for an unknown conversation; `Forbidden` for an actor who is not a
    /// member (server administrators deleting excepted) or may not make this change;
    /// `MessageNotFound` when the conversation has no such message, or (except for a repeated
    /// delete) it is a tombstone; `InvalidMessage` for an edit that changes more than the text;
    /// `InvalidRequest` beyond the reaction limit per user.
    async fn change_message(&self, change: MessageChange) -> Result<Changed>;
}
