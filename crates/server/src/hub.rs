//! The registry of this node's WebSocket connections, by user. Deliveries share one serialized
//! frame among all recipients, queued to each connection's [`Outbox`].

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use confab_core::bus::{Delivery, Revoked};
use confab_core::rules::sessions::TokenSession;
use dashmap::DashMap;

use crate::outbox::{CloseReason, Outbox};

/// One registered connection.
#[derive(Clone)]
pub struct ConnectionHandle {
    pub connection_id: Arc<str>,
    pub outbox: Outbox,
    /// The token the connection was opened with, so revoking it closes the connection.
    pub session: Arc<TokenSession>,
    /// For administrators listing a user's connections.
    pub device_id: Arc<str>,
    pub connected_at: i64,
}

impl ConnectionHandle {
    /// A connection opened now by `device_id` with the token `session`.
    pub fn new(connection_id: Arc<str>, outbox: Outbox, session: Arc<TokenSession>, device_id: &str) -> Self {
        ConnectionHandle {
            connection_id,
            outbox,
            session,
            device_id: device_id.into(),
            connected_at: confab_core::ids::now_millis(),
        }
    }
}

fn device_ids(conns: &[ConnectionHandle]) -> Vec<String> {
    let mut ids: Vec<String> = conns.iter().map(|c| c.device_id.to_string()).collect();
    ids.sort();
    ids.dedup();
    ids
}

/// This node's connections by user id.
#[derive(Default)]
pub struct Hub {
    users: DashMap<String, Vec<ConnectionHandle>>,
    /// Told each user's live devices here after every change, under the user's entry lock, so
    /// the cluster hears the changes in the order they happened.
    devices_to: std::sync::OnceLock<confab_core::bus::SharedBus>,
}

impl Hub {
    pub fn new() -> Hub {
        Hub::default()
    }

    /// From now on, tells `bus` each user's live devices here whenever they change.
    pub fn announce_devices_to(&self, bus: confab_core::bus::SharedBus) {
        let _ = self.devices_to.set(bus);
    }

    fn announce_devices(&self, user_id: &str, conns: &[ConnectionHandle]) {
        if let Some(bus) = self.devices_to.get() {
            bus.set_local_devices(user_id, device_ids(conns));
        }
    }

    /// The device ids of `user_id`'s connections on this node.
    pub fn devices_of(&self, user_id: &str) -> Vec<String> {
        self.users.get(user_id).map(|conns| device_ids(&conns)).unwrap_or_default()
    }

    /// Registers a connection; returns how many connections the user has on this node now.
    pub fn register(&self, user_id: &str, handle: ConnectionHandle) -> usize {
        let mut conns = self.users.entry(user_id.to_string()).or_default();
        conns.push(handle);
        metrics::gauge!("confab_connections").increment(1.0);
        self.announce_devices(user_id, &conns);
        conns.len()
    }

    /// Removes a connection; returns how many connections the user still has on this node.
    pub fn unregister(&self, user_id: &str, connection_id: &str) -> usize {
        let mut remaining = 0;
        let mut removed = false;
        self.users.remove_if_mut(user_id, |_, conns| {
            let before = conns.len();
            conns.retain(|c| &*c.connection_id != connection_id);
            removed = conns.len() < before;
            remaining = conns.len();
            if removed {
                self.announce_devices(user_id, conns);
            }
            conns.is_empty()
        });
        if removed {
            metrics::gauge!("confab_connections").decrement(1.0);
        }
        remaining
    }

    /// Queues `frame` to every connection of `user_id` except `skip`.
    pub fn send_to_user(&self, user_id: &str, frame: &Utf8Bytes, skip: Option<&str>) -> usize {
        let Some(conns) = self.users.get(user_id) else { return 0 };
        let mut sent = 0;
        for conn in conns.iter() {
            if Some(&*conn.connection_id) == skip {
                continue;
            }
            conn.outbox.push(frame.clone());
            sent += 1;
        }
        sent
    }

    /// Closes `user_id`'s connections opened with a token `revoked` covers; returns how many.
    pub fn close_revoked(&self, user_id: &str, revoked: &Revoked) -> usize {
        self.close_sessions(user_id, CloseReason::SessionRevoked, |s| s.covered_by(revoked))
    }

    /// Closes every connection of `user_id` with `reason`; returns how many.
    pub fn close_user(&self, user_id: &str, reason: CloseReason) -> usize {
        self.close_sessions(user_id, reason, |_| true)
    }

    /// Closes `user_id`'s connections whose token `covered` says, with `reason`; returns how many.
    pub fn close_sessions(
        &self,
        user_id: &str,
        reason: CloseReason,
        covered: impl Fn(&TokenSession) -> bool,
    ) -> usize {
        let Some(conns) = self.users.get(user_id) else { return 0 };
        let mut closed = 0;
        for conn in conns.iter().filter(|c| covered(&c.session)) {
            conn.outbox.close(reason);
            closed += 1;
        }
        closed
    }

    /// `user_id`'s connections on this node, oldest first.
    pub fn connections_of(&self, user_id: &str) -> Vec<confab_proto::LiveConnection> {
        let Some(conns) = self.users.get(user_id) else { return Vec::new() };
        conns
            .iter()
            .map(|c| confab_proto::LiveConnection {
                connection_id: c.connection_id.to_string(),
                device_id: c.device_id.to_string(),
                session_id: c.session.session_id.clone(),
                connected_at: c.connected_at,
            })
            .collect()
    }

    /// Connections open on this node.
    pub fn connection_count(&self) -> usize {
        self.users.iter().map(|e| e.value().len()).sum()
    }

    /// Asks every connection to close (server shutdown).
    pub fn close_all(&self, reason: CloseReason) {
        for entry in self.users.iter() {
            for conn in entry.value() {
                conn.outbox.close(reason);
            }
        }
    }
}

impl Hub {
    /// Queues a delivery's frame on every local connection of its recipients.
    /// Like [`Hub::deliver`], but only to connections opened before `before` (ms since the epoch):
    /// a message read back from the store to fill a hole goes only to the connections that were
    /// there when it was committed (later ones synced it when they connected).
    pub fn deliver_to_connected_before(&self, delivery: &Delivery, before: i64) {
        let frame = match Utf8Bytes::try_from(delivery.frame.clone()) {
            Ok(frame) => frame,
            Err(_) => return,
        };
        for user in delivery.recipients.iter() {
            if let Some(conns) = self.users.get(user) {
                for conn in conns.iter().filter(|c| c.connected_at < before) {
                    conn.outbox.push(frame.clone());
                }
            }
        }
    }

    /// The members (a sorted list, as the member cache keeps them) with a connection on this node:
    /// for a large group, from this node's users rather than from every member, so a 100,000-member
    /// group costs a node in proportion to its own connections.
    pub fn members_here(&self, sorted_members: &[String]) -> Vec<String> {
        if sorted_members.len() <= self.users.len() {
            return sorted_members.iter().filter(|m| self.users.contains_key(m.as_str())).cloned().collect();
        }
        self.users
            .iter()
            .filter(|e| !e.value().is_empty() && sorted_members.binary_search(e.key()).is_ok())
            .map(|e| e.key().clone())
            .collect()
    }

    /// When the oldest connection of `users` on this node was opened (ms); `None` when none has
    /// one here.
    pub fn oldest_connection(&self, users: &[String]) -> Option<i64> {
        users.iter().filter_map(|u| self.users.get(u)?.iter().map(|c| c.connected_at).min()).min()
    }

    pub fn deliver(&self, delivery: &Delivery) {
        let frame = match Utf8Bytes::try_from(delivery.frame.clone()) {
            Ok(frame) => frame,
            Err(e) => {
                tracing::error!(error = %e, "dropping a delivery that is not UTF-8");
                return;
            }
        };
        let skip = delivery.skip_connection.as_deref();
        let mut sent = 0u64;
        for user in delivery.recipients.iter() {
            sent += self.send_to_user(user, &frame, skip) as u64;
        }
        metrics::counter!("confab_frames_delivered_total").increment(sent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle(id: &str, capacity: usize) -> (ConnectionHandle, crate::outbox::OutboxReceiver) {
        let (outbox, rx) = Outbox::new(capacity);
        (ConnectionHandle::new(id.into(), outbox, Default::default(), "d"), rx)
    }

    #[test]
    fn members_here_are_the_members_with_a_connection_here_from_either_side() {
        let hub = Hub::new();
        let mut receivers = Vec::new();
        for user in ["ann", "bob", "cat"] {
            let (conn, rx) = handle(&format!("{user}-1"), 4);
            hub.register(user, conn);
            receivers.push(rx);
        }
        // Fewer members than users here: each member is looked up.
        assert_eq!(hub.members_here(&["bob".to_string()]), ["bob"]);
        // More members than users here: each user here is looked for among the members.
        let many: Vec<String> = ["ann", "bob", "dan", "eve", "zed"].iter().map(|s| s.to_string()).collect();
        let mut here = hub.members_here(&many);
        here.sort();
        assert_eq!(here, ["ann", "bob"]);
    }

    #[test]
    fn a_revocation_closes_the_connections_it_covers_only() {
        let hub = Hub::new();
        let session = |id: &str, at: i64| {
            Arc::new(TokenSession { session_id: Some(id.to_string()), issued_at: Some(at) })
        };
        let (outbox_a, _rx_a) = Outbox::new(4);
        let (outbox_b, _rx_b) = Outbox::new(4);
        let (outbox_c, _rx_c) = Outbox::new(4);
        let a = ConnectionHandle::new("a".into(), outbox_a, session("s-a", 10), "d");
        let b = ConnectionHandle::new("b".into(), outbox_b, session("s-b", 20), "d");
        let c = ConnectionHandle::new("c".into(), outbox_c, session("s-a", 10), "d");
        hub.register("alice", a.clone());
        hub.register("alice", b.clone());
        hub.register("carol", c.clone());
        assert_eq!(hub.close_revoked("alice", &Revoked::Session("s-a".into())), 1);
        assert_eq!(a.outbox.close_reason(), Some(CloseReason::SessionRevoked));
        assert!(!b.outbox.closed().is_cancelled());
        assert!(!c.outbox.closed().is_cancelled(), "another user's connection");
        let cutoff = Revoked::IssuedBefore { before: 30, keep: Some("s-b".into()) };
        assert_eq!(hub.close_revoked("alice", &cutoff), 1, "a again; b is kept");
        assert!(!b.outbox.closed().is_cancelled());
        assert_eq!(hub.close_revoked("alice", &Revoked::IssuedBefore { before: 30, keep: None }), 2);
        assert_eq!(b.outbox.close_reason(), Some(CloseReason::SessionRevoked));
    }

    #[test]
    fn a_ban_closes_every_connection_of_the_user_and_connections_are_listed() {
        let hub = Hub::new();
        let (a1, _rx1) = handle("a1", 4);
        let (a2, _rx2) = handle("a2", 4);
        let (c1, _rx3) = handle("c1", 4);
        hub.register("alice", a1.clone());
        hub.register("alice", a2.clone());
        hub.register("carol", c1.clone());
        assert_eq!(hub.connection_count(), 3);
        let listed = hub.connections_of("alice");
        assert_eq!(listed.iter().map(|c| c.connection_id.as_str()).collect::<Vec<_>>(), ["a1", "a2"]);
        assert_eq!(listed[0].device_id, "d");
        assert!(hub.connections_of("nobody").is_empty());
        assert_eq!(hub.close_user("alice", CloseReason::Banned), 2);
        assert_eq!(a2.outbox.close_reason(), Some(CloseReason::Banned));
        assert!(!c1.outbox.closed().is_cancelled());
    }

    #[test]
    fn deliveries_skip_the_sender_and_reach_every_other_device() {
        let hub = Hub::new();
        let (a1, mut rx_a1) = handle("a1", 4);
        let (a2, mut rx_a2) = handle("a2", 4);
        let (b1, mut rx_b1) = handle("b1", 4);
        hub.register("alice", a1);
        assert_eq!(hub.register("alice", a2), 2);
        hub.register("bob", b1);
        hub.deliver(&Delivery {
            recipients: vec!["alice".to_string(), "bob".to_string()].into(),
            frame: "{}".into(),
            skip_connection: Some("a1".into()),
            order: None,
        });
        assert!(rx_a1.try_recv().is_none());
        assert_eq!(rx_a2.try_recv().unwrap().as_str(), "{}");
        assert_eq!(rx_b1.try_recv().unwrap().as_str(), "{}");
        assert_eq!(hub.unregister("alice", "a1"), 1);
        assert_eq!(hub.unregister("alice", "a2"), 0);
    }

    #[test]
    fn a_full_queue_closes_only_that_connection() {
        let hub = Hub::new();
        let (slow, _rx_slow) = handle("slow", 1);
        let (fast, mut rx_fast) = handle("fast", 8);
        let slow_outbox = slow.outbox.clone();
        hub.register("s", slow);
        hub.register("f", fast.clone());
        for _ in 0..3 {
            hub.send_to_user("s", &Utf8Bytes::from_static("x"), None);
            hub.send_to_user("f", &Utf8Bytes::from_static("x"), None);
        }
        assert_eq!(slow_outbox.close_reason(), Some(CloseReason::SlowConsumer));
        assert!(slow_outbox.closed().is_cancelled());
        assert!(!fast.outbox.closed().is_cancelled());
        assert_eq!((0..3).filter(|_| rx_fast.try_recv().is_some()).count(), 3);
    }
}

/// Open WebSocket connections per user on this node, counted from the upgrade (before the session
/// registers in the hub), so concurrent upgrades cannot overshoot `max_connections_per_user`.
#[derive(Default)]
pub(crate) struct UserSlots {
    open: DashMap<String, usize>,
}

/// One user's connection, counted until dropped.
pub(crate) struct UserSlot {
    slots: std::sync::Arc<UserSlots>,
    user_id: String,
}

impl UserSlots {
    /// A slot for one more connection of `user_id`, unless they already hold `max`.
    pub(crate) fn try_acquire(self: &std::sync::Arc<Self>, user_id: &str, max: usize) -> Option<UserSlot> {
        let mut open = self.open.entry(user_id.to_string()).or_insert(0);
        if *open >= max {
            return None;
        }
        *open += 1;
        Some(UserSlot { slots: self.clone(), user_id: user_id.to_string() })
    }
}

impl Drop for UserSlot {
    fn drop(&mut self) {
        // Entries go away with a user's last connection, so the map holds connected users only.
        self.slots.open.remove_if_mut(&self.user_id, |_, open| {
            *open = open.saturating_sub(1);
            *open == 0
        });
    }
}
