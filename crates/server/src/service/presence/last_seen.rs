//! Who may see whose `lastSeen`: a user who hides theirs neither shows it nor sees others'. Each
//! node caches the setting per user and learns changes over the bus.

use std::collections::HashSet;

use confab_core::Result;

use super::PresenceHub;

impl PresenceHub {
    /// `user` turned showing when they were last seen on or off (heard through the bus).
    pub(crate) fn last_seen_shown(&self, user: &str, show: bool) {
        self.last_seen_shown.insert(user.to_string(), show);
    }

    /// Reads from the store the setting of those of `users` not cached yet.
    pub(super) async fn cache_last_seen_shown(&self, users: impl Iterator<Item = &str>) -> Result<()> {
        let mut missing: Vec<String> = Vec::new();
        for user in users {
            if !self.last_seen_shown.contains_key(user) && !missing.iter().any(|m| m == user) {
                missing.push(user.to_string());
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let hiding: HashSet<String> = self.store.hiding_last_seen(&missing).await?.into_iter().collect();
        for user in missing {
            let show = !hiding.contains(&user);
            // A change heard meanwhile is newer than what was read: keep it.
            self.last_seen_shown.entry(user).or_insert(show);
        }
        Ok(())
    }

    /// Whether `watcher` is told when `subject` was last seen: always about themself; about
    /// anyone else only when both show when they were last seen (the setting is reciprocal).
    pub(super) fn last_seen_visible(&self, watcher: &str, subject: &str) -> bool {
        let shows = |u: &str| self.last_seen_shown.get(u).map(|s| *s) != Some(false);
        watcher == subject || (shows(watcher) && shows(subject))
    }
}
