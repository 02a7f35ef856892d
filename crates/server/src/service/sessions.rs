//! What this node knows of users' revoked tokens, so checking a bearer token stays a map look-up.
//!
//! The store is the source of truth: a user's revocations are read from it the first time one of
//! their tokens is checked here, then kept until a [`ClusterEvent::SessionsRevoked`] for that user
//! (from any node, this one included) drops them; the next check reads the store again. A node
//! started later therefore knows every earlier revocation, and a node that hears of one drops its
//! copy at once.
//!
//! [`ClusterEvent::SessionsRevoked`]: confab_core::bus::ClusterEvent::SessionsRevoked

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use confab_core::ids::now_millis;
use confab_core::rules::sessions::TokenSession;
use confab_core::store::{Revocations, SharedStore};
use confab_core::Result;
use dashmap::DashMap;

/// Users whose revocations are kept at most; past this the cache starts over (each user then costs
/// one store read again), so it cannot grow with every user who ever called.
const MAX_CACHED_USERS: usize = 100_000;

#[derive(Default)]
pub(crate) struct RevocationCache {
    users: DashMap<String, Arc<Revocations>>,
    /// Bumped by every invalidation: a read of the store that started before one may be stale and
    /// is not kept.
    generation: AtomicU64,
}

impl RevocationCache {
    /// Whether `session`, a token of `user`, is revoked.
    pub(crate) async fn is_revoked(
        &self,
        store: &SharedStore,
        user: &str,
        session: &TokenSession,
    ) -> Result<bool> {
        if let Some(known) = self.users.get(user) {
            return Ok(session.revoked_by(&known));
        }
        let generation = self.generation.load(Ordering::Acquire);
        let revocations = Arc::new(store.revocations(user, now_millis()).await?);
        let revoked = session.revoked_by(&revocations);
        if self.users.len() >= MAX_CACHED_USERS {
            self.users.clear();
        }
        // Kept only if no invalidation happened meanwhile (checked under the map's shard lock, which
        // `invalidate` takes after bumping the generation).
        let entry = self.users.entry(user.to_string());
        if self.generation.load(Ordering::Acquire) == generation {
            entry.insert(revocations);
        }
        Ok(revoked)
    }

    /// Forgets what is known of `user`: their revocations changed.
    pub(crate) fn invalidate(&self, user: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.users.remove(user);
    }
}
