//! What the bus brings to this node: frames for local connections (`message.new` in each
//! conversation's sequence order, see [`crate::ordering`]), membership changes that make
//! cached member lists and presence watches stale, cluster-wide presence changes for local
//! watchers, revoked sessions (cached revocations dropped, covered connections closed), blocks
//! (cached pairs dropped, presence between the two ended), bans (cached bans dropped, a banned
//! user's connections closed) and dead nodes (what they committed but may not have published is
//! read back, see [`Ordering::catch_up`]).

use std::sync::{Arc, OnceLock};

use confab_core::bus::{ClusterEvent, Delivery, DeliveryHandler};
use confab_proto::PresenceStatus;

use crate::fanout::MemberCache;
use crate::hub::Hub;
use crate::ordering::Ordering;
use crate::outbox::CloseReason;
use crate::service::{BanCache, BlockCache, PresenceHub, RevocationCache};

pub(crate) struct NodeHandler {
    pub(crate) hub: Arc<Hub>,
    pub(crate) members: Arc<MemberCache>,
    /// Set once the presence hub exists (it needs the bus, which needs this handler first).
    pub(crate) presence: OnceLock<Arc<PresenceHub>>,
    /// What this node knows of users' revoked tokens.
    pub(crate) revocations: Arc<RevocationCache>,
    /// What this node knows of blocks between pairs of users.
    pub(crate) blocks: Arc<BlockCache>,
    /// What this node knows of users' bans.
    pub(crate) bans: Arc<BanCache>,
    /// Each conversation's `message.new` frames, handed to the connections in sequence order.
    pub(crate) ordering: Arc<Ordering>,
}

impl NodeHandler {
    /// Presence events reach `presence` from now on (until then there are no watchers to tell).
    pub(crate) fn attach_presence(&self, presence: Arc<PresenceHub>) {
        let _ = self.presence.set(presence);
    }
}

impl DeliveryHandler for NodeHandler {
    fn deliver(&self, delivery: &Delivery) {
        self.ordering.deliver(delivery);
    }

    fn event(&self, event: &ClusterEvent) {
        match event {
            ClusterEvent::MembersChanged { conversation_id } => {
                self.members.invalidate(conversation_id);
                if let Some(presence) = self.presence.get() {
                    presence.members_changed(conversation_id);
                }
            }
            ClusterEvent::Presence { user_id, status, at } => {
                if let Some(presence) = self.presence.get() {
                    presence.on_cluster_change(user_id, *status, *at);
                }
            }
            ClusterEvent::LastSeenShown { user_id, show } => {
                if let Some(presence) = self.presence.get() {
                    presence.last_seen_shown(user_id, *show);
                }
            }
            ClusterEvent::BlockChanged { blocker, blocked, active } => {
                self.blocks.invalidate(blocker, blocked);
                if let (true, Some(presence)) = (*active, self.presence.get()) {
                    presence.pair_blocked(blocker, blocked);
                }
            }
            ClusterEvent::SessionsRevoked { user_id, revoked } => {
                self.revocations.invalidate(user_id);
                let closed = self.hub.close_revoked(user_id, revoked);
                if closed > 0 {
                    tracing::debug!(user = %user_id, closed, "closed connections of revoked sessions");
                }
            }
            ClusterEvent::BanChanged { user_id, banned } => {
                self.bans.invalidate(user_id);
                if *banned {
                    let closed = self.hub.close_user(user_id, CloseReason::Banned);
                    tracing::debug!(user = %user_id, closed, "closed connections of a banned user");
                }
            }
            ClusterEvent::NodeGone { node_id, last_seen } => {
                tracing::info!(node = %node_id, "a node died: reading back what it may not have published");
                let (ordering, last_seen) = (self.ordering.clone(), *last_seen);
                tokio::spawn(async move { ordering.catch_up(last_seen).await });
            }
        }
    }

    fn local_presence(&self) -> Vec<(String, PresenceStatus)> {
        self.presence.get().map(|p| p.local_presence()).unwrap_or_default()
    }

    fn local_devices(&self, user: &str) -> Vec<String> {
        self.hub.devices_of(user)
    }
}
