//! REST bodies of blocking: `GET /api/v1/users/me/blocks` (the `PUT` and `DELETE` of one block
//! carry no body and answer `204`).

use serde::{Deserialize, Serialize};

use crate::model::User;

/// One user the caller blocks, and since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct BlockedUser {
    pub user: User,
    /// When the block was made (ms since the epoch); blocking again does not move it.
    pub blocked_at: i64,
}

/// `GET /api/v1/users/me/blocks`: most recent block first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BlocksResponse {
    pub blocks: Vec<BlockedUser>,
}
