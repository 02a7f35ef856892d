//! The server API (`/api/v1/server`), for application backends, as more methods of [`Client`]:
//! make the client with the API key as its token (`Client::new(url).with_token("cfk_…")`).

use confab_proto::{
    Conversation, MessageAck, PublishRequest, ServerAddMembersRequest, ServerCreateConversationRequest,
    ServerPresenceResponse,
};
use reqwest::{Method, StatusCode};

use crate::admin::{encode, query};
use crate::{Client, Result};

impl Client {
    /// Publishes a message as `req.sender_id` (a member) or as the system account; `true` when
    /// it is new, `false` for a retry of a stored `messageId`.
    pub async fn server_publish(
        &self,
        conversation_id: &str,
        req: &PublishRequest,
    ) -> Result<(bool, MessageAck)> {
        let path = format!("/api/v1/server/conversations/{}/messages", encode(conversation_id));
        let (status, ack) = self.post(&path, req).await?;
        Ok((status == StatusCode::CREATED, ack))
    }

    /// Creates a direct conversation or a group for `req.creator_id`; `true` when it is new.
    pub async fn server_create_conversation(
        &self,
        req: &ServerCreateConversationRequest,
    ) -> Result<(bool, Conversation)> {
        let (status, conversation) = self.post("/api/v1/server/conversations", req).await?;
        Ok((status == StatusCode::CREATED, conversation))
    }

    /// Adds members to a group, on behalf of `req.actor_id` or of one of its admins.
    pub async fn server_add_members(
        &self,
        conversation_id: &str,
        req: &ServerAddMembersRequest,
    ) -> Result<Conversation> {
        let path = format!("/api/v1/server/conversations/{}/members", encode(conversation_id));
        Ok(self.post(&path, req).await?.1)
    }

    /// Removes a member from a group, on behalf of `actor_id` or of one of its admins.
    pub async fn server_remove_member(
        &self,
        conversation_id: &str,
        user_id: &str,
        actor_id: Option<&str>,
    ) -> Result<()> {
        let path = format!(
            "/api/v1/server/conversations/{}/members/{}{}",
            encode(conversation_id),
            encode(user_id),
            query(&[("actorId", actor_id.map(str::to_string))])
        );
        self.call::<(), serde_json::Value>(Method::DELETE, &path, None).await.map(|_| ())
    }

    /// Signs a user out everywhere: every token of theirs is revoked and their sockets close.
    pub async fn server_disconnect(&self, user_id: &str) -> Result<()> {
        let path = format!("/api/v1/server/users/{}/disconnect", encode(user_id));
        self.call::<(), serde_json::Value>(Method::POST, &path, None).await.map(|_| ())
    }

    /// Presence of up to 100 users across the cluster (unknown ids are left out).
    pub async fn server_presence(&self, user_ids: &[&str]) -> Result<ServerPresenceResponse> {
        let path = format!("/api/v1/server/presence{}", query(&[("userIds", Some(user_ids.join(",")))]));
        self.get(&path).await
    }
}
