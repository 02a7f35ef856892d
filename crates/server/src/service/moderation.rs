//! What this node knows of bans, and how it learns of moderation changes.
//!
//! [`BanCache`]: a user's ban is read from the store the first time one of their tokens is checked
//! here, then kept (a ban's end is checked at each look-up, so it expires by itself) until a
//! change for that user arrives; the next check reads the store again.
//!
//! Changes arrive two ways. A node that bans, unbans or revokes broadcasts it on the bus
//! ([`ClusterEvent::BanChanged`], [`ClusterEvent::SessionsRevoked`]), so every node acts at once.
//! And every such change is also in the store's moderation log, which [`LogFollower`] reads every
//! `moderation_poll`: that is how nodes learn of changes written by another process on the same
//! store (`confab admin` on the command line), and it makes up for a bus message lost on the way.
//! Acting on a change twice is harmless.
//!
//! [`ClusterEvent::BanChanged`]: confab_core::bus::ClusterEvent::BanChanged
//! [`ClusterEvent::SessionsRevoked`]: confab_core::bus::ClusterEvent::SessionsRevoked

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use confab_core::ids::now_millis;
use confab_core::moderation::ChangeKind;
use confab_core::rules::moderation::in_force;
use confab_core::store::SharedStore;
use confab_core::Result;
use confab_proto::Ban;
use dashmap::DashMap;

use super::sessions::RevocationCache;
use crate::hub::Hub;
use crate::outbox::CloseReason;

/// Users whose ban state is kept at most; past this the cache starts over.
const MAX_CACHED_USERS: usize = 100_000;
/// Log entries read per query; a longer backlog is read over several.
const LOG_PAGE: u32 = 1_000;

#[derive(Default)]
pub(crate) struct BanCache {
    /// `None`: known not to be banned.
    users: DashMap<String, Option<Arc<Ban>>>,
    /// Bumped by every invalidation: a store read that started before one may be stale.
    generation: AtomicU64,
}

impl BanCache {
    /// `user`'s ban in force now, if any.
    pub(crate) async fn ban_of(&self, store: &SharedStore, user: &str) -> Result<Option<Arc<Ban>>> {
        let now = now_millis();
        if let Some(known) = self.users.get(user) {
            return Ok(known.clone().filter(|b| in_force(b, now)));
        }
        let generation = self.generation.load(Ordering::Acquire);
        let ban = store.ban_of(user, now).await?.map(Arc::new);
        if self.users.len() >= MAX_CACHED_USERS {
            self.users.clear();
        }
        let entry = self.users.entry(user.to_string());
        if self.generation.load(Ordering::Acquire) == generation {
            entry.insert(ban.clone());
        }
        Ok(ban)
    }

    /// Forgets what is known of `user`'s ban: it changed.
    pub(crate) fn invalidate(&self, user: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.users.remove(user);
    }
}

/// Reads the moderation log from where this node last read it, and applies what changed.
pub(crate) struct LogFollower {
    store: SharedStore,
    bans: Arc<BanCache>,
    revocations: Arc<RevocationCache>,
    hub: Arc<Hub>,
    /// The newest log version applied here.
    seen: AtomicU64,
}

impl LogFollower {
    /// A follower that starts after version `seen` (the log's newest when the node started:
    /// what came before is in the store, where caches read it from).
    pub(crate) fn new(
        store: SharedStore,
        bans: Arc<BanCache>,
        revocations: Arc<RevocationCache>,
        hub: Arc<Hub>,
        seen: u64,
    ) -> LogFollower {
        LogFollower { store, bans, revocations, hub, seen: AtomicU64::new(seen) }
    }

    /// Applies every change logged since the last call; returns how many.
    pub(crate) async fn catch_up(&self) -> Result<usize> {
        let mut applied = 0;
        loop {
            let after = self.seen.load(Ordering::Acquire);
            let changes = self.store.changes(after, LOG_PAGE).await?;
            let Some(last) = changes.last().map(|c| c.version) else { return Ok(applied) };
            for change in &changes {
                self.apply(&change.user_id, change.kind).await?;
            }
            applied += changes.len();
            self.seen.fetch_max(last, Ordering::AcqRel);
            if changes.len() < LOG_PAGE as usize {
                return Ok(applied);
            }
        }
    }

    async fn apply(&self, user: &str, kind: ChangeKind) -> Result<()> {
        match kind {
            ChangeKind::Ban | ChangeKind::Unban => {
                self.bans.invalidate(user);
                if self.bans.ban_of(&self.store, user).await?.is_some() {
                    self.hub.close_user(user, CloseReason::Banned);
                }
            }
            ChangeKind::Sessions => {
                self.revocations.invalidate(user);
                let revocations = self.store.revocations(user, now_millis()).await?;
                self.hub.close_sessions(user, CloseReason::SessionRevoked, |s| s.revoked_by(&revocations));
            }
        }
        Ok(())
    }
}
