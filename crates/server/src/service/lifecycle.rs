//! The message lifecycle: edits, deletes for everyone and reactions. Each change is checked here
//! (ids, emoji, content as a send's), decided and stored with the conversation's next update
//! sequence by the store, and announced as `message.updated` (the message in its current state)
//! to every device of every member but the connection that asked, which gets it as its reply.
//! A change that changes nothing is answered with the message and announced to no one.
//!
//! Changes are rate-limited per user with a budget of their own, as large as the user's send
//! budget, so an edit or reaction storm cannot flood members with frames.
//!
//! [`Lifecycle::delete`] takes an [`Actor`], so a server administrator's "delete any message"
//! goes through the same operation as a member's delete.

use std::sync::Arc;

use confab_core::ids::now_millis;
use confab_core::lifecycle::{Actor, ChangeKind, MessageChange, MessageTarget};
use confab_core::rules::reactions;
use confab_core::store::SharedStore;
use confab_core::{validate, Result};
use confab_proto::frames::MessageUpdatedPayload;
use confab_proto::{Message, ServerFrame};
use governor::{DefaultKeyedRateLimiter, RateLimiter};

use super::messages::{quota, rate_limited};
use super::notify::Notifier;
use crate::config::Limits;

pub(crate) struct Lifecycle {
    store: SharedStore,
    notifier: Notifier,
    max_text_bytes: usize,
    /// How long after sending a message its sender may edit it (`None`: always).
    edit_window_ms: Option<i64>,
    /// Changes per user on this node.
    changes: DefaultKeyedRateLimiter<String>,
}

/// A message as a client names it: its conversation, its `messageId` and, optionally, its sender
/// (when several senders used that `messageId` there).
pub(crate) struct Named<'a> {
    pub(crate) conversation_id: &'a str,
    pub(crate) message_id: &'a str,
    pub(crate) sender_id: Option<String>,
}

impl Named<'_> {
    /// Checks the ids (client ids, as everywhere) and says which message is meant.
    fn target(self) -> Result<MessageTarget> {
        validate::client_id("conversationId", self.conversation_id)?;
        validate::client_id("messageId", self.message_id)?;
        if let Some(sender) = &self.sender_id {
            validate::client_id("senderId", sender)?;
        }
        Ok(MessageTarget { message_id: self.message_id.to_string(), sender_id: self.sender_id })
    }
}

impl Lifecycle {
    pub(crate) fn new(store: SharedStore, notifier: Notifier, limits: &Limits) -> Lifecycle {
        let rate = limits.user_messages_per_second.unwrap_or(limits.messages_per_second.saturating_mul(2));
        let burst = limits.user_message_burst.unwrap_or(limits.message_burst.saturating_mul(2));
        Lifecycle {
            store,
            notifier,
            max_text_bytes: limits.max_text_bytes,
            edit_window_ms: limits
                .edit_window_secs
                .map(|s| i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX)),
            changes: RateLimiter::keyed(quota(rate, burst)),
        }
    }

    /// Forgets users whose budget is full again; returns how many are still tracked.
    pub(crate) fn prune_rate_limits(&self) -> usize {
        self.changes.retain_recent();
        self.changes.shrink_to_fit();
        self.changes.len()
    }

    /// Replaces the text of `user`'s own message (or the caption of an attachment message).
    /// `content` is checked as a send's would be.
    pub(crate) async fn edit(
        &self,
        user: &str,
        conversation_id: &str,
        message_id: &str,
        content: &serde_json::Value,
        origin: Option<Arc<str>>,
    ) -> Result<Message> {
        self.check_rate(user)?;
        let target = Named { conversation_id, message_id, sender_id: None }.target()?;
        let content = validate::content(content, self.max_text_bytes)?;
        let kind = ChangeKind::Edit { content, window_ms: self.edit_window_ms };
        self.apply(conversation_id, target, Actor::User(user.to_string()), kind, origin).await
    }

    /// Deletes a message for everyone: by its sender or a group admin (`Actor::User`), or by a
    /// server administrator (`Actor::ServerAdmin`, who need not be a member). Deleting a
    /// tombstone again is answered with it.
    pub(crate) async fn delete(
        &self,
        actor: Actor,
        named: Named<'_>,
        origin: Option<Arc<str>>,
    ) -> Result<Message> {
        if let Actor::User(user) = &actor {
            self.check_rate(user)?;
        }
        let conversation_id = named.conversation_id;
        let target = named.target()?;
        self.apply(conversation_id, target, actor, ChangeKind::Delete, origin).await
    }

    /// Adds (`add`) or removes `user`'s reaction with `emoji`.
    pub(crate) async fn react(
        &self,
        user: &str,
        named: Named<'_>,
        emoji: &str,
        add: bool,
        origin: Option<Arc<str>>,
    ) -> Result<Message> {
        self.check_rate(user)?;
        let conversation_id = named.conversation_id;
        let target = named.target()?;
        reactions::emoji(emoji)?;
        let kind = ChangeKind::React { emoji: emoji.to_string(), add };
        self.apply(conversation_id, target, Actor::User(user.to_string()), kind, origin).await
    }

    fn check_rate(&self, user: &str) -> Result<()> {
        self.changes.check_key(&user.to_string()).map_err(rate_limited)
    }

    /// Announces messages the sweeper turned into tombstones, as `message.updated` to every
    /// member (best effort, like any other change: devices that miss it catch up through sync).
    pub(crate) async fn announce_expired(&self, erased: Vec<Message>) {
        for message in erased {
            let conversation_id = message.conversation_id.clone();
            match self.notifier.members(&conversation_id).await {
                Ok(members) => {
                    let frame = ServerFrame::MessageUpdated(MessageUpdatedPayload { message });
                    self.notifier.publish(members.to_vec(), &frame, None);
                }
                Err(e) => {
                    tracing::warn!(error = %e, conversation = %conversation_id, "message.updated not sent")
                }
            }
        }
    }

    async fn apply(
        &self,
        conversation_id: &str,
        target: MessageTarget,
        actor: Actor,
        kind: ChangeKind,
        origin: Option<Arc<str>>,
    ) -> Result<Message> {
        let change = MessageChange {
            conversation_id: conversation_id.to_string(),
            target,
            actor,
            kind,
            at: now_millis(),
        };
        let changed = self.store.change_message(change).await?;
        if changed.changed {
            metrics::counter!("confab_message_changes_total").increment(1);
            // The change is stored: a failure to look up the members only costs the live frame
            // (devices catch up through sync), so it is not the caller's error.
            match self.notifier.members(conversation_id).await {
                Ok(members) => {
                    let frame = ServerFrame::MessageUpdated(MessageUpdatedPayload {
                        message: changed.message.clone(),
                    });
                    self.notifier.publish(members.to_vec(), &frame, origin);
                }
                Err(e) => {
                    tracing::warn!(error = %e, conversation = %conversation_id, "message.updated not sent")
                }
            }
        }
        Ok(changed.message)
    }
}
