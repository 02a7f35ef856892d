//! Request and response bodies of the REST API (`/api/v1`).

use serde::{Deserialize, Serialize};

use crate::model::{Conversation, ConversationType, GroupSettings, Message, User};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest {
    pub username: String,
    pub password: String,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub display_name: Option<String>,
    /// Required when the server registers by invite only (see [`RegistrationInfo`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub invite_code: Option<String>,
}

/// Who may register on this server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum RegistrationMode {
    /// Anyone.
    #[default]
    Open,
    /// No one: accounts come from application tokens or the operator.
    Closed,
    /// Whoever has an invite code (`confab admin invite create`).
    Invite,
}

/// `GET /api/v1/auth/registration`: what a sign-up form needs to know before it asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct RegistrationInfo {
    pub mode: RegistrationMode,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// `PUT /api/v1/users/me/password`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ChangePasswordRequest {
    pub old_password: String,
    pub new_password: String,
}

/// `PATCH /api/v1/users/me`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct UpdateProfileRequest {
    /// Normalized like a registration's; empty means the username. Absent: unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub display_name: Option<String>,
    /// Whether others may see when this user was last seen (and, reciprocally, whether this user
    /// sees theirs). Absent: unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub show_last_seen: Option<bool>,
}

/// The caller as `GET` and `PATCH /api/v1/users/me` return it: the user as others see it plus the
/// caller's own settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    #[serde(flatten)]
    pub user: User,
    /// Whether others see this user's `lastSeen` (default true).
    pub show_last_seen: bool,
    /// Whether this user is a server administrator (`--admin-users`).
    #[serde(default)]
    pub admin: bool,
}

/// The reply to register and login.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuthResponse {
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    pub token: String,
    pub expires_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct UsersResponse {
    pub users: Vec<User>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct CreateConversationRequest {
    #[serde(rename = "type")]
    pub kind: ConversationType,
    pub participant_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct CreateGroupRequest {
    pub name: String,
    pub participant_ids: Vec<String>,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub settings: Option<GroupSettings>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct AddMembersRequest {
    pub user_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ConversationsResponse {
    pub conversations: Vec<Conversation>,
}

/// Body of `POST /conversations/{id}/messages`. `content` stays raw JSON here so the server can tell
/// malformed requests (`INVALID_REQUEST`) from invalid content (`INVALID_MESSAGE`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SendMessageRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    pub content: serde_json::Value,
    /// The `messageId` of a message of the same conversation this one replies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// A disappearing message: it expires this many seconds after it is stored (1 s to 1 year).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_seconds: Option<u64>,
}

/// Body of `PATCH /conversations/{id}/messages/{messageId}`: the new content (the new text of a
/// text message, or the same attachment with a new caption).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct EditMessageRequest {
    pub content: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct HistoryResponse {
    pub messages: Vec<Message>,
    pub has_more: bool,
    pub next_cursor: Option<u64>,
}

/// One message found by `GET /api/v1/search/messages`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SearchResult {
    pub message: Message,
    /// The text around the hits, HTML-escaped, each hit in `<mark>…</mark>`.
    pub snippet: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SearchResponse {
    /// Best first, newer first among equals.
    pub results: Vec<SearchResult>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReadRequest {
    pub up_to_sequence: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReadResponse {
    pub last_read_sequence: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MessageReadResponse {
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SyncCursor {
    pub conversation_id: String,
    pub last_sequence: u64,
    /// The last update sequence the client has applied: the result then carries `updates`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_sequence: Option<u64>,
}

impl SyncCursor {
    /// A cursor for the messages after `last_sequence` only (no `updates`).
    pub fn new(conversation_id: impl Into<String>, last_sequence: u64) -> SyncCursor {
        SyncCursor { conversation_id: conversation_id.into(), last_sequence, last_update_sequence: None }
    }

    /// A cursor asking also for the changes after `last_update_sequence`.
    pub fn with_updates(
        conversation_id: impl Into<String>,
        last_sequence: u64,
        last_update_sequence: u64,
    ) -> SyncCursor {
        SyncCursor {
            conversation_id: conversation_id.into(),
            last_sequence,
            last_update_sequence: Some(last_update_sequence),
        }
    }
}

/// Body of `POST /sync` and payload of the `sync` frame.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SyncRequest {
    #[serde(default)]
    pub conversations: Vec<SyncCursor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SyncConversation {
    pub conversation_id: String,
    pub messages: Vec<Message>,
    pub has_more: bool,
    /// The conversation's current last sequence number.
    pub last_sequence: u64,
    pub unread_count: u64,
    /// When the cursor carried `lastUpdateSequence`: the messages up to its `lastSequence`
    /// changed since, in their current state, ascending by `updateSequence`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updates: Option<Vec<Message>>,
    /// The update sequence to sync from next time: the conversation's current one, or, when
    /// `updates` was cut short (`hasMore`), the `updateSequence` of the last update returned.
    #[serde(default)]
    pub last_update_sequence: u64,
    /// The oldest sequence number still stored.
    #[serde(default)]
    pub first_sequence: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SyncResponse {
    pub conversations: Vec<SyncConversation>,
    pub new_conversations: Vec<Conversation>,
    pub server_time: i64,
}

/// One member's receipt of one message: when they first received or read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReceiptEntry {
    pub user_id: String,
    pub timestamp: i64,
}

/// `GET /conversations/{id}/messages/{messageId}/receipts` (Confab extension: "message info").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReceiptsResponse {
    pub delivered_to: Vec<ReceiptEntry>,
    pub read_by: Vec<ReceiptEntry>,
}
