//! [`Client`] methods for blocking users and managing groups.

use confab_proto::{
    BlockedUser, BlocksResponse, Conversation, GroupSettings, Role, SetRoleRequest, UpdateConversationRequest,
};
use reqwest::Method;

use crate::{Client, ClientError, Result};

impl Client {
    /// Blocks `user_id`: neither of the two can send into their direct conversation until this
    /// user unblocks, and `user_id` cannot open it. Blocking again changes nothing.
    pub async fn block_user(&self, user_id: &str) -> Result<()> {
        let path = format!("/api/v1/users/me/blocks/{user_id}");
        self.call::<(), serde_json::Value>(Method::PUT, &path, None).await.map(|_| ())
    }

    /// Lifts a block; unblocking someone not blocked changes nothing.
    pub async fn unblock_user(&self, user_id: &str) -> Result<()> {
        let path = format!("/api/v1/users/me/blocks/{user_id}");
        self.call::<(), serde_json::Value>(Method::DELETE, &path, None).await.map(|_| ())
    }

    /// The users this user blocks, most recent first.
    pub async fn blocks(&self) -> Result<Vec<BlockedUser>> {
        let r: BlocksResponse = self.get("/api/v1/users/me/blocks").await?;
        Ok(r.blocks)
    }

    /// `PATCH /api/v1/conversations/{id}` (admins): renames the group and/or sets its settings, every
    /// one of them as given (`None`: unchanged). To change one setting alone, see
    /// [`Client::update_conversation`]. Returns the group afterwards.
    pub async fn update_group(
        &self,
        id: &str,
        name: Option<&str>,
        settings: Option<GroupSettings>,
    ) -> Result<Conversation> {
        let settings = match settings.map(serde_json::to_value).transpose() {
            Ok(Some(serde_json::Value::Object(map))) => Some(map),
            Ok(_) => None,
            Err(e) => return Err(ClientError::Protocol(format!("settings encoding: {e}"))),
        };
        self.update_conversation(id, &UpdateConversationRequest { name: name.map(Into::into), settings })
            .await
    }

    /// `PATCH /api/v1/conversations/{id}` with a request as built by the caller (e.g. changing a
    /// single setting by key, leaving the others as they are).
    pub async fn update_conversation(
        &self,
        id: &str,
        body: &UpdateConversationRequest,
    ) -> Result<Conversation> {
        Ok(self.call(Method::PATCH, &format!("/api/v1/conversations/{id}"), Some(body)).await?.1)
    }

    /// Makes a member of a group admin or plain member (admins; the last admin cannot step down).
    /// Returns the group afterwards.
    pub async fn set_role(&self, id: &str, user_id: &str, role: Role) -> Result<Conversation> {
        let path = format!("/api/v1/conversations/{id}/members/{user_id}/role");
        Ok(self.call(Method::PUT, &path, Some(&SetRoleRequest { role })).await?.1)
    }
}
