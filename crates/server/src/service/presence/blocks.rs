//! Presence ends between two users when either blocks the other: the store no longer counts them
//! as contacts, and the watches already made between them on this node are dropped here.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::PresenceHub;

impl PresenceHub {
    /// A block between `a` and `b` was stored (heard of on any node): this node's connections of
    /// either stop watching the other at once. Lifting the block does not restore the watches; as
    /// for any contact gained after connecting, the next connect or `presence.subscribe` does.
    pub(crate) fn pair_blocked(&self, a: &str, b: &str) {
        // A subscribe that looked the two up as contacts before the block re-checks.
        self.membership_epoch.fetch_add(1, Ordering::SeqCst);
        for (owner, watched) in [(a, b), (b, a)] {
            // `watching` is locked before `watchers` elsewhere, so the watchers are copied out first.
            let connections: Vec<Arc<str>> =
                self.watchers.get(watched).map(|w| w.keys().cloned().collect()).unwrap_or_default();
            let gone = [watched.to_string()];
            for connection in connections {
                if self.watching.get(&connection).is_some_and(|w| w.user == owner) {
                    self.unwatch(&connection, &gone);
                }
            }
        }
    }
}
