//! The fan-out boundary: carries an already-serialized frame to every connected device of a set of
//! users, wherever (on which node) those devices are connected; carries cluster events to every
//! node; and aggregates presence across nodes.
//!
//! Guarantees: at-most-once and best-effort. A frame may be lost (a slow consumer is disconnected,
//! a node or Redis is unreachable); clients recover by sequence-gap detection and sync, so the bus
//! never needs to be durable. Frames published by one node for one user arrive in publish order.
//!
//! Adapters (crate `confab-bus`, picked from the configured Redis URL): the in-process bus for a
//! single node, and the Redis bus for a cluster of nodes sharing one Redis. Both pass one
//! conformance suite covering the guarantees written here.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use confab_proto::PresenceStatus;

use crate::error::Result;

/// One frame for a set of users.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Users whose connected devices receive the frame.
    pub recipients: Arc<[String]>,
    /// The serialized frame (UTF-8 JSON), shared by every recipient.
    pub frame: Bytes,
    /// A connection that must not receive it (the one that sent the message).
    pub skip_connection: Option<Arc<str>>,
    /// For a `message.new`: its place in its conversation, so each node can hand the frames of one
    /// conversation to its connections in sequence order whichever nodes published them.
    pub order: Option<Order>,
}

/// A message's place in its conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub conversation_id: Arc<str>,
    pub sequence: u64,
}

/// Something every node must hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterEvent {
    /// A user's presence across the whole cluster changed.
    Presence { user_id: String, status: PresenceStatus, at: i64 },
    /// A conversation's membership changed: cached member lists are stale.
    MembersChanged { conversation_id: String },
    /// Some of a user's tokens were revoked (already recorded in the store): every node drops what
    /// it cached of the user's revocations and closes the user's sockets that `revoked` covers.
    SessionsRevoked { user_id: String, revoked: Revoked },
    /// A user turned showing when they were last seen on (`show`) or off (already recorded in
    /// the store): every node updates what it cached of the setting.
    LastSeenShown { user_id: String, show: bool },
    /// `blocker` blocked (`active`) or unblocked `blocked` (already recorded in the store): every
    /// node drops what it cached about the pair and, on a block, ends the presence watches between
    /// them.
    BlockChanged { blocker: String, blocked: String, active: bool },
    /// A user was banned (`banned`) or unbanned (already recorded in the store): every node drops
    /// what it cached of the user's ban and, when banned, closes the user's sockets.
    BanChanged { user_id: String, banned: bool },
    /// A node stopped heartbeating and was removed from the cluster; it was last heard from at
    /// `last_seen` (ms since the epoch). Messages it committed shortly before may never have been
    /// published: every node reads them back from the store for its connections.
    NodeGone { node_id: String, last_seen: i64 },
}

/// Which tokens of a user a [`ClusterEvent::SessionsRevoked`] revokes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoked {
    /// The token with this session id (`jti`).
    Session(String),
    /// Every token issued before `before` (ms since the epoch), except session `keep`.
    IssuedBefore { before: i64, keep: Option<String> },
}

/// Receives, on each node, what the bus brings to it.
pub trait DeliveryHandler: Send + Sync {
    /// Hands a frame to this node's connections of the recipients. A delivery may name recipients
    /// with no devices on this node (the node's own publishes carry every recipient); they are
    /// skipped here.
    fn deliver(&self, delivery: &Delivery);
    /// A cluster event (including those this node published).
    fn event(&self, event: &ClusterEvent);
    /// Users with devices on this node and their status here, to re-announce after the bus lost
    /// its state (e.g. Redis restarted).
    fn local_presence(&self) -> Vec<(String, PresenceStatus)>;
    /// The device ids of `user`'s live connections on this node.
    fn local_devices(&self, user: &str) -> Vec<String>;
}

#[async_trait]
pub trait Bus: Send + Sync {
    /// Publishes without waiting for recipients; never blocks on a slow consumer. This node's
    /// handler gets the frame at once; every other node holding a recipient (one that announced
    /// the user with [`Bus::set_local_presence`]) gets it once, through the bus, in publish order,
    /// with the recipients it holds and the same `skip_connection`. Nodes holding no recipient
    /// get nothing.
    fn publish(&self, delivery: Delivery);
    /// Sends an event to every node, this one included, once each.
    fn broadcast(&self, event: ClusterEvent);
    /// This node's status of `user` (`None`: no devices here any more). The cluster-wide status is
    /// the best over the nodes holding the user (online, then away, else offline), so a user stays
    /// online while any node has them online. When it changes as a result (and only then), every
    /// node gets one [`ClusterEvent::Presence`]. Takes effect in call order, after earlier
    /// publishes and broadcasts of this node.
    fn set_local_presence(&self, user: &str, status: Option<PresenceStatus>);
    /// Cluster-wide presence of `users`, in the order asked (repeats included); a user no node
    /// holds is offline.
    async fn presence_of(&self, users: &[String]) -> Result<Vec<PresenceStatus>>;
    /// The devices of `user` with a live connection on this node now (every one, after each
    /// connect and disconnect, in the order they happened; empty: none).
    fn set_local_devices(&self, user: &str, devices: Vec<String>);
    /// The devices of `user` with a live connection on any live node (push skips them).
    async fn live_devices(&self, user: &str) -> Result<Vec<String>>;
    /// Succeeds when the bus backend is reachable: always for the in-process bus, a round trip to
    /// Redis for the Redis bus.
    async fn ping(&self) -> Result<()>;
}

pub type SharedBus = Arc<dyn Bus>;
