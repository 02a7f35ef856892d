//! The fan-out boundary: carries an already-serialized frame to every connected device of a set of
//! users, wherever (on which node) those devices are connected; carries cluster events to every
//! node; and aggregates presence across nodes.
//!
//! Guarantees: at-most-once and best-effort. A frame may be lost (a slow consumer is disconnected,
//! a node or Redis is unreachable); clients recover by sequence-gap detection and sync, so the bus
//! never needs to be durable. Frames published by one node for one user arrive in publish order.

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
}

/// Something every node must hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterEvent {
    /// A user's presence across the whole cluster changed.
    Presence { user_id: String, status: PresenceStatus, at: i64 },
    /// A conversation's membership changed: cached member lists are stale.
    MembersChanged { conversation_id: String },
}

/// Receives, on each node, what the bus brings to it.
pub trait DeliveryHandler: Send + Sync {
    /// Hands a frame to this node's connections of the recipients.
    fn deliver(&self, delivery: &Delivery);
    /// A cluster event (including those this node published).
    fn event(&self, event: &ClusterEvent);
    /// Users with devices on this node and their status here, to re-announce after the bus lost
    /// its state (e.g. Redis restarted).
    fn local_presence(&self) -> Vec<(String, PresenceStatus)>;
}

#[async_trait]
pub trait Bus: Send + Sync {
    /// Publishes without waiting for recipients; never blocks on a slow consumer. This node's
    /// recipients get the frame at once; other nodes' through the bus, in publish order.
    fn publish(&self, delivery: Delivery);
    /// Sends an event to every node, this one included.
    fn broadcast(&self, event: ClusterEvent);
    /// This node's status of `user` (`None`: no devices here any more). When the cluster-wide
    /// status changes as a result, every node gets a [`ClusterEvent::Presence`].
    fn set_local_presence(&self, user: &str, status: Option<PresenceStatus>);
    /// Cluster-wide presence of `users`, in order.
    async fn presence_of(&self, users: &[String]) -> Result<Vec<PresenceStatus>>;
    /// Succeeds when the bus backend is reachable (always, for the in-process bus).
    async fn ping(&self) -> Result<()>;
}

pub type SharedBus = Arc<dyn Bus>;
