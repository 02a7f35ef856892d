//! The chat service shared by the REST and WebSocket transports: authentication, sending, reading,
//! sync and conversation change notices. Transports parse and reply; the rules live here and in
//! `confab_core`.

use std::num::NonZeroU32;
use std::sync::Arc;

use bytes::Bytes;
use confab_core::bus::{ClusterEvent, Delivery, SharedBus};
use confab_core::ids::{new_id, now_millis};
use confab_core::store::{
    AfterCommit, Appended, HistoryCursor, HistoryPage, MarkerMove, NewMessage, NewUser, SharedStore,
    StoreFuture,
};
use confab_core::{validate, Error, Result};
use confab_proto::frames::{DeliveredPayload, ReadReceiptPayload};
use confab_proto::{ServerEnvelope, ServerFrame, SyncRequest, SyncResponse};
use dashmap::DashSet;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio_util::sync::CancellationToken;

use crate::auth::{TokenKeys, ISSUER};
use crate::config::ServerConfig;
use crate::fanout::{Committed, Dispatcher, MemberCache};
use crate::hub::Hub;
use crate::presence::PresenceHub;
use crate::typing::TypingTracker;

/// Default and largest page sizes of history and sync.
pub const HISTORY_DEFAULT_LIMIT: u32 = 50;
pub const HISTORY_MAX_LIMIT: u32 = 200;
pub const SYNC_DEFAULT_LIMIT: u32 = 100;
pub const SYNC_MAX_LIMIT: u32 = 1000;

pub struct App {
    pub config: ServerConfig,
    pub store: SharedStore,
    pub bus: SharedBus,
    pub hub: Arc<Hub>,
    pub tokens: TokenKeys,
    pub members: Arc<MemberCache>,
    pub dispatcher: Dispatcher,
    /// Per-user send rate over REST (WebSocket connections have their own per-device limiter).
    rest_sends: DefaultKeyedRateLimiter<String>,
    /// Users of application-minted tokens known to exist, so only their first call hits the store.
    known_users: DashSet<String>,
    /// Cancelled when the server starts shutting down.
    pub shutdown: CancellationToken,
    pub presence: Arc<PresenceHub>,
    pub typing: TypingTracker,
}

/// The protocol's rate: `messages_per_second` sustained with bursts of `message_burst`.
pub fn message_quota(config: &ServerConfig) -> Quota {
    let rate = NonZeroU32::new(config.limits.messages_per_second.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(config.limits.message_burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(rate).allow_burst(burst)
}

/// The `RATE_LIMITED` error for a refused check, with a whole number of seconds to wait.
pub fn rate_limited(not_until: governor::NotUntil<<DefaultClock as Clock>::Instant>) -> Error {
    let wait = not_until.wait_time_from(DefaultClock::default().now());
    Error::RateLimited { retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64 }
}

impl App {
    pub fn new(
        config: ServerConfig,
        store: SharedStore,
        bus: SharedBus,
        hub: Arc<Hub>,
        tokens: TokenKeys,
        members: Arc<MemberCache>,
        dispatcher: Dispatcher,
    ) -> App {
        let rest_sends = RateLimiter::keyed(message_quota(&config));
        let presence = PresenceHub::new(store.clone(), bus.clone(), config.presence_throttle);
        App {
            presence,
            typing: TypingTracker::default(),
            config,
            store,
            bus,
            hub,
            tokens,
            members,
            dispatcher,
            rest_sends,
            known_users: DashSet::new(),
            shutdown: CancellationToken::new(),
        }
    }

    /// The user a bearer token stands for. Application-minted tokens may provision their user.
    pub async fn authenticate(&self, token: &str) -> Result<String> {
        let claims = self.tokens.verify(token)?;
        if claims.iss.as_deref() == Some(ISSUER) || self.known_users.contains(&claims.sub) {
            return Ok(claims.sub);
        }
        validate::client_id("sub", &claims.sub)
            .map_err(|_| Error::Unauthorized("token `sub` is invalid".into()))?;
        if self.store.user(&claims.sub).await?.is_none() {
            let Some(username) = claims.username.as_deref() else {
                return Err(Error::Unauthorized(
                    "token names an unknown user and carries no `username`".into(),
                ));
            };
            let username = validate::username(username).map_err(|e| Error::Unauthorized(e.to_string()))?;
            let display_name = validate::display_name(claims.display_name.as_deref(), &username)
                .map_err(|e| Error::Unauthorized(e.to_string()))?;
            let created = self
                .store
                .create_user(NewUser {
                    user_id: claims.sub.clone(),
                    username,
                    display_name,
                    password_hash: None,
                    created_at: now_millis(),
                })
                .await;
            match created {
                Ok(_) => {}
                Err(Error::UsernameTaken) => {
                    // Another request may have provisioned this very user meanwhile.
                    if self.store.user(&claims.sub).await?.is_none() {
                        return Err(Error::Unauthorized("token `username` belongs to another user".into()));
                    }
                }
                Err(e) => return Err(e),
            }
        }
        self.known_users.insert(claims.sub.clone());
        Ok(claims.sub)
    }

    /// REST send rate, per user.
    pub fn check_rest_send_rate(&self, user_id: &str) -> Result<()> {
        self.rest_sends.check_key(&user_id.to_string()).map_err(rate_limited)
    }

    /// Validates and queues a message. The append is queued before this returns, so one caller's
    /// sends keep their order; the future resolves once the message is durable. Fan-out of new
    /// messages happens in commit order, independent of the caller awaiting the result.
    pub fn send_message(
        &self,
        sender: &str,
        conversation_id: &str,
        message_id: Option<String>,
        content: &serde_json::Value,
        origin: Option<Arc<str>>,
    ) -> StoreFuture<Appended> {
        let checked = (|| {
            validate::client_id("conversationId", conversation_id)?;
            if let Some(id) = &message_id {
                validate::client_id("messageId", id)?;
            }
            validate::content(content, self.config.limits.max_text_bytes)
        })();
        let content = match checked {
            Ok(c) => c,
            Err(e) => return Box::pin(std::future::ready(Err(e))),
        };
        let message = NewMessage {
            message_id: message_id.unwrap_or_else(new_id),
            conversation_id: conversation_id.to_string(),
            sender_id: sender.to_string(),
            content,
        };
        let dispatcher = self.dispatcher.clone();
        let hook: AfterCommit = Box::new(move |appended: &Appended| {
            if appended.created {
                metrics::counter!("confab_messages_stored_total").increment(1);
                dispatcher.submit(Committed { message: appended.message.clone(), origin });
            }
        });
        self.store.append(message, Some(hook))
    }

    pub async fn history(
        &self,
        conversation_id: &str,
        viewer: &str,
        before: Option<u64>,
        after: Option<u64>,
        limit: Option<u32>,
    ) -> Result<HistoryPage> {
        let cursor = match (before, after) {
            (Some(_), Some(_)) => {
                return Err(Error::InvalidRequest("pass `before` or `after`, not both".into()))
            }
            (Some(b), None) => HistoryCursor::Before(b),
            (None, Some(a)) => HistoryCursor::After(a),
            (None, None) => HistoryCursor::Latest,
        };
        let limit = page_limit(limit, HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT)?;
        self.store.history(conversation_id, viewer, cursor, limit).await
    }

    /// A device stored messages up to `up_to`. The first time the *user* reaches a sequence, the
    /// senders of the newly covered messages get `message.delivered`.
    pub async fn received(&self, conversation_id: &str, user: &str, up_to: u64) -> Result<()> {
        let at = now_millis();
        let moved = self.store.mark_delivered(conversation_id, user, up_to, at).await?;
        if moved.advanced() {
            self.announce_delivered(conversation_id, user, moved, at).await?;
        }
        Ok(())
    }

    /// The user read up to `up_to` (on the device with connection `origin`, if any): the read
    /// receipt goes to the other members' devices and the reader's other devices, so unread counts
    /// clear everywhere. In groups above `receipt_fanout_limit` members it goes only to the senders
    /// whose messages became read, and to the reader.
    pub async fn mark_read(
        &self,
        conversation_id: &str,
        user: &str,
        up_to: u64,
        origin: Option<Arc<str>>,
    ) -> Result<u64> {
        let at = now_millis();
        let moved = self.store.mark_read(conversation_id, user, up_to, at).await?;
        if moved.delivered.advanced() {
            self.announce_delivered(conversation_id, user, moved.delivered, at).await?;
        }
        if moved.read.advanced() {
            let members = self.members.get(&self.store, conversation_id).await?;
            let recipients: Vec<String> = if members.len() > self.config.limits.receipt_fanout_limit as usize
            {
                let newly_read = self
                    .store
                    .messages_between(conversation_id, moved.read.previous, moved.read.current)
                    .await?;
                let mut senders: Vec<String> = newly_read.into_iter().map(|m| m.sender_id).collect();
                senders.push(user.to_string());
                senders.sort_unstable();
                senders.dedup();
                senders
            } else {
                members.to_vec()
            };
            let frame = ServerFrame::MessageReadReceipt(ReadReceiptPayload {
                conversation_id: conversation_id.to_string(),
                read_up_to_sequence: moved.read.current,
                read_by: user.to_string(),
                timestamp: at,
            });
            self.publish_except(recipients, &frame, origin);
        }
        Ok(moved.read.current)
    }

    /// `message.delivered` to each sender whose messages `user` newly received.
    async fn announce_delivered(
        &self,
        conversation_id: &str,
        user: &str,
        moved: MarkerMove,
        at: i64,
    ) -> Result<()> {
        let covered = self.store.messages_between(conversation_id, moved.previous, moved.current).await?;
        let mut by_sender: Vec<(String, Vec<String>)> = Vec::new();
        for m in covered.into_iter().filter(|m| m.sender_id != user) {
            match by_sender.iter_mut().find(|(s, _)| *s == m.sender_id) {
                Some((_, ids)) => ids.push(m.message_id),
                None => by_sender.push((m.sender_id, vec![m.message_id])),
            }
        }
        for (sender, message_ids) in by_sender {
            let frame = ServerFrame::MessageDelivered(DeliveredPayload {
                conversation_id: conversation_id.to_string(),
                message_ids,
                delivered_to: user.to_string(),
                up_to_sequence: moved.current,
                timestamp: at,
            });
            self.publish(vec![sender], &frame);
        }
        Ok(())
    }

    pub async fn sync(&self, user: &str, request: &SyncRequest) -> Result<SyncResponse> {
        let limit = page_limit(request.limit, SYNC_DEFAULT_LIMIT, SYNC_MAX_LIMIT)?;
        self.store.sync(user, &request.conversations, limit).await
    }

    /// Sends one frame to every connected device of `users` (on any node).
    pub fn publish(&self, users: Vec<String>, frame: &ServerFrame) {
        self.publish_except(users, frame, None);
    }

    /// Like [`App::publish`], but not to the connection `skip`.
    pub fn publish_except(&self, users: Vec<String>, frame: &ServerFrame, skip: Option<Arc<str>>) {
        if users.is_empty() {
            return;
        }
        let frame = ServerEnvelope::new(None, frame.clone()).to_json();
        self.bus.publish(Delivery {
            recipients: users.into(),
            frame: Bytes::from(frame),
            skip_connection: skip,
        });
    }

    /// Tells every member (and `also`, e.g. a member who just left) that a conversation changed:
    /// `conversation.updated` with each member's own read state.
    pub async fn notify_conversation(&self, conversation_id: &str, actor: &str, also: &[String]) {
        self.members.invalidate(conversation_id);
        self.bus.broadcast(ClusterEvent::MembersChanged { conversation_id: conversation_id.to_string() });
        let result: Result<()> = async {
            let markers = self.store.read_markers(conversation_id).await?;
            let viewer = markers.first().map(|(u, _)| u.as_str()).unwrap_or(actor);
            let base = match self.store.conversation(conversation_id, viewer).await {
                Ok(view) => view,
                // The group has no members left: nobody to tell but `also`.
                Err(Error::Forbidden(_)) if markers.is_empty() => return Ok(()),
                Err(e) => return Err(e),
            };
            for (user, last_read) in &markers {
                let mut view = base.clone();
                view.last_read_sequence = *last_read;
                view.unread_count = view.last_sequence.saturating_sub(*last_read);
                self.publish(vec![user.clone()], &ServerFrame::ConversationUpdated(view));
            }
            let outsiders: Vec<String> =
                also.iter().filter(|u| !markers.iter().any(|(m, _)| m == *u)).cloned().collect();
            if !outsiders.is_empty() {
                let mut view = base;
                view.last_read_sequence = 0;
                view.unread_count = 0;
                self.publish(outsiders, &ServerFrame::ConversationUpdated(view));
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, conversation = conversation_id, "conversation.updated not sent");
        }
    }
}

fn page_limit(limit: Option<u32>, default: u32, max: u32) -> Result<u32> {
    match limit {
        None => Ok(default),
        Some(0) => Err(Error::InvalidRequest("`limit` must be at least 1".into())),
        Some(n) => Ok(n.min(max)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn page_limits_default_and_clamp() {
        assert_eq!(super::page_limit(None, 50, 200).unwrap(), 50);
        assert_eq!(super::page_limit(Some(500), 50, 200).unwrap(), 200);
        assert!(super::page_limit(Some(0), 50, 200).is_err());
    }
}
