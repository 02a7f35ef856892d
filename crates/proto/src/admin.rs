//! Reports of messages (`POST /api/v1/reports`), and what server administrators read and send
//! under `/api/v1/admin`: users with their bans, reports, live sessions, stats.

use serde::{Deserialize, Serialize};

use crate::model::{Message, PresenceStatus, User};

/// `POST /api/v1/reports`. `messageId` names a message as the reporter sees it: among the
/// conversations they are in (only `conversationId` when given), another member's message with
/// that id, the newest when several share it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReportRequest {
    pub message_id: String,
    pub reason: String,
    /// Confab extension: the conversation the message is in, when the reporter knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub conversation_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum ReportStatus {
    Open,
    Resolved,
}

impl ReportStatus {
    /// The spelling on the wire and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportStatus::Open => "open",
            ReportStatus::Resolved => "resolved",
        }
    }
}

/// The reply to `POST /api/v1/reports`: what the reporter may know of their report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReportReceipt {
    pub report_id: String,
    pub conversation_id: String,
    pub message_id: String,
    pub status: ReportStatus,
    pub created_at: i64,
}

/// A report as administrators see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub report_id: String,
    pub reporter_id: String,
    pub conversation_id: String,
    pub message_id: String,
    /// Who wrote the reported message.
    pub sender_id: String,
    pub sequence_number: u64,
    pub reason: String,
    pub status: ReportStatus,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub resolved_at: Option<i64>,
    /// The administrator who resolved it (`null` when resolved from the command line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub resolved_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub resolution: Option<String>,
    /// The reported message in its current state (absent when it is no longer stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub message: Option<Message>,
}

/// `GET /api/v1/admin/reports`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReportsResponse {
    pub reports: Vec<Report>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

/// `POST /api/v1/admin/reports/{reportId}/resolve`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ResolveReportRequest {
    pub resolution: String,
}

/// `PUT /api/v1/admin/users/{userId}/ban`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct BanRequest {
    pub reason: String,
    /// When the ban ends by itself (ms since the epoch, in the future); absent: until unbanned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub until: Option<i64>,
}

/// A user's ban.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Ban {
    pub user_id: String,
    pub reason: String,
    /// When it ends by itself; `null`: until unbanned.
    pub until: Option<i64>,
    pub banned_at: i64,
    /// The administrator who banned (`null` when banned from the command line).
    pub banned_by: Option<String>,
}

/// What a banned user is told with `403 BANNED`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct BanNotice {
    pub reason: String,
    /// When the suspension ends; `null`: until lifted.
    pub until: Option<i64>,
}

/// A user as administrators see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct AdminUser {
    #[serde(flatten)]
    pub user: User,
    pub created_at: i64,
    /// Listed in `--admin-users`.
    pub admin: bool,
    /// The ban in force, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub ban: Option<Ban>,
}

/// `GET /api/v1/admin/users`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct AdminUsersResponse {
    pub users: Vec<AdminUser>,
    /// Pass as `cursor` for the next page (a username); `null` on the last one.
    pub next_cursor: Option<String>,
}

/// One live WebSocket connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct LiveConnection {
    pub connection_id: String,
    pub device_id: String,
    /// The token's session id (`jti`), absent for application tokens without one.
    pub session_id: Option<String>,
    pub connected_at: i64,
}

/// `GET /api/v1/admin/users/{userId}/sessions`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct UserSessionsResponse {
    pub user_id: String,
    /// Across the whole cluster.
    pub presence: PresenceStatus,
    /// The node that answered (nodes are told apart by a random id per process).
    pub node_id: String,
    /// The user's connections on that node.
    pub connections: Vec<LiveConnection>,
}

/// `GET /api/v1/admin/stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct AdminStats {
    pub users: u64,
    pub conversations: u64,
    /// Messages ever sent (the sum of every conversation's last sequence number).
    pub messages: u64,
    pub open_reports: u64,
    pub active_bans: u64,
    /// WebSocket connections open on the node that answered.
    pub live_connections: u64,
    pub node_id: String,
}
