//! Fan-out between nodes, behind [`confab_core::bus::Bus`]: two adapters, picked from the
//! configured Redis URL.
//!
//! # Layout
//! - [`InProcessBus`]: a single node. Publish is a direct hand-off to the local connection registry
//!   and presence is this node's own; it cannot reach other nodes. For a cluster, use the Redis bus.
//! - [`redis::RedisBus`]: a cluster. Redis holds which node has which user's devices and each
//!   node's presence of them (aggregated atomically), and carries frames only to the nodes holding
//!   a recipient.
//! - [`location`]: [`BusLocation::resolve`] picks the adapter from the configured URL (refusing
//!   unknown schemes) and [`open`] starts it.
//! - `conformance` (tests only): the behaviour both adapters must show, written once and run
//!   against each by `bus_conformance_suite!`.

#[cfg(test)]
pub(crate) mod conformance;
pub mod location;
pub mod redis;

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use confab_core::bus::{Bus, ClusterEvent, Delivery, DeliveryHandler};
use confab_core::Result;
use confab_proto::PresenceStatus;
use parking_lot::Mutex;

pub use self::location::{open, BusLocation, BusUrlError, ACCEPTED_REDIS_URLS};
pub use self::redis::RedisBus;

/// The single-node bus: deliveries, broadcasts and presence never leave this process, so every
/// guarantee of [`Bus`] holds trivially (a publish is handed to the handler before it returns).
/// Nodes sharing a database but each running this bus do not see each other's users; use
/// [`RedisBus`] for a cluster.
pub struct InProcessBus {
    local: OnceLock<Arc<dyn DeliveryHandler>>,
    presence: Mutex<std::collections::HashMap<String, PresenceStatus>>,
}

impl Default for InProcessBus {
    fn default() -> Self {
        Self::new()
    }
}

impl InProcessBus {
    pub fn new() -> Self {
        Self { local: OnceLock::new(), presence: Mutex::new(Default::default()) }
    }

    /// Connects the node's handler; deliveries before this are dropped.
    pub fn attach(&self, local: Arc<dyn DeliveryHandler>) {
        let _ = self.local.set(local);
    }
}

#[async_trait]
impl Bus for InProcessBus {
    fn publish(&self, delivery: Delivery) {
        if let Some(local) = self.local.get() {
            local.deliver(&delivery);
        }
    }

    fn broadcast(&self, event: ClusterEvent) {
        if let Some(local) = self.local.get() {
            local.event(&event);
        }
    }

    fn set_local_presence(&self, user: &str, status: Option<PresenceStatus>) {
        let status = status.unwrap_or(PresenceStatus::Offline);
        let previous = {
            let mut map = self.presence.lock();
            if status == PresenceStatus::Offline {
                map.remove(user)
            } else {
                map.insert(user.to_string(), status)
            }
        };
        if previous.unwrap_or(PresenceStatus::Offline) != status {
            let at = confab_core::ids::now_millis();
            self.broadcast(ClusterEvent::Presence { user_id: user.to_string(), status, at });
        }
    }

    async fn presence_of(&self, users: &[String]) -> Result<Vec<PresenceStatus>> {
        let map = self.presence.lock();
        Ok(users.iter().map(|u| map.get(u).copied().unwrap_or(PresenceStatus::Offline)).collect())
    }

    fn set_local_devices(&self, _user: &str, _devices: Vec<String>) {
        // One node: its handler is asked directly in `live_devices`.
    }

    async fn live_devices(&self, user: &str) -> Result<Vec<String>> {
        Ok(self.local.get().map(|l| l.local_devices(user)).unwrap_or_default())
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{Cluster, Node, Recorder};

    /// A one-node "cluster": the in-process bus reaches no other node.
    async fn single_node() -> Option<Cluster> {
        let handler = Arc::new(Recorder::default());
        let bus = InProcessBus::new();
        bus.attach(handler.clone());
        Some(Cluster { nodes: vec![Node { bus: Arc::new(bus), handler }], _guard: Box::new(()) })
    }

    crate::bus_conformance_suite!(single_node());
}
