//! Conversations: opening direct conversations, creating groups, membership, and (in
//! [`management`]) renaming groups, their settings and members' roles. Every change is followed by
//! `conversation.updated` to the members (and to a member who was just removed).

mod management;

use std::sync::Arc;

use confab_core::ids::{new_id, now_millis};
use confab_core::store::{NewGroup, SharedStore};
use confab_core::{validate, Error, Result};
use confab_proto::{Conversation, GroupSettings, ServerFrame};

use super::notify::Notifier;
use super::presence::PresenceHub;
use crate::webhooks::{WebhookEvent, Webhooks};

/// A direct conversation as [`Conversations::open_direct`] found or made it.
pub(crate) struct Opened {
    pub(crate) conversation: Conversation,
    /// False when the two users already had their direct conversation.
    pub(crate) created: bool,
}

pub(crate) struct Conversations {
    store: SharedStore,
    notifier: Notifier,
    /// Watches between users who no longer share a conversation end when one of them leaves.
    presence: Arc<PresenceHub>,
    max_group_size: u32,
    /// `member.joined` and `member.left`, from the node that made the change.
    webhooks: Webhooks,
}

impl Conversations {
    pub(crate) fn new(
        store: SharedStore,
        notifier: Notifier,
        presence: Arc<PresenceHub>,
        max_group_size: u32,
        webhooks: Webhooks,
    ) -> Conversations {
        Conversations { store, notifier, presence, max_group_size, webhooks }
    }

    /// The direct conversation between `me` and the one other participant, made if new.
    pub(crate) async fn open_direct(&self, me: &str, participant_ids: &[String]) -> Result<Opened> {
        let [other] = participant_ids else {
            return Err(Error::InvalidRequest(
                "a direct conversation has exactly one other participant".into(),
            ));
        };
        if other == me {
            return Err(Error::InvalidRequest("a direct conversation needs another user".into()));
        }
        let (id, created) = self.store.open_direct(me, other, new_id(), now_millis()).await?;
        let conversation = self.store.conversation(&id, me).await?;
        if created {
            self.announce(&id, me, &[]).await;
            self.joined(&id, me, vec![me.to_string(), other.clone()]);
        }
        Ok(Opened { conversation, created })
    }

    /// A new group with `me` as its creator.
    pub(crate) async fn create_group(
        &self,
        me: &str,
        name: &str,
        participant_ids: Vec<String>,
        settings: Option<GroupSettings>,
    ) -> Result<Conversation> {
        let name = validate::group_name(name)?;
        for id in &participant_ids {
            validate::client_id("participantIds", id)?;
        }
        let id = new_id();
        // Everyone the group starts with, the creator first, each once (for `member.joined`;
        // groups reach 100,000 members, so repeats are found with a set, and only when told).
        let joined = if self.webhooks.enabled() {
            let mut seen = std::collections::HashSet::from([me]);
            let others = participant_ids.iter().filter(|u| seen.insert(u.as_str())).cloned();
            std::iter::once(me.to_string()).chain(others).collect()
        } else {
            Vec::new()
        };
        self.store
            .create_group(NewGroup {
                conversation_id: id.clone(),
                name,
                creator_id: me.to_string(),
                member_ids: participant_ids,
                settings: settings.unwrap_or_default(),
                created_at: now_millis(),
                max_group_size: self.max_group_size,
            })
            .await?;
        let conversation = self.store.conversation(&id, me).await?;
        self.announce(&id, me, &[]).await;
        self.joined(&id, me, joined);
        Ok(conversation)
    }

    /// Every conversation `me` is a member of.
    pub(crate) async fn list(&self, me: &str) -> Result<Vec<Conversation>> {
        self.store.conversations_of(me).await
    }

    /// One conversation as `me` sees it (members only).
    pub(crate) async fn get(&self, me: &str, conversation_id: &str) -> Result<Conversation> {
        self.store.conversation(conversation_id, me).await
    }

    /// Adds users to a group (as the settings allow `me` to); returns the group afterwards.
    pub(crate) async fn add_members(
        &self,
        me: &str,
        conversation_id: &str,
        user_ids: &[String],
    ) -> Result<Conversation> {
        if user_ids.is_empty() {
            return Err(Error::InvalidRequest("`userIds` must not be empty".into()));
        }
        for user in user_ids {
            validate::client_id("userIds", user)?;
        }
        let added =
            self.store.add_members(conversation_id, me, user_ids, now_millis(), self.max_group_size).await?;
        if !added.is_empty() {
            self.announce(conversation_id, me, &[]).await;
            self.joined(conversation_id, me, added);
        }
        self.store.conversation(conversation_id, me).await
    }

    /// Removes `user` from a group (or `me` leaves it); the removed user is told too.
    pub(crate) async fn remove_member(&self, me: &str, conversation_id: &str, user: &str) -> Result<()> {
        self.store.remove_member(conversation_id, me, user).await?;
        self.announce(conversation_id, me, &[user.to_string()]).await;
        self.webhooks.emit(WebhookEvent::MemberLeft {
            conversation_id: conversation_id.to_string(),
            user_id: user.to_string(),
            actor_id: me.to_string(),
        });
        // Presence between the one who left and the remaining members ends on this node before
        // the caller hears back (other nodes follow as the bus brings them the change).
        self.presence.recheck_conversation(conversation_id).await;
        Ok(())
    }

    fn joined(&self, conversation_id: &str, actor: &str, user_ids: Vec<String>) {
        if !self.webhooks.enabled() {
            return;
        }
        self.webhooks.emit(WebhookEvent::MemberJoined {
            conversation_id: conversation_id.to_string(),
            user_ids,
            actor_id: actor.to_string(),
        });
    }

    /// Tells every member that a conversation changed without a change of membership (a rename,
    /// settings, roles). Like [`Conversations::announce`], a failure is logged, not returned.
    async fn announce_change(&self, conversation_id: &str, actor: &str) {
        if let Err(e) = self.try_announce(conversation_id, actor, &[]).await {
            tracing::warn!(error = %e, conversation = conversation_id, "conversation.updated not sent");
        }
    }

    /// Tells every member (and `also`, e.g. a member who just left) that a conversation changed:
    /// `conversation.updated` with each member's own read state. The change is already stored, so
    /// a failure here is logged, not returned: clients catch up on their next sync.
    async fn announce(&self, conversation_id: &str, actor: &str, also: &[String]) {
        self.notifier.members_changed(conversation_id);
        if let Err(e) = self.try_announce(conversation_id, actor, also).await {
            tracing::warn!(error = %e, conversation = conversation_id, "conversation.updated not sent");
        }
    }

    async fn try_announce(&self, conversation_id: &str, actor: &str, also: &[String]) -> Result<()> {
        let markers = self.store.read_markers(conversation_id).await?;
        let viewer = markers.first().map(|(u, _)| u.as_str()).unwrap_or(actor);
        let base = match self.store.conversation(conversation_id, viewer).await {
            Ok(view) => view,
            // Nobody is left to view the group as, so there is no view to send (not even to `also`).
            Err(Error::Forbidden(_)) if markers.is_empty() => return Ok(()),
            Err(e) => return Err(e),
        };
        for (user, last_read) in &markers {
            let mut view = base.clone();
            view.last_read_sequence = *last_read;
            view.unread_count = view.last_sequence.saturating_sub(*last_read);
            self.notifier.publish(vec![user.clone()], &ServerFrame::ConversationUpdated(view), None);
        }
        let outsiders: Vec<String> =
            also.iter().filter(|u| !markers.iter().any(|(m, _)| m == *u)).cloned().collect();
        if !outsiders.is_empty() {
            let mut view = base;
            view.last_read_sequence = 0;
            view.unread_count = 0;
            self.notifier.publish(outsiders, &ServerFrame::ConversationUpdated(view), None);
        }
        Ok(())
    }
}
