//! Behaviour every `Bus` adapter must show, written once and expanded for each adapter by
//! [`bus_conformance_suite!`].
//!
//! A test gets a [`Cluster`]: one node for the in-process bus, several for the Redis bus, each with
//! its own [`Recorder`] standing in for the node's connection registry. Every test is written for any
//! number of nodes. Users are placed on nodes (as a connecting device would), and the recorder counts
//! a frame for a user only when the delivery names that user and the user is on that node, which is
//! what the node's connections would see.
//!
//! Nothing sleeps: tests wait (bounded) for what they expect, and prove that something did *not*
//! happen with a fence, a later frame or event from the same publisher which the bus must deliver
//! after everything published before it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use confab_core::bus::{ClusterEvent, Delivery, DeliveryHandler, Order, Revoked, SharedBus};
use confab_core::ids::new_id;
use confab_proto::PresenceStatus;
use parking_lot::Mutex;
use tokio::sync::watch;

use PresenceStatus::{Away, Offline, Online};

/// How long a test waits for something the bus must bring.
const WAIT: Duration = Duration::from_secs(10);

/// Whether tests needing an external service fail (rather than skip) when it is unreachable.
pub fn services_required() -> bool {
    std::env::var("CONFAB_REQUIRE_SERVICES").as_deref() == Ok("1")
}

/// A frame as one user's connections on one node got it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub user: String,
    pub frame: String,
    pub skip_connection: Option<String>,
    /// The message's conversation and sequence number, for a `message.new`.
    pub order: Option<(String, u64)>,
}

#[derive(Default)]
struct Seen {
    /// Users with devices on this node and their status here.
    local: HashMap<String, PresenceStatus>,
    /// Users' devices with a live connection on this node.
    devices: HashMap<String, Vec<String>>,
    frames: Vec<Received>,
    events: Vec<ClusterEvent>,
}

/// One node's handler: records what reaches the node's users and every event, and wakes waiters.
pub struct Recorder {
    seen: Mutex<Seen>,
    changed: watch::Sender<()>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder { seen: Mutex::new(Seen::default()), changed: watch::channel(()).0 }
    }
}

impl DeliveryHandler for Recorder {
    fn deliver(&self, delivery: &Delivery) {
        let frame = String::from_utf8_lossy(&delivery.frame).into_owned();
        let skip_connection = delivery.skip_connection.as_deref().map(str::to_string);
        let order = delivery.order.as_ref().map(|o| (o.conversation_id.to_string(), o.sequence));
        let mut seen = self.seen.lock();
        for user in delivery.recipients.iter() {
            if seen.local.contains_key(user) {
                let received = Received {
                    user: user.clone(),
                    frame: frame.clone(),
                    skip_connection: skip_connection.clone(),
                    order: order.clone(),
                };
                seen.frames.push(received);
            }
        }
        drop(seen);
        self.changed.send_replace(());
    }

    fn event(&self, event: &ClusterEvent) {
        self.seen.lock().events.push(event.clone());
        self.changed.send_replace(());
    }

    fn local_presence(&self) -> Vec<(String, PresenceStatus)> {
        self.seen.lock().local.iter().map(|(u, s)| (u.clone(), *s)).collect()
    }

    fn local_devices(&self, user: &str) -> Vec<String> {
        self.seen.lock().devices.get(user).cloned().unwrap_or_default()
    }
}

impl Recorder {
    /// Waits (at most [`WAIT`]) until `done` holds for what this node has seen.
    async fn wait_for(&self, what: &str, done: impl Fn(&Seen) -> bool) {
        let mut changes = self.changed.subscribe();
        let waited = tokio::time::timeout(WAIT, async {
            while !done(&self.seen.lock()) {
                if changes.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
        assert!(waited.is_ok(), "timed out waiting for {what}");
    }

    /// Waits (at most [`WAIT`]) until this node has seen `event`.
    pub(crate) async fn wait_for_event(&self, event: &ClusterEvent) {
        self.wait_for(&format!("{event:?}"), |seen| seen.events.contains(event)).await
    }

    /// The frames `user` got on this node, in arrival order.
    pub fn frames_of(&self, user: &str) -> Vec<String> {
        self.seen.lock().frames.iter().filter(|r| r.user == user).map(|r| r.frame.clone()).collect()
    }

    /// This node now holds `user` with `status`, without telling the bus (as a node's registry
    /// changes before its announcement is sent).
    pub(crate) fn hold(&self, user: &str, status: PresenceStatus) {
        self.seen.lock().local.insert(user.to_string(), status);
    }

    fn received(&self) -> Vec<Received> {
        self.seen.lock().frames.clone()
    }

    /// Presence events about `user`, in arrival order.
    pub(crate) fn presence_events(&self, user: &str) -> Vec<PresenceStatus> {
        self.seen
            .lock()
            .events
            .iter()
            .filter_map(|e| match e {
                ClusterEvent::Presence { user_id, status, .. } if user_id == user => Some(*status),
                _ => None,
            })
            .collect()
    }

    pub(crate) fn count_event(&self, event: &ClusterEvent) -> usize {
        self.seen.lock().events.iter().filter(|e| *e == event).count()
    }
}

/// One node of a test cluster.
pub struct Node {
    pub bus: SharedBus,
    pub handler: Arc<Recorder>,
}

/// The nodes of one test, on a backend of their own; `guard` cleans the backend up when dropped.
pub struct Cluster {
    pub nodes: Vec<Node>,
    pub _guard: Box<dyn Send>,
}

fn delivery(recipients: &[&str], frame: String, skip_connection: Option<&str>) -> Delivery {
    Delivery {
        recipients: recipients.iter().map(|r| r.to_string()).collect::<Vec<_>>().into(),
        frame: Bytes::from(frame),
        skip_connection: skip_connection.map(Into::into),
        order: None,
    }
}

impl Cluster {
    fn node(&self, i: usize) -> &Node {
        &self.nodes[i % self.nodes.len()]
    }

    /// `user` gets a device on node `i` (status `status` there); returns once every node has
    /// heard that the user is online, so frames published from anywhere are routed to it.
    async fn place(&self, user: &str, i: usize) {
        let node = self.node(i);
        node.handler.seen.lock().local.insert(user.to_string(), Online);
        node.bus.set_local_presence(user, Some(Online));
        for (n, other) in self.nodes.iter().enumerate() {
            other
                .handler
                .wait_for(&format!("{user} online, on node {n}"), |s| {
                    s.events.iter().any(|e| {
                        matches!(e, ClusterEvent::Presence { user_id, status: Online, .. } if user_id == user)
                    })
                })
                .await;
        }
    }

    /// Node `i` sets its status of `user` (`None`: the user's last device there left).
    fn set_presence(&self, user: &str, i: usize, status: Option<PresenceStatus>) {
        let node = self.node(i);
        match status {
            Some(status) => node.handler.seen.lock().local.insert(user.to_string(), status),
            None => node.handler.seen.lock().local.remove(user),
        };
        node.bus.set_local_presence(user, status);
    }

    /// Node `i` now holds `devices` of `user` (as its connection registry would say).
    fn set_devices(&self, user: &str, i: usize, devices: &[&str]) {
        let node = self.node(i);
        let devices: Vec<String> = devices.iter().map(|d| d.to_string()).collect();
        node.handler.seen.lock().devices.insert(user.to_string(), devices.clone());
        node.bus.set_local_devices(user, devices);
    }

    /// Node `i` broadcasts a unique event and waits until every node has it: whatever node `i`
    /// broadcast or announced before has then reached every node too.
    async fn event_fence(&self, i: usize) {
        let fence = ClusterEvent::MembersChanged { conversation_id: format!("fence-{}", new_id()) };
        self.node(i).bus.broadcast(fence.clone());
        for (n, node) in self.nodes.iter().enumerate() {
            node.handler
                .wait_for(&format!("the event fence on node {n}"), |s| s.events.contains(&fence))
                .await;
        }
    }

    /// Places one fence user per node (call once, before [`Cluster::frame_fence`]).
    async fn place_fence_users(&self) -> Vec<String> {
        let mut users = Vec::new();
        for i in 0..self.nodes.len() {
            let user = format!("fence-user-{i}-{}", new_id());
            self.place(&user, i).await;
            users.push(user);
        }
        users
    }

    /// Node `publisher` sends a frame to every node's fence user and waits until each got it:
    /// whatever `publisher` published before has then reached every node too.
    async fn frame_fence(&self, publisher: usize, fence_users: &[String]) {
        let frame = format!("fence-{}", new_id());
        let recipients: Vec<&str> = fence_users.iter().map(String::as_str).collect();
        self.node(publisher).bus.publish(delivery(&recipients, frame.clone(), None));
        for (n, (node, user)) in self.nodes.iter().zip(fence_users).enumerate() {
            node.handler
                .wait_for(&format!("the frame fence on node {n}"), |s| {
                    s.frames.iter().any(|r| r.user == *user && r.frame == frame)
                })
                .await;
        }
    }
}

/// A delivery reaches every node holding a recipient, once per recipient there (a user with devices
/// on two nodes gets it on both), and no user who is not a recipient, whichever node publishes.
pub async fn deliveries_reach_each_recipient_once(cluster: Cluster) {
    let n = cluster.nodes.len();
    let fences = cluster.place_fence_users().await;
    // Per node: a recipient and a bystander; one more recipient with devices on every node.
    let mut recipients = Vec::new();
    let mut bystanders = Vec::new();
    for i in 0..n {
        let (r, b) = (format!("recipient-{i}"), format!("bystander-{i}"));
        cluster.place(&r, i).await;
        cluster.place(&b, i).await;
        recipients.push(r);
        bystanders.push(b);
    }
    let everywhere = "everywhere".to_string();
    for i in 0..n {
        cluster.node(i).handler.seen.lock().local.insert(everywhere.clone(), Online);
        cluster.node(i).bus.set_local_presence(&everywhere, Some(Online));
    }
    // The cluster-wide status went online once; a fence per node makes sure every node's entry
    // is in place before publishing.
    for i in 0..n {
        cluster.event_fence(i).await;
    }
    let mut all: Vec<&str> = recipients.iter().map(String::as_str).collect();
    all.push(&everywhere);
    for publisher in 0..n {
        cluster.node(publisher).bus.publish(delivery(&all, format!("from-{publisher}"), None));
        cluster.frame_fence(publisher, &fences).await;
    }
    for (i, node) in cluster.nodes.iter().enumerate() {
        let expected: Vec<String> = (0..n).map(|p| format!("from-{p}")).collect();
        assert_eq!(node.handler.frames_of(&recipients[i]), expected, "recipient on node {i}");
        assert_eq!(node.handler.frames_of(&everywhere), expected, "the user on every node, on node {i}");
        assert!(node.handler.frames_of(&bystanders[i]).is_empty(), "bystander on node {i}");
        for (j, other) in recipients.iter().enumerate().filter(|(j, _)| *j != i) {
            assert!(node.handler.frames_of(other).is_empty(), "node {i} has no devices of node {j}'s user");
        }
    }
}

/// Frames from one publisher for one user arrive in publish order, also when several nodes publish
/// to the same user at once.
pub async fn frames_for_a_user_keep_publish_order(cluster: Cluster) {
    let n = cluster.nodes.len();
    let receiver = n - 1;
    let user = "reader";
    cluster.place(user, receiver).await;
    const FRAMES: usize = 300;
    for i in 0..FRAMES {
        for publisher in 0..n {
            cluster.node(publisher).bus.publish(delivery(&[user], format!("{publisher}:{i}"), None));
        }
    }
    let node = cluster.node(receiver);
    node.handler.wait_for("every frame", |s| s.frames.len() >= FRAMES * n).await;
    let frames = node.handler.frames_of(user);
    assert_eq!(frames.len(), FRAMES * n, "each frame once");
    for publisher in 0..n {
        let from: Vec<String> =
            frames.iter().filter(|f| f.starts_with(&format!("{publisher}:"))).cloned().collect();
        let expected: Vec<String> = (0..FRAMES).map(|i| format!("{publisher}:{i}")).collect();
        assert_eq!(from, expected, "frames from node {publisher} in publish order");
    }
}

/// The connection to skip and the message's place in its conversation reach every node with the
/// frame, and their absence stays absent.
pub async fn skip_connection_is_carried(cluster: Cluster) {
    let n = cluster.nodes.len();
    for i in 0..n {
        cluster.place(&format!("member-{i}"), i).await;
    }
    let members: Vec<String> = (0..n).map(|i| format!("member-{i}")).collect();
    let members: Vec<&str> = members.iter().map(String::as_str).collect();
    let order = Some(Order { conversation_id: "conv-1".into(), sequence: 7 });
    cluster
        .node(0)
        .bus
        .publish(Delivery { order, ..delivery(&members, "sent".into(), Some("conn-of-sender")) });
    cluster.node(0).bus.publish(delivery(&members, "notice".into(), None));
    for (i, node) in cluster.nodes.iter().enumerate() {
        node.handler.wait_for(&format!("both frames on node {i}"), |s| s.frames.len() >= 2).await;
        let user = format!("member-{i}");
        let received = node.handler.received();
        assert_eq!(
            received,
            [
                Received {
                    user: user.clone(),
                    frame: "sent".into(),
                    skip_connection: Some("conn-of-sender".into()),
                    order: Some(("conv-1".into(), 7)),
                },
                Received { user, frame: "notice".into(), skip_connection: None, order: None },
            ],
            "node {i}"
        );
    }
}

/// Deliveries for users of the publishing node only, interleaved with deliveries for another
/// node's user, cost the other node nothing: every one of those reaches it, in order. (With
/// Redis, a batch of local-only deliveries sends no command at all.)
pub async fn local_only_deliveries_lose_no_remote_ones(cluster: Cluster) {
    if cluster.nodes.len() < 2 {
        return;
    }
    cluster.place("here", 0).await;
    cluster.place("there", 1).await;
    for i in 0..300 {
        cluster.node(0).bus.publish(delivery(&["here"], format!("local-{i}"), None));
        if i % 3 == 0 {
            cluster.node(0).bus.publish(delivery(&["there"], format!("remote-{i}"), None));
        }
    }
    cluster.node(1).handler.wait_for("every remote frame", |s| s.frames.len() >= 100).await;
    let got: Vec<String> = cluster.node(1).handler.received().into_iter().map(|r| r.frame).collect();
    let expected: Vec<String> = (0..300).step_by(3).map(|i| format!("remote-{i}")).collect();
    assert_eq!(got, expected);
}

/// A broadcast reaches every node once, the broadcasting one included.
pub async fn broadcasts_reach_every_node_once(cluster: Cluster) {
    let n = cluster.nodes.len();
    for sender in 0..n {
        let event = ClusterEvent::MembersChanged { conversation_id: format!("conv-{sender}") };
        cluster.node(sender).bus.broadcast(event.clone());
        cluster.event_fence(sender).await;
        for (i, node) in cluster.nodes.iter().enumerate() {
            assert_eq!(node.handler.count_event(&event), 1, "node {i} got node {sender}'s event once");
        }
    }
}

/// Revocations reach every node once, the broadcasting one included, with what they revoke intact
/// (a session id, or a cutoff with and without a kept session).
pub async fn revocations_reach_every_node_intact(cluster: Cluster) {
    let n = cluster.nodes.len();
    for sender in 0..n {
        let events = [
            ClusterEvent::SessionsRevoked {
                user_id: format!("user-{sender}"),
                revoked: Revoked::Session(format!("session-{}", new_id())),
            },
            ClusterEvent::SessionsRevoked {
                user_id: format!("user-{sender}"),
                revoked: Revoked::IssuedBefore { before: 1_700_000_000_123, keep: Some(new_id()) },
            },
            ClusterEvent::SessionsRevoked {
                user_id: format!("user-{sender}"),
                revoked: Revoked::IssuedBefore { before: 1_700_000_000_456 + sender as i64, keep: None },
            },
        ];
        for event in &events {
            cluster.node(sender).bus.broadcast(event.clone());
        }
        cluster.event_fence(sender).await;
        for (i, node) in cluster.nodes.iter().enumerate() {
            for event in &events {
                assert_eq!(node.handler.count_event(event), 1, "node {i} got {event:?} once");
            }
        }
    }
}

/// A change of whether a user shows when they were last seen reaches every node once, the
/// broadcasting one included, with the setting intact.
pub async fn last_seen_settings_reach_every_node(cluster: Cluster) {
    let n = cluster.nodes.len();
    for sender in 0..n {
        let events = [
            ClusterEvent::LastSeenShown { user_id: format!("user-{sender}"), show: false },
            ClusterEvent::LastSeenShown { user_id: format!("user-{sender}"), show: true },
        ];
        for event in &events {
            cluster.node(sender).bus.broadcast(event.clone());
        }
        cluster.event_fence(sender).await;
        for (i, node) in cluster.nodes.iter().enumerate() {
            for event in &events {
                assert_eq!(node.handler.count_event(event), 1, "node {i} got {event:?} once");
            }
        }
    }
}

/// A block or unblock reaches every node once, the broadcasting one included, with the pair and
/// its direction intact.
pub async fn block_changes_reach_every_node(cluster: Cluster) {
    let n = cluster.nodes.len();
    for sender in 0..n {
        let events = [
            ClusterEvent::BlockChanged {
                blocker: format!("blocker-{sender}"),
                blocked: format!("blocked-{sender}"),
                active: true,
            },
            ClusterEvent::BlockChanged {
                blocker: format!("blocker-{sender}"),
                blocked: format!("blocked-{sender}"),
                active: false,
            },
        ];
        for event in &events {
            cluster.node(sender).bus.broadcast(event.clone());
        }
        cluster.event_fence(sender).await;
        for (i, node) in cluster.nodes.iter().enumerate() {
            for event in &events {
                assert_eq!(node.handler.count_event(event), 1, "node {i} got {event:?} once");
            }
        }
    }
}

/// Presence is the best status over the nodes holding the user: it stays online while any node
/// has the user online, and goes offline only when the last node lets go. Every node hears each
/// cluster-wide change once, and nothing when a node's change leaves the aggregate as it was.
pub async fn presence_aggregates_over_nodes(cluster: Cluster) {
    let n = cluster.nodes.len();
    let user = "roaming";
    let mut expected = Vec::new();
    let check = |expected: Vec<PresenceStatus>| {
        let cluster = &cluster;
        async move {
            for i in 0..n {
                cluster.event_fence(i).await;
            }
            for (i, node) in cluster.nodes.iter().enumerate() {
                assert_eq!(node.handler.presence_events(user), expected, "presence events on node {i}");
            }
        }
    };

    cluster.set_presence(user, 0, Some(Online));
    expected.push(Online);
    check(expected.clone()).await;
    assert_eq!(cluster.node(0).bus.presence_of(&[user.into()]).await.expect("presence"), [Online]);

    // Online again on the same node, then away on every other node: still online, no news.
    cluster.set_presence(user, 0, Some(Online));
    for i in 1..n {
        cluster.set_presence(user, i, Some(Away));
    }
    check(expected.clone()).await;
    for i in 0..n {
        assert_eq!(cluster.node(i).bus.presence_of(&[user.into()]).await.expect("presence"), [Online]);
    }

    // The online node lets go: away while another node holds the user, else offline.
    cluster.set_presence(user, 0, None);
    let after = if n > 1 { Away } else { Offline };
    expected.push(after);
    check(expected.clone()).await;
    assert_eq!(cluster.node(n - 1).bus.presence_of(&[user.into()]).await.expect("presence"), [after]);

    // The others let go one by one: offline only after the last.
    for i in 1..n {
        cluster.set_presence(user, i, None);
        if i == n - 1 {
            expected.push(Offline);
        }
        check(expected.clone()).await;
        let now = if i == n - 1 { Offline } else { Away };
        assert_eq!(cluster.node(0).bus.presence_of(&[user.into()]).await.expect("presence"), [now]);
    }

    // Back online from the last node: one more change.
    cluster.set_presence(user, n - 1, Some(Online));
    expected.push(Online);
    check(expected).await;
}

/// `presence_of` answers in the order asked, repeats included; unknown users are offline.
pub async fn presence_of_answers_in_order(cluster: Cluster) {
    let n = cluster.nodes.len();
    cluster.place("here", 0).await;
    cluster.place("idle", n - 1).await;
    cluster.set_presence("idle", n - 1, Some(Away));
    cluster.event_fence(n - 1).await;
    let ask: Vec<String> = ["idle", "nobody", "here", "idle", "here"].map(String::from).to_vec();
    for (i, node) in cluster.nodes.iter().enumerate() {
        let statuses = node.bus.presence_of(&ask).await.expect("presence");
        assert_eq!(statuses, [Away, Offline, Online, Away, Online], "asked on node {i}");
        assert!(node.bus.presence_of(&[]).await.expect("presence").is_empty());
    }
}

/// `ping` succeeds while the backend is reachable.
pub async fn ping_succeeds(cluster: Cluster) {
    for node in &cluster.nodes {
        node.bus.ping().await.expect("ping");
    }
}

/// Expands the suite for one adapter: `$make` is an async expression yielding a fresh [`Cluster`],
/// or `None` when the adapter's backend is not reachable here (the adapter's factory decides
/// whether that is a failure, see [`services_required`]).
#[macro_export]
macro_rules! bus_conformance_suite {
    ($make:expr) => {
        $crate::bus_conformance_suite!(@tests $make;
            deliveries_reach_each_recipient_once,
            frames_for_a_user_keep_publish_order,
            skip_connection_is_carried,
            local_only_deliveries_lose_no_remote_ones,
            broadcasts_reach_every_node_once,
            revocations_reach_every_node_intact,
            last_seen_settings_reach_every_node,
            block_changes_reach_every_node,
            ban_changes_reach_every_node,
            presence_aggregates_over_nodes,
            presence_of_answers_in_order,
            live_devices_are_the_union_over_nodes,
            ping_succeeds,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(cluster) = $make.await else { return };
                $crate::conformance::$name(cluster).await;
            }
        )*
    };
}

/// A ban or unban reaches every node once, the broadcasting one included.
pub async fn ban_changes_reach_every_node(cluster: Cluster) {
    let n = cluster.nodes.len();
    for sender in 0..n {
        let user_id = format!("user-{sender}-{}", new_id());
        let events = [
            ClusterEvent::BanChanged { user_id: user_id.clone(), banned: true },
            ClusterEvent::BanChanged { user_id, banned: false },
        ];
        for event in &events {
            cluster.node(sender).bus.broadcast(event.clone());
        }
        cluster.event_fence(sender).await;
        for (i, node) in cluster.nodes.iter().enumerate() {
            for event in &events {
                assert_eq!(node.handler.count_event(event), 1, "node {i} got {event:?} once");
            }
        }
    }
}

/// Every node sees a user's live devices on all nodes, and a device that left is gone everywhere.
pub async fn live_devices_are_the_union_over_nodes(cluster: Cluster) {
    let n = cluster.nodes.len();
    let user = format!("devices-{}", new_id());
    let mut expected = Vec::new();
    for i in 0..n {
        let (phone, laptop) = (format!("phone-{i}"), format!("laptop-{i}"));
        cluster.set_devices(&user, i, &[&phone, &laptop]);
        expected.extend([phone, laptop]);
        cluster.event_fence(i).await;
    }
    expected.sort();
    for i in 0..n {
        let mut live = cluster.node(i).bus.live_devices(&user).await.expect("live devices");
        live.sort();
        assert_eq!(live, expected, "as node {i} sees them");
    }
    // The last node's laptop leaves, then every device of the first node.
    cluster.set_devices(&user, n - 1, &[&format!("phone-{}", n - 1)]);
    cluster.event_fence(n - 1).await;
    cluster.set_devices(&user, 0, &[]);
    cluster.event_fence(0).await;
    expected.retain(|d| d != &format!("laptop-{}", n - 1) && (n == 1 || !d.ends_with("-0")));
    if n == 1 {
        expected.clear();
    }
    for i in 0..n {
        let mut live = cluster.node(i).bus.live_devices(&user).await.expect("live devices");
        live.sort();
        assert_eq!(live, expected, "as node {i} sees them after devices left");
    }
    let nobody = cluster.node(0).bus.live_devices("nobody-at-all").await.expect("live devices");
    assert!(nobody.is_empty());
}
