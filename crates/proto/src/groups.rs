//! REST bodies of group management: renaming a group, changing its settings, and members' roles.

use serde::{Deserialize, Serialize};

use crate::model::Role;

/// `PATCH /api/v1/conversations/{id}`: what is absent (or `null`) is unchanged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct UpdateConversationRequest {
    /// Normalised and checked like a group name at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub name: Option<String>,
    /// Settings to change, by key, merged over the current ones: keys absent keep their value, keys
    /// the server does not know are ignored (as at creation). Kept as raw JSON so that every key of
    /// [`GroupSettings`](crate::GroupSettings), including ones added later, can be changed here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional, type = "Partial<GroupSettings>"))]
    pub settings: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `PUT /api/v1/conversations/{id}/members/{userId}/role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SetRoleRequest {
    pub role: Role,
}
