//! Watches re-checked when memberships change: presence flows only between users who share a
//! conversation, so a leave ends the watches it leaves without a shared conversation.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::PresenceHub;

impl PresenceHub {
    /// A conversation's membership changed (on any node): this node's watches between its members
    /// and anyone else are checked again, and those between users who no longer share a
    /// conversation are dropped, so no further updates flow between them.
    pub(crate) fn members_changed(self: &Arc<Self>, conversation_id: &str) {
        self.membership_epoch.fetch_add(1, Ordering::SeqCst);
        let (hub, conversation_id) = (self.clone(), conversation_id.to_string());
        tokio::spawn(async move { hub.recheck_conversation(&conversation_id).await });
    }

    /// Re-checks this node's watches around one conversation's current members now. The node that
    /// stored a membership change awaits this before answering, so on that node the change has
    /// taken effect on presence by the time its author hears back.
    pub(crate) async fn recheck_conversation(&self, conversation_id: &str) {
        match self.store.member_ids(conversation_id).await {
            Ok(members) => self.recheck_around(&members).await,
            Err(e) => tracing::warn!(error = %e, conversation = %conversation_id, "watches not re-checked"),
        }
    }

    /// Re-checks the watches on this node between `members` and users who are not among them.
    async fn recheck_around(&self, members: &[String]) {
        let members: HashSet<&String> = members.iter().collect();
        let mut owners: HashMap<String, Vec<Arc<str>>> = HashMap::new();
        for member in &members {
            // Connections of members, for the users they watch outside the conversation…
            if let Some(devices) = self.devices.get(*member) {
                owners.entry((*member).clone()).or_default().extend(devices.keys().cloned());
            }
            // …and connections of others watching a member. (`watching` is locked before
            // `watchers` elsewhere, so the watchers are copied out first.)
            let connections: Vec<Arc<str>> =
                self.watchers.get(*member).map(|w| w.keys().cloned().collect()).unwrap_or_default();
            for connection in connections {
                let Some(owner) = self.watching.get(&connection).map(|w| w.user.clone()) else { continue };
                if !members.contains(&owner) {
                    owners.entry(owner).or_default().push(connection);
                }
            }
        }
        self.recheck(&owners).await;
    }

    /// Drops the watches of these owners' connections on users who are no longer their contacts.
    pub(super) async fn recheck(&self, owners: &HashMap<String, Vec<Arc<str>>>) {
        for (owner, connections) in owners {
            let mut watched: HashSet<String> = HashSet::new();
            for connection in connections {
                if let Some(w) = self.watching.get(connection) {
                    watched.extend(w.users.iter().filter(|u| *u != owner).cloned());
                }
            }
            if watched.is_empty() {
                continue;
            }
            let watched: Vec<String> = watched.into_iter().collect();
            let contacts: HashSet<String> = match self.store.contacts_among(owner, &watched).await {
                Ok(contacts) => contacts.into_iter().collect(),
                Err(e) => {
                    // Cannot tell: stop rather than keep telling a possible stranger.
                    tracing::warn!(error = %e, owner = %owner, "contacts not re-checked; watches dropped");
                    HashSet::new()
                }
            };
            let gone: Vec<String> = watched.into_iter().filter(|u| !contacts.contains(u)).collect();
            if !gone.is_empty() {
                for connection in connections {
                    self.unwatch(connection, &gone);
                }
            }
        }
    }
}
