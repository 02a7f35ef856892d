//! The fan-out boundary: carries an already-serialized frame to every connected device of a set of
//! users, wherever (on which node) those devices are connected.
//!
//! Guarantees: at-most-once and best-effort. A frame may be lost (a slow consumer is disconnected,
//! a node is unreachable); clients recover by sequence-gap detection and sync, so the bus never
//! needs to be durable. Frames published by one caller for one user arrive in publish order.

use std::sync::Arc;

use bytes::Bytes;

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

/// Receives deliveries for the connections on this node.
pub trait DeliveryHandler: Send + Sync {
    fn deliver(&self, delivery: &Delivery);
}

/// Publishes deliveries to the nodes holding the recipients.
pub trait Bus: Send + Sync {
    /// Publishes without waiting for recipients; never blocks on a slow consumer.
    fn publish(&self, delivery: Delivery);
}

pub type SharedBus = Arc<dyn Bus>;
