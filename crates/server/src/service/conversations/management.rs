//! Group management: renaming a group, changing its settings, promoting and demoting members. Each
//! change that is stored goes to every member's devices, on every node, as `conversation.updated`;
//! the caller gets the group as it is afterwards.

use confab_core::store::GroupUpdate;
use confab_core::{validate, Error, Result};
use confab_proto::{Conversation, Role, UpdateConversationRequest};

use super::Conversations;

impl Conversations {
    /// `PATCH /conversations/{id}`: renames the group and/or changes its settings (admins only).
    /// A name is normalised like one given at creation; settings are merged key by key over the
    /// current ones. At least one of the two must be given.
    pub(crate) async fn update_group(
        &self,
        me: &str,
        conversation_id: &str,
        req: UpdateConversationRequest,
    ) -> Result<Conversation> {
        validate::client_id("conversationId", conversation_id)?;
        if req.name.is_none() && req.settings.is_none() {
            return Err(Error::InvalidRequest("give name, settings or both".into()));
        }
        let name = req.name.as_deref().map(validate::group_name).transpose()?;
        if let Some(patch) = &req.settings {
            // Settings that could never parse are refused before the store is asked; whether they
            // change anything is decided there, against the stored settings.
            confab_core::rules::management::patch_settings(Default::default(), patch)?;
        }
        let update = GroupUpdate { name, settings: req.settings };
        if self.store.update_group(conversation_id, me, &update).await? {
            self.announce_change(conversation_id, me).await;
        }
        self.store.conversation(conversation_id, me).await
    }

    /// `PUT /conversations/{id}/members/{userId}/role`: makes a member admin or plain member
    /// (admins only; an admin may step down unless they are the last one).
    pub(crate) async fn set_role(
        &self,
        me: &str,
        conversation_id: &str,
        user: &str,
        role: Role,
    ) -> Result<Conversation> {
        validate::client_id("conversationId", conversation_id)?;
        validate::client_id("userId", user)?;
        if self.store.set_role(conversation_id, me, user, role).await? {
            self.announce_change(conversation_id, me).await;
        }
        self.store.conversation(conversation_id, me).await
    }
}
