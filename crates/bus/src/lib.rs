//! Fan-out between nodes, behind [`confab_core::bus::Bus`].
//!
//! # Layout
//! - [`InProcessBus`]: a single node. Publish is a direct hand-off to the local connection registry
//!   and presence is this node's own; it cannot reach other nodes.
//! - [`redis::RedisBus`]: a cluster. Redis holds which node has which user's devices and each
//!   node's presence of them (aggregated atomically), and carries frames only to the nodes holding
//!   a recipient.

pub mod redis;

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use confab_core::bus::{Bus, ClusterEvent, Delivery, DeliveryHandler};
use confab_core::Result;
use confab_proto::PresenceStatus;
use parking_lot::Mutex;

pub use self::redis::RedisBus;

/// The single-node bus.
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

    async fn ping(&self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex as StdMutex;

    #[derive(Default)]
    struct Recorder {
        frames: StdMutex<Vec<(Vec<String>, String)>>,
        events: StdMutex<Vec<ClusterEvent>>,
    }
    impl DeliveryHandler for Recorder {
        fn deliver(&self, d: &Delivery) {
            let frame = String::from_utf8(d.frame.to_vec()).unwrap();
            self.frames.lock().unwrap().push((d.recipients.to_vec(), frame));
        }
        fn event(&self, e: &ClusterEvent) {
            self.events.lock().unwrap().push(e.clone());
        }
        fn local_presence(&self) -> Vec<(String, PresenceStatus)> {
            Vec::new()
        }
    }

    #[test]
    fn publishes_reach_the_local_handler_in_order() {
        let recorder = Arc::new(Recorder::default());
        let bus = InProcessBus::new();
        bus.attach(recorder.clone());
        for i in 0..3 {
            bus.publish(Delivery {
                recipients: vec!["u1".to_string()].into(),
                frame: format!("f{i}").into(),
                skip_connection: None,
            });
        }
        let seen = recorder.frames.lock().unwrap();
        let frames: Vec<_> = seen.iter().map(|(_, f)| f.as_str()).collect();
        assert_eq!(frames, ["f0", "f1", "f2"]);
        assert_eq!(seen[0].0, ["u1"]);
    }

    #[tokio::test]
    async fn presence_changes_are_announced_once() {
        let recorder = Arc::new(Recorder::default());
        let bus = InProcessBus::new();
        bus.attach(recorder.clone());
        bus.set_local_presence("u1", Some(PresenceStatus::Online));
        bus.set_local_presence("u1", Some(PresenceStatus::Online));
        bus.set_local_presence("u1", None);
        let statuses: Vec<PresenceStatus> = recorder
            .events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                ClusterEvent::Presence { status, .. } => Some(*status),
                _ => None,
            })
            .collect();
        assert_eq!(statuses, [PresenceStatus::Online, PresenceStatus::Offline]);
        assert_eq!(bus.presence_of(&["u1".into()]).await.unwrap(), [PresenceStatus::Offline]);
    }
}
