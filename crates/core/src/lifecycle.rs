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

/// Disappearing messages and retention ([`crate::rules::expiry`]), applied by the server's
/// sweeper in small batches: each call is one short transaction, so appends queued behind it wait
/// for one batch at most. Both calls are safe to run from several nodes at once.
#[async_trait]
pub trait ExpiryStore: Send + Sync {
    /// Erases up to `limit` messages whose `expiresAt` is at or before `now` and that are not
    /// tombstones yet, oldest expiry first: each becomes a tombstone (its text, reply and
    /// reactions removed from storage, `deleted` from its `expiresAt`) and takes its
    /// conversation's next update sequence, so sync carries it. Returns the tombstones (to be
    /// announced as `message.updated`); each message is erased once, however many nodes sweep.
    /// It may erase fewer than `limit` while more are due (the embedded store steps aside for a
    /// write queued behind the batch); only an empty answer means nothing is due.
    async fn expire_messages(&self, now: i64, limit: u32) -> Result<Vec<Message>>;
    /// Removes up to `limit` messages stored before the retention that applies to their
    /// conversation at `now` ([`crate::rules::expiry::effective_days`] of `server_days` and the
    /// group's `retentionDays`), oldest first, and moves the conversation's `firstSequence` past
    /// them: they are gone from history, sync and every index. Returns how many it removed.
    async fn apply_retention(&self, now: i64, server_days: u32, limit: u32) -> Result<u64>;
}
