//! The server API under `/api/v1/server`: what an application backend does with an API key
//! (`Authorization: Bearer cfk_…`), acting for its users or as the system account.

use serde::{Deserialize, Serialize};

use crate::model::{ConversationType, GroupSettings, Presence};

/// Body of `POST /server/conversations/{id}/messages`: a message published as the member
/// `senderId`, or, without one, as the system account (`senderId: "system"`), which may post in
/// any conversation without being a member.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PublishRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub sender_id: Option<String>,
    /// Makes retries idempotent, as for any sender; a new id when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub message_id: Option<String>,
    pub content: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub reply_to: Option<String>,
}

/// Body of `POST /server/conversations`: a direct conversation between `creatorId` and the one
/// user in `participantIds`, or a group `creatorId` creates (and administers) with them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ServerCreateConversationRequest {
    #[serde(rename = "type")]
    pub kind: ConversationType,
    pub creator_id: String,
    pub participant_ids: Vec<String>,
    /// Required for a group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub settings: Option<GroupSettings>,
}

/// Body of `POST /server/conversations/{id}/members`: users to add to a group, on behalf of
/// `actorId` (the group's rules apply to them), or of one of its admins when absent.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ServerAddMembersRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub actor_id: Option<String>,
    pub user_ids: Vec<String>,
}

/// Answer of `GET /server/presence?userIds=a,b`: each listed user that exists, in the order listed,
/// online or not across the cluster, with when they were last seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ServerPresenceResponse {
    pub presences: Vec<Presence>,
}
