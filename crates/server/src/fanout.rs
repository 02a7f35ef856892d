//! Fan-out of committed messages. The store hands each committed message to [`Dispatcher::submit`]
//! in commit order; a fixed set of dispatch tasks, sharded by conversation, looks up the members,
//! serializes `message.new` once and publishes it on the bus, or, for a conversation at least as
//! large as the log's threshold, appends it to the log (see [`crate::log_fanout`]). Sharding by conversation keeps each
//! conversation's messages in sequence order while different conversations fan out in parallel.
//!
//! Each shard's queue is bounded ([`SHARD_QUEUE`]): `submit` runs on the store's commit thread and
//! must never block it, nor let a stalled bus or store grow memory without limit. When a shard's
//! queue is full, the message *spills*: the shard keeps, per conversation, only the newest spilled
//! message, and every later message of that conversation spills too until the shard has drained its
//! queue and published the spilled ones. So each conversation's pushes stay in sequence order and
//! its newest message is always pushed; the messages skipped in between are stored and acknowledged,
//! and the members' devices see the gap in `sequenceNumber` and fetch them with `sync`
//! (`confab_fanout_spilled_total` counts the messages not pushed one by one).

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use bytes::Bytes;
use confab_core::bus::{Delivery, Order, SharedBus};
use confab_core::store::SharedStore;
use confab_core::Result;
use confab_proto::{Message, ServerEnvelope, ServerFrame};
use parking_lot::Mutex;
use tokio::sync::{mpsc, Notify};
use tracing::Instrument;

use crate::log_fanout::LogFanout;

/// Committed messages queued per dispatch shard before they spill (see the module doc).
pub const SHARD_QUEUE: usize = 8_192;
/// Member ids the member cache holds in all, across conversations (a 100,000-member group counts
/// 100,000): with ids of ~36 bytes this bounds the cache near 150 MiB however large groups get.
pub const MEMBER_CACHE_WEIGHT: u64 = 2_000_000;

/// A member list weighs as many members as it lists (an empty one, one).
#[derive(Clone, Copy)]
struct ByMembers;

impl quick_cache::Weighter<String, Arc<[String]>> for ByMembers {
    fn weight(&self, _conversation: &String, members: &Arc<[String]>) -> u64 {
        members.len().max(1) as u64
    }
}

/// Member lists of conversations, kept in memory for fan-out, typing and receipts, bounded by the
/// number of member ids held ([`MEMBER_CACHE_WEIGHT`]) and evicting the least useful lists first
/// (quick_cache's CLOCK-Pro). Each list is sorted, so membership is a binary search (see
/// [`crate::hub::Hub::members_here`]). A membership change invalidates the entry on every node (the bus
/// carries the notice); the next use reloads it from the store.
pub struct MemberCache {
    members: quick_cache::sync::Cache<String, Arc<[String]>, ByMembers>,
}

impl Default for MemberCache {
    fn default() -> Self {
        MemberCache::with_capacity(MEMBER_CACHE_WEIGHT)
    }
}

impl MemberCache {
    /// A cache of at most `weight` member ids in all.
    pub fn with_capacity(weight: u64) -> MemberCache {
        let weight = weight.max(1);
        let lists = usize::try_from(weight / 16).unwrap_or(usize::MAX).clamp(16, 1 << 20);
        MemberCache { members: quick_cache::sync::Cache::with_weighter(lists, weight, ByMembers) }
    }

    /// Conversations cached now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Member ids cached now, across conversations.
    #[cfg(test)]
    pub fn weight(&self) -> u64 {
        self.members.weight()
    }

    pub async fn get(&self, store: &SharedStore, conversation_id: &str) -> Result<Arc<[String]>> {
        if let Some(members) = self.members.get(conversation_id) {
            return Ok(members);
        }
        let mut ids = store.member_ids(conversation_id).await?;
        ids.sort_unstable();
        let members: Arc<[String]> = ids.into();
        self.members.insert(conversation_id.to_string(), members.clone());
        Ok(members)
    }

    /// The cached member list, without going to the store.
    pub fn cached(&self, conversation_id: &str) -> Option<Arc<[String]>> {
        self.members.get(conversation_id)
    }

    /// Fails with `Forbidden` unless `user` is a member.
    pub async fn require(
        &self,
        store: &SharedStore,
        conversation_id: &str,
        user: &str,
    ) -> Result<Arc<[String]>> {
        let members = self.get(store, conversation_id).await?;
        if members.binary_search_by(|m| m.as_str().cmp(user)).is_ok() {
            Ok(members)
        } else {
            Err(confab_core::Error::not_member())
        }
    }

    pub fn invalidate(&self, conversation_id: &str) {
        self.members.remove(conversation_id);
    }
}

/// A committed message on its way to the members' devices.
pub struct Committed {
    pub message: Message,
    /// The connection that sent it, which does not get `message.new`.
    pub origin: Option<Arc<str>>,
    /// When the store committed it: the start of the fan-out lag.
    pub committed_at: std::time::Instant,
}

/// Hands committed messages to the dispatch task of their conversation's shard.
#[derive(Clone)]
pub struct Dispatcher {
    shards: Arc<[Shard]>,
    hasher: std::collections::hash_map::RandomState,
}

#[derive(Clone)]
struct Shard {
    queue: mpsc::Sender<Committed>,
    spill: Arc<Spill>,
}

/// The newest spilled message of each conversation of a shard, and the shard's wake-up.
#[derive(Default)]
struct Spill {
    messages: Mutex<HashMap<String, Committed>>,
    wake: Notify,
}

impl Dispatcher {
    /// Starts `shards` dispatch tasks on the current runtime, each queueing up to `queue` messages.
    /// With `log`, large conversations' messages go through it.
    pub fn start(
        shards: usize,
        queue: usize,
        store: SharedStore,
        bus: SharedBus,
        members: Arc<MemberCache>,
        log: Option<LogFanout>,
    ) -> Dispatcher {
        let shards: Vec<_> = (0..shards.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::channel(queue.max(1));
                let spill = Arc::new(Spill::default());
                let out = Outlet {
                    store: store.clone(),
                    bus: bus.clone(),
                    members: members.clone(),
                    log: log.clone(),
                };
                tokio::spawn(run_shard(rx, spill.clone(), out));
                Shard { queue: tx, spill }
            })
            .collect();
        Dispatcher { shards: shards.into(), hasher: Default::default() }
    }

    /// Queues a committed message; never blocks (it is called on the store's commit thread). A
    /// full queue spills (see the module doc).
    pub fn submit(&self, committed: Committed) {
        let hash = self.hasher.hash_one(&committed.message.conversation_id);
        let shard = &self.shards[(hash % self.shards.len() as u64) as usize];
        let mut spilled = shard.spill.messages.lock();
        // Once a conversation has spilled, its later messages follow it there, so none is pushed
        // ahead of one queued before it.
        let committed = match spilled.get_mut(&committed.message.conversation_id) {
            Some(older) => {
                *older = committed;
                metrics::counter!("confab_fanout_spilled_total").increment(1);
                return;
            }
            None => committed,
        };
        match shard.queue.try_send(committed) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(committed)) => {
                spilled.insert(committed.message.conversation_id.clone(), committed);
                drop(spilled);
                shard.spill.wake.notify_one();
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::warn!("fan-out is stopped; a message was stored but not pushed (clients will sync)");
            }
        }
    }
}

/// Where a shard's messages go: the member lists it reads, the bus and, for large groups, the log.
struct Outlet {
    store: SharedStore,
    bus: SharedBus,
    members: Arc<MemberCache>,
    log: Option<LogFanout>,
}

async fn run_shard(mut rx: mpsc::Receiver<Committed>, spill: Arc<Spill>, out: Outlet) {
    loop {
        let committed = match rx.try_recv() {
            Ok(committed) => committed,
            Err(mpsc::error::TryRecvError::Disconnected) => return,
            Err(mpsc::error::TryRecvError::Empty) => {
                // The queue is drained: whatever spilled meanwhile goes out now, newest per
                // conversation, after every message of its conversation queued before it.
                let spilled = std::mem::take(&mut *spill.messages.lock());
                if !spilled.is_empty() {
                    for committed in spilled.into_values() {
                        publish(committed, &out).await;
                    }
                    continue;
                }
                tokio::select! {
                    received = rx.recv() => match received {
                        Some(committed) => committed,
                        None => return,
                    },
                    _ = spill.wake.notified() => continue,
                }
            }
        };
        publish(committed, &out).await;
    }
}

async fn publish(committed: Committed, out: &Outlet) {
    let span = tracing::debug_span!(
        "fanout",
        conversation = %committed.message.conversation_id,
        message = %committed.message.message_id,
    );
    publish_in(committed, out).instrument(span).await
}

async fn publish_in(committed: Committed, out: &Outlet) {
    let Committed { message, origin, committed_at } = committed;
    let recipients = match out.members.get(&out.store, &message.conversation_id).await {
        Ok(m) => m,
        Err(e) => {
            // Stored and acknowledged, so not lost: recipients find it through gap detection and sync.
            tracing::warn!(error = %e, conversation = %message.conversation_id, "fan-out skipped");
            return;
        }
    };
    let order =
        Order { conversation_id: message.conversation_id.as_str().into(), sequence: message.sequence_number };
    let frame = ServerEnvelope::new(None, ServerFrame::MessageNew(message)).to_json();
    let count = recipients.len();
    // Committed, not yet published: where a node killed now would leave the others to find the
    // message in the store (see `ordering::Ordering::catch_up`).
    fail::fail_point!("fanout-before-publish", |_| crate::failpoints::die());
    if let Some(log) = out.log.as_ref().filter(|log| log.takes(count)) {
        match log.append(&order, origin.as_deref(), frame.as_bytes()).await {
            Ok(()) => {
                metrics::counter!("confab_log_appended_total").increment(1);
                metrics::histogram!(crate::metrics::FANOUT_LAG).record(committed_at.elapsed().as_secs_f64());
                metrics::counter!("confab_messages_fanned_out_total").increment(1);
                tracing::debug!(recipients = count, "appended to the log");
                return;
            }
            Err(e) => {
                // The bus still reaches every node, only at a routing look-up per member.
                metrics::counter!("confab_log_append_failed_total").increment(1);
                tracing::warn!(error = %e, pause = ?crate::log_fanout::PAUSE, "log append failed; large groups fan out over the bus meanwhile");
            }
        }
    }
    // Both buses queue the frame on this node's connections before `publish` returns.
    out.bus.publish(Delivery {
        recipients,
        frame: Bytes::from(frame),
        skip_connection: origin,
        order: Some(order),
    });
    metrics::histogram!(crate::metrics::FANOUT_LAG).record(committed_at.elapsed().as_secs_f64());
    metrics::counter!("confab_messages_fanned_out_total").increment(1);
    tracing::debug!(recipients = count, "fanned out");
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_trait::async_trait;
    use confab_core::bus::{Bus, ClusterEvent, Delivery};
    use confab_core::store::SharedStore;
    use confab_proto::{Message, PresenceStatus, ServerEnvelope, ServerFrame};
    use tokio::sync::mpsc;

    use super::*;

    /// A bus that hands every published frame to the test.
    struct Recording(mpsc::UnboundedSender<bytes::Bytes>);

    #[async_trait]
    impl Bus for Recording {
        fn publish(&self, delivery: Delivery) {
            let _ = self.0.send(delivery.frame);
        }
        fn broadcast(&self, _: ClusterEvent) {}
        fn set_local_presence(&self, _: &str, _: Option<PresenceStatus>) {}
        async fn presence_of(&self, users: &[String]) -> confab_core::Result<Vec<PresenceStatus>> {
            Ok(vec![PresenceStatus::Offline; users.len()])
        }
        fn set_local_devices(&self, _: &str, _: Vec<String>) {}
        async fn live_devices(&self, _: &str) -> confab_core::Result<Vec<String>> {
            Ok(Vec::new())
        }
        async fn ping(&self) -> confab_core::Result<()> {
            Ok(())
        }
    }

    fn message(conversation: &str, sequence_number: u64) -> Committed {
        let message: Message = serde_json::from_value(serde_json::json!({
            "messageId": format!("m{sequence_number}"),
            "conversationId": conversation,
            "senderId": "u1",
            "content": {"type": "text", "text": "hi"},
            "sequenceNumber": sequence_number,
            "timestamp": 0,
        }))
        .expect("a message");
        Committed { message, origin: None, committed_at: std::time::Instant::now() }
    }

    fn sequence(frame: &[u8]) -> (String, u64) {
        let text = std::str::from_utf8(frame).expect("utf-8");
        match ServerEnvelope::parse(text).expect("valid").expect("known").frame {
            ServerFrame::MessageNew(m) => (m.conversation_id, m.sequence_number),
            other => panic!("unexpected frame {other:?}"),
        }
    }

    // The test runtime has one thread, so the shard task cannot run while the messages are
    // submitted: exactly like a stalled bus or store.
    #[tokio::test]
    async fn a_full_queue_spills_the_newest_message_per_conversation_in_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store: SharedStore =
            Arc::new(confab_store::SqliteStore::open(&dir.path().join("confab.db")).expect("embedded store"));
        let (tx, mut published) = mpsc::unbounded_channel();
        let members = Arc::new(MemberCache::default());
        let dispatcher = Dispatcher::start(1, 4, store, Arc::new(Recording(tx)), members, None);
        for seq in 1..=20 {
            dispatcher.submit(message("a", seq));
        }
        dispatcher.submit(message("b", 1));
        let mut seen = Vec::new();
        while seen.len() < 6 {
            let frame = tokio::time::timeout(std::time::Duration::from_secs(10), published.recv())
                .await
                .expect("published within 10 s")
                .expect("bus open");
            seen.push(sequence(&frame));
        }
        let a: Vec<u64> = seen.iter().filter(|(c, _)| c == "a").map(|(_, s)| *s).collect();
        assert_eq!(a, vec![1, 2, 3, 4, 20], "queued ones in order, then the newest spilled one");
        assert!(seen.contains(&("b".to_string(), 1)));
        assert!(published.try_recv().is_err(), "nothing else was published");
    }

    #[tokio::test]
    async fn the_member_cache_stays_within_its_weight_in_member_ids() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store: SharedStore =
            Arc::new(confab_store::SqliteStore::open(&dir.path().join("confab.db")).expect("embedded store"));
        let cache = MemberCache::with_capacity(64);
        for i in 0..100 {
            cache.get(&store, &format!("c{i}")).await.expect("members");
            assert!(cache.weight() <= 64, "{} member ids", cache.weight());
        }
        assert!(cache.cached("c99").is_some(), "the newest entry is kept");
        // Large lists count by their size: a few of them fill the cache, not 64.
        let big: Arc<[String]> = (0..30).map(|i| format!("u{i}")).collect::<Vec<_>>().into();
        for i in 0..10 {
            cache.members.insert(format!("big{i}"), big.clone());
            assert!(cache.weight() <= 64, "{} member ids", cache.weight());
        }
        assert!(cache.len() < 64, "{} lists", cache.len());
        cache.invalidate("big9");
        assert!(cache.cached("big9").is_none());
    }
}
