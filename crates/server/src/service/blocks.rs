//! Blocking: a block is stored, then every node hears of it through the bus, drops what it cached
//! about the pair and ends the presence watches between the two (this node before the caller is
//! answered). Sends and openings of direct conversations are checked by the store, inside the
//! append or opening itself, so they need nothing from here and cost no extra round trip; typing
//! in a direct conversation is checked against [`BlockCache`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use confab_core::bus::{ClusterEvent, SharedBus};
use confab_core::ids::now_millis;
use confab_core::store::SharedStore;
use confab_core::{validate, Result};
use confab_proto::BlockedUser;
use dashmap::DashMap;

use super::presence::PresenceHub;

/// Pairs kept at most; past this the cache starts over (each pair then costs one store read again).
const MAX_CACHED_PAIRS: usize = 100_000;

/// What this node knows of whether two users block each other (either way), read from the store
/// on first need and dropped when the bus brings a [`ClusterEvent::BlockChanged`] for the pair.
#[derive(Default)]
pub(crate) struct BlockCache {
    /// (lower id, higher id) → a block either way.
    pairs: DashMap<(String, String), bool>,
    /// Bumped by every invalidation: a store read that started before one may be stale and is not
    /// kept.
    generation: AtomicU64,
}

fn pair_key(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.to_string(), b.to_string())
    } else {
        (b.to_string(), a.to_string())
    }
}

impl BlockCache {
    /// Whether `a` blocks `b` or `b` blocks `a`.
    pub(crate) async fn either_way(&self, store: &SharedStore, a: &str, b: &str) -> Result<bool> {
        let key = pair_key(a, b);
        if let Some(known) = self.pairs.get(&key) {
            return Ok(*known);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let blocked = store.blocking(a, b).await?.any();
        if self.pairs.len() >= MAX_CACHED_PAIRS {
            self.pairs.clear();
        }
        // Kept only if no invalidation happened meanwhile (checked under the map's shard lock,
        // which `invalidate` takes after bumping the generation).
        let entry = self.pairs.entry(key);
        if self.generation.load(Ordering::Acquire) == generation {
            entry.insert(blocked);
        }
        Ok(blocked)
    }

    /// Forgets what is known of the pair: a block between them was made or lifted.
    pub(crate) fn invalidate(&self, a: &str, b: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.pairs.remove(&pair_key(a, b));
    }
}

pub(crate) struct Blocks {
    store: SharedStore,
    bus: SharedBus,
    cache: Arc<BlockCache>,
    presence: Arc<PresenceHub>,
}

impl Blocks {
    pub(crate) fn new(
        store: SharedStore,
        bus: SharedBus,
        cache: Arc<BlockCache>,
        presence: Arc<PresenceHub>,
    ) -> Blocks {
        Blocks { store, bus, cache, presence }
    }

    /// `me` blocks `user` (`PUT /users/me/blocks/{userId}`); blocking again changes nothing.
    pub(crate) async fn block(&self, me: &str, user: &str) -> Result<()> {
        validate::client_id("userId", user)?;
        if self.store.block_user(me, user, now_millis()).await? {
            self.changed(me, user, true);
        }
        Ok(())
    }

    /// `me` unblocks `user` (`DELETE /users/me/blocks/{userId}`); unblocking someone not blocked
    /// changes nothing.
    pub(crate) async fn unblock(&self, me: &str, user: &str) -> Result<()> {
        validate::client_id("userId", user)?;
        if self.store.unblock_user(me, user).await? {
            self.changed(me, user, false);
        }
        Ok(())
    }

    /// The users `me` blocks, most recent first.
    pub(crate) async fn list(&self, me: &str) -> Result<Vec<BlockedUser>> {
        self.store.blocks_of(me).await
    }

    /// The change is stored: this node forgets the pair and, on a block, ends presence between
    /// the two before the caller hears back; every node does the same when the bus brings it.
    fn changed(&self, blocker: &str, blocked: &str, active: bool) {
        self.cache.invalidate(blocker, blocked);
        if active {
            self.presence.pair_blocked(blocker, blocked);
        }
        self.bus.broadcast(ClusterEvent::BlockChanged {
            blocker: blocker.to_string(),
            blocked: blocked.to_string(),
            active,
        });
    }
}
