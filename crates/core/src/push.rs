//! The storage boundary of push notifications: devices' subscriptions, members' mutes, and the
//! pushes waiting to be sent.
//!
//! Guarantees every adapter gives, on top of those of [`crate::store`]:
//! - A message's push work is recorded in the same transaction as the message (once any
//!   subscription exists), so a message committed by a node that dies at once is still pushed.
//! - [`PushStore::claim_pushes`] first turns recorded messages into pending pushes, one per
//!   subscribed device of each member who is not the sender and has not muted the conversation,
//!   coalesced per device and conversation ([`crate::rules::push::due_at`]); then it hands out
//!   the pushes due, each to one claimant at a time for `lease_ms`: in a cluster exactly one node
//!   sends each push, and a node that dies holding one gives it up when the lease runs out.
//! - Pending pushes live in the store, never only in a node's memory.

use async_trait::async_trait;
use confab_proto::{PushKind, PushSubscription};

use crate::error::Result;

/// A subscription with what reaching it takes (never shown back to clients).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPushSubscription {
    pub subscription: PushSubscription,
    pub user_id: String,
    /// Web Push: the push service URL and the browser's keys (base64url).
    pub endpoint: Option<String>,
    pub p256dh: Option<String>,
    pub auth: Option<String>,
    /// FCM registration token or APNs device token.
    pub token: Option<String>,
}

impl StoredPushSubscription {
    pub fn kind(&self) -> PushKind {
        self.subscription.kind
    }
}

/// Which pushes a node takes: due at `now`, for `lease_ms`; new messages coalesce over
/// `coalesce_ms`. At most `limit` messages are expanded and `limit` pushes claimed per call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushClaim {
    pub node: String,
    pub now: i64,
    pub lease_ms: i64,
    pub coalesce_ms: i64,
    pub limit: u32,
}

/// A push due to one device: the newest message of a coalesced batch of `count`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuePush {
    pub user_id: String,
    pub device_id: String,
    pub conversation_id: String,
    pub count: u32,
    pub message_id: String,
    pub sequence_number: u64,
    pub sender_id: String,
    pub sender_name: String,
    /// The message's text or caption now (`None` once it is deleted or has none).
    pub text: Option<String>,
    /// A group's name; `None` for a direct conversation.
    pub group_name: Option<String>,
    /// The user's unread messages over all their conversations (a badge).
    pub unread: u64,
    /// Every subscription of the device (one per kind).
    pub subscriptions: Vec<StoredPushSubscription>,
}

/// How a claimed push ended: `count` messages of it are done (sent, or not needed because the
/// device was live, or given up). `sent` starts the next coalescing window at `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushDone {
    pub node: String,
    pub user_id: String,
    pub device_id: String,
    pub conversation_id: String,
    pub count: u32,
    pub sent: bool,
    pub now: i64,
    pub coalesce_ms: i64,
}

#[async_trait]
pub trait PushStore: Send + Sync {
    /// Stores a subscription, replacing the user's subscription of the same device and kind.
    async fn put_push_subscription(&self, subscription: StoredPushSubscription) -> Result<PushSubscription>;
    /// The user's subscriptions, oldest first.
    async fn push_subscriptions(&self, user_id: &str) -> Result<Vec<PushSubscription>>;
    /// Deletes one of the user's subscriptions; `NotFound` for anyone else's (or none).
    async fn delete_push_subscription(&self, user_id: &str, subscription_id: &str) -> Result<()>;
    /// Deletes a subscription its provider reported gone (nothing if it already went).
    async fn forget_push_subscription(&self, subscription_id: &str) -> Result<()>;
    /// Sets the member's mute (`None`: not muted); non-members get the access rule's error.
    async fn set_muted(&self, conversation_id: &str, user_id: &str, muted_until: Option<i64>) -> Result<()>;
    /// Expands recorded messages into pending pushes and claims those due (see the module).
    async fn claim_pushes(&self, claim: PushClaim) -> Result<Vec<DuePush>>;
    /// Ends a claimed push (only the claimant's claim counts; another's is left alone).
    async fn finish_push(&self, done: PushDone) -> Result<()>;
}
