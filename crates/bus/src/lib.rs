//! Fan-out between nodes. [`InProcessBus`] serves a single node: it hands every delivery straight
//! to the local connection registry. It cannot reach other nodes; a cluster uses the Redis bus,
//! which routes each frame only to the nodes holding a recipient.

use std::sync::Arc;

use confab_core::bus::{Bus, Delivery, DeliveryHandler};

/// The single-node bus: publish is a direct, synchronous hand-off to the local handler.
pub struct InProcessBus {
    local: Arc<dyn DeliveryHandler>,
}

impl InProcessBus {
    pub fn new(local: Arc<dyn DeliveryHandler>) -> Self {
        Self { local }
    }
}

impl Bus for InProcessBus {
    fn publish(&self, delivery: Delivery) {
        self.local.deliver(&delivery);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<(Vec<String>, String)>>);
    impl DeliveryHandler for Recorder {
        fn deliver(&self, d: &Delivery) {
            let frame = String::from_utf8(d.frame.to_vec()).unwrap();
            self.0.lock().unwrap().push((d.recipients.to_vec(), frame));
        }
    }

    #[test]
    fn publishes_reach_the_local_handler_in_order() {
        let recorder = Arc::new(Recorder::default());
        let bus = InProcessBus::new(recorder.clone());
        for i in 0..3 {
            bus.publish(Delivery {
                recipients: vec!["u1".to_string()].into(),
                frame: format!("f{i}").into(),
                skip_connection: None,
            });
        }
        let seen = recorder.0.lock().unwrap();
        let frames: Vec<_> = seen.iter().map(|(_, f)| f.as_str()).collect();
        assert_eq!(frames, ["f0", "f1", "f2"]);
        assert_eq!(seen[0].0, ["u1"]);
    }
}
