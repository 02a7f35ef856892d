//! Telling users about changes: who is in a conversation (through the node's member cache) and
//! publishing one frame to every device of a set of users, on any node.

use std::sync::Arc;

use bytes::Bytes;
use confab_core::bus::{ClusterEvent, Delivery, SharedBus};
use confab_core::store::SharedStore;
use confab_core::Result;
use confab_proto::{ServerEnvelope, ServerFrame};

use crate::fanout::MemberCache;

/// Shared by the services that push frames; cheap to clone.
#[derive(Clone)]
pub(crate) struct Notifier {
    store: SharedStore,
    bus: SharedBus,
    members: Arc<MemberCache>,
}

impl Notifier {
    pub(crate) fn new(store: SharedStore, bus: SharedBus, members: Arc<MemberCache>) -> Notifier {
        Notifier { store, bus, members }
    }

    /// The members of a conversation (cached).
    pub(crate) async fn members(&self, conversation_id: &str) -> Result<Arc<[String]>> {
        self.members.get(&self.store, conversation_id).await
    }

    /// The cached members of a conversation, without going to the store.
    pub(crate) fn cached_members(&self, conversation_id: &str) -> Option<Arc<[String]>> {
        self.members.cached(conversation_id)
    }

    /// Fails with `FORBIDDEN` unless `user` is a member.
    pub(crate) async fn require_member(&self, conversation_id: &str, user: &str) -> Result<Arc<[String]>> {
        self.members.require(&self.store, conversation_id, user).await
    }

    /// Membership changed: drop this node's cached member list and tell the other nodes to.
    pub(crate) fn members_changed(&self, conversation_id: &str) {
        self.members.invalidate(conversation_id);
        self.bus.broadcast(ClusterEvent::MembersChanged { conversation_id: conversation_id.to_string() });
    }

    /// Sends one frame to every connected device of `users` (on any node) except the connection
    /// `skip`. The frame is serialized once for all of them.
    pub(crate) fn publish(&self, users: Vec<String>, frame: &ServerFrame, skip: Option<Arc<str>>) {
        if users.is_empty() {
            return;
        }
        let frame = ServerEnvelope::new(None, frame.clone()).to_json();
        self.bus.publish(Delivery {
            recipients: users.into(),
            frame: Bytes::from(frame),
            skip_connection: skip,
            order: None,
        });
    }
}
