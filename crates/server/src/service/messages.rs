//! Messages: sending (rate-limited, validated, queued in the sender's order), history, delivery
//! and read markers with their receipts, message info and sync.

use std::num::NonZeroU32;
use std::sync::Arc;

use confab_core::ids::{new_id, now_millis};
use confab_core::store::{AfterCommit, Appended, HistoryCursor, MarkerMove, NewMessage, SharedStore};
use confab_core::{sync, validate, Error, Result};
use confab_proto::frames::{DeliveredPayload, ReadReceiptPayload};
use confab_proto::{
    HistoryResponse, MessageAck, ReceiptEntry, ReceiptsResponse, ServerFrame, SyncRequest, SyncResponse,
};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tracing::Instrument;

use super::notify::Notifier;
use super::typing::TypingTracker;
use crate::config::Limits;
use crate::fanout::{Committed, Dispatcher};
use crate::webhooks::{WebhookEvent, Webhooks};

/// Default and largest page sizes of history.
const HISTORY_DEFAULT_LIMIT: u32 = 50;
const HISTORY_MAX_LIMIT: u32 = 200;

/// Which transport a send came through: it decides the rate limits that apply and which
/// connection is spared the `message.new` echo of its own send.
pub(crate) enum Via<'a> {
    /// REST: counts against the user only.
    Rest,
    /// A WebSocket connection of `device`: counts against that device and against the user.
    Connection { id: Arc<str>, device: &'a str },
    /// The server API: an application backend holding an API key, trusted and not rate-limited
    /// (it publishes for many users at once).
    Server,
}

/// A stored message, as its sender is told.
#[derive(Debug)]
pub(crate) struct Sent {
    pub(crate) ack: MessageAck,
    /// False when this sender's `messageId` was already stored with the same conversation and
    /// content (an idempotent resend).
    pub(crate) created: bool,
}

/// What a send may carry besides its content.
#[derive(Debug, Clone, Default)]
pub(crate) struct SendOptions {
    /// The `messageId` of a message of the same conversation this one replies to.
    pub(crate) reply_to: Option<String>,
    /// A disappearing message: seconds until it expires.
    pub(crate) expires_in_seconds: Option<u64>,
}

pub(crate) struct Messages {
    pub(super) store: SharedStore,
    notifier: Notifier,
    dispatcher: Dispatcher,
    pub(super) limits: Limits,
    /// Send rate per user, shared by REST and every connection of theirs on this node.
    user_sends: DefaultKeyedRateLimiter<String>,
    /// Send rate per (user, device), shared by every connection of that device on this node.
    device_sends: DefaultKeyedRateLimiter<(String, String)>,
    /// Searches per user on this node (`Limits::searches_per_minute`).
    pub(super) searches: DefaultKeyedRateLimiter<String>,
    /// Told of each new message, which ends its sender's typing indicator on every client.
    typing: Arc<TypingTracker>,
    /// `message.created` for each new message, from the node that committed it.
    webhooks: Webhooks,
}

/// `per_second` sustained with bursts of `burst` (both at least 1).
pub(super) fn quota(per_second: u32, burst: u32) -> Quota {
    let rate = NonZeroU32::new(per_second.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(rate).allow_burst(burst)
}

/// The `RATE_LIMITED` error for a refused check, with a whole number of seconds to wait.
pub(super) fn rate_limited(not_until: governor::NotUntil<<DefaultClock as Clock>::Instant>) -> Error {
    let wait = not_until.wait_time_from(DefaultClock::default().now());
    Error::RateLimited { retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64 }
}

impl Messages {
    pub(crate) fn new(
        store: SharedStore,
        notifier: Notifier,
        dispatcher: Dispatcher,
        limits: Limits,
        typing: Arc<TypingTracker>,
        webhooks: Webhooks,
    ) -> Messages {
        let user_rate =
            limits.user_messages_per_second.unwrap_or(limits.messages_per_second.saturating_mul(2));
        let user_burst = limits.user_message_burst.unwrap_or(limits.message_burst.saturating_mul(2));
        let user_sends = RateLimiter::keyed(quota(user_rate, user_burst));
        let device_sends = RateLimiter::keyed(quota(limits.messages_per_second, limits.message_burst));
        let per_minute = NonZeroU32::new(limits.searches_per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        let searches = RateLimiter::keyed(Quota::per_minute(per_minute));
        Messages { store, notifier, dispatcher, limits, user_sends, device_sends, searches, typing, webhooks }
    }

    /// Forgets users and devices whose budget is full again (they are limited exactly as if it
    /// were kept); returns how many are still tracked.
    pub(crate) fn prune_rate_limits(&self) -> usize {
        self.user_sends.retain_recent();
        self.user_sends.shrink_to_fit();
        self.device_sends.retain_recent();
        self.device_sends.shrink_to_fit();
        self.searches.retain_recent();
        self.searches.shrink_to_fit();
        self.user_sends.len() + self.device_sends.len() + self.searches.len()
    }

    /// Spends one send of `sender`'s budget and, from a WebSocket, of the device's. One limiter per
    /// key for both transports: more connections or REST calls do not buy more sends.
    fn check_rate(&self, sender: &str, device: Option<&str>) -> Result<()> {
        if let Some(device) = device {
            self.device_sends.check_key(&(sender.to_string(), device.to_string())).map_err(rate_limited)?;
        }
        self.user_sends.check_key(&sender.to_string()).map_err(rate_limited)
    }

    /// Checks the rate and the message, and queues it for storage. The append is queued before this
    /// returns, so one caller's sends keep their order even when their futures are awaited later;
    /// the future resolves once the message is durable. Fan-out of new messages happens in commit
    /// order, whether or not anyone awaits the future.
    pub(crate) fn send(
        &self,
        sender: &str,
        conversation_id: &str,
        message_id: Option<String>,
        content: &serde_json::Value,
        options: SendOptions,
        via: Via<'_>,
    ) -> BoxFuture<'static, Result<Sent>> {
        let SendOptions { reply_to, expires_in_seconds } = options;
        let checked = (|| {
            let origin = match via {
                Via::Rest => {
                    self.check_rate(sender, None)?;
                    None
                }
                Via::Connection { id, device } => {
                    self.check_rate(sender, Some(device))?;
                    Some(id)
                }
                Via::Server => None,
            };
            validate::client_id("conversationId", conversation_id)?;
            if let Some(id) = &message_id {
                validate::client_id("messageId", id)?;
            }
            if let Some(id) = &reply_to {
                validate::client_id("replyTo", id).map_err(|e| Error::InvalidMessage(e.to_string()))?;
            }
            let content = validate::content(content, self.limits.max_text_bytes)?;
            let expires_in = confab_core::rules::expiry::expires_in(expires_in_seconds)?;
            Ok((origin, content, expires_in))
        })();
        let (origin, content, expires_in) = match checked {
            Ok(checked) => checked,
            Err(e) => return std::future::ready(Err(e)).boxed(),
        };
        let message = NewMessage {
            message_id: message_id.unwrap_or_else(new_id),
            conversation_id: conversation_id.to_string(),
            sender_id: sender.to_string(),
            content,
            reply_to,
            expires_in,
        };
        let span = tracing::debug_span!(
            "store.append",
            conversation = %message.conversation_id,
            message = %message.message_id,
        );
        let _entered = span.enter();
        let dispatcher = self.dispatcher.clone();
        let webhooks = self.webhooks.clone();
        let hook: AfterCommit = Box::new(move |appended: &Appended| {
            if appended.created {
                metrics::counter!(crate::metrics::MESSAGES_STORED).increment(1);
                if webhooks.enabled() {
                    webhooks
                        .emit(WebhookEvent::MessageCreated { message: Box::new(appended.message.clone()) });
                }
                dispatcher.submit(Committed {
                    message: appended.message.clone(),
                    origin,
                    committed_at: std::time::Instant::now(),
                });
            }
        });
        let typing = self.typing.clone();
        let queued = std::time::Instant::now();
        let appending = self.store.append(message, Some(hook));
        drop(_entered);
        appending
            .map(move |appended| {
                metrics::histogram!(crate::metrics::STORE_APPEND).record(queued.elapsed().as_secs_f64());
                let Appended { message: m, created } = appended?;
                tracing::debug!(sequence = m.sequence_number, created, "appended");
                if created {
                    typing.message_sent(&m.conversation_id, &m.sender_id);
                }
                let ack = MessageAck {
                    message_id: m.message_id,
                    conversation_id: m.conversation_id,
                    sequence_number: m.sequence_number,
                    timestamp: m.timestamp,
                };
                Ok(Sent { ack, created })
            })
            .instrument(span)
            .boxed()
    }

    /// A page of history: the newest messages, or those `before` or `after` a sequence number.
    pub(crate) async fn history(
        &self,
        conversation_id: &str,
        viewer: &str,
        before: Option<u64>,
        after: Option<u64>,
        limit: Option<u32>,
    ) -> Result<HistoryResponse> {
        let cursor = match (before, after) {
            (Some(_), Some(_)) => {
                return Err(Error::InvalidRequest("pass `before` or `after`, not both".into()))
            }
            (Some(b), None) => HistoryCursor::Before(b),
            (None, Some(a)) => HistoryCursor::After(a),
            (None, None) => HistoryCursor::Latest,
        };
        let limit = validate::page_limit(limit, HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT)?;
        let page = self.store.history(conversation_id, viewer, cursor, limit).await?;
        // The cursor continues in the direction the caller is paging.
        let next_cursor = if !page.has_more {
            None
        } else if after.is_some() {
            page.messages.last().map(|m| m.sequence_number)
        } else {
            page.messages.first().map(|m| m.sequence_number)
        };
        Ok(HistoryResponse { messages: page.messages, has_more: page.has_more, next_cursor })
    }

    /// A device stored messages up to `up_to`. The first time the *user* reaches a sequence, the
    /// senders of the newly covered messages get `message.delivered`.
    pub(crate) async fn received(&self, conversation_id: &str, user: &str, up_to: u64) -> Result<()> {
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
    /// whose messages became read, and to the reader. Returns the read marker as stored.
    pub(crate) async fn mark_read(
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
            let members = self.notifier.members(conversation_id).await?;
            let recipients: Vec<String> = if members.len() > self.limits.receipt_fanout_limit as usize {
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
            self.notifier.publish(recipients, &frame, origin);
        }
        Ok(moved.read.current)
    }

    /// Marks one message (and everything before it in its conversation) read.
    pub(crate) async fn read_message(&self, message_id: &str, user: &str) -> Result<()> {
        let (conversation_id, sequence) = self.store.locate_message(message_id, user).await?;
        self.mark_read(&conversation_id, user, sequence, None).await?;
        Ok(())
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
            self.notifier.publish(vec![sender], &frame, None);
        }
        Ok(())
    }

    /// Who received and who read one message (Confab extension; members only).
    pub(crate) async fn receipts(
        &self,
        conversation_id: &str,
        message_id: &str,
        viewer: &str,
    ) -> Result<ReceiptsResponse> {
        let r = self.store.receipts(conversation_id, message_id, viewer).await?;
        let entries = |list: Vec<(String, i64)>| {
            list.into_iter().map(|(user_id, timestamp)| ReceiptEntry { user_id, timestamp }).collect()
        };
        Ok(ReceiptsResponse { delivered_to: entries(r.delivered_to), read_by: entries(r.read_by) })
    }

    /// What came after the caller's cursors, per conversation, within the sync budget (see
    /// [`super::sync`]): a conversation with more to fetch says `hasMore`.
    pub(crate) async fn sync(&self, user: &str, request: &SyncRequest) -> Result<SyncResponse> {
        let plan = sync::plan(request, self.limits.max_sync_conversations)?;
        let mut response = self.store.sync(user, &plan.cursors, plan.limit).await?;
        sync::trim(&mut response, self.limits.max_sync_bytes);
        Ok(response)
    }
}
