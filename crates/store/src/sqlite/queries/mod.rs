//! SQL of the embedded store, one module per entity. Every function takes a connection (the
//! writer's, inside its transaction, or a reader's, inside one snapshot) and reads or writes rows;
//! what the rows mean, and what may be written, is decided in [`confab_core::rules`].

pub(crate) mod api_keys;
pub(crate) mod attachments;
pub(crate) mod blocks;
pub(crate) mod conversations;
pub(crate) mod expiry;
pub(crate) mod invites;
pub(crate) mod management;
pub(crate) mod markers;
pub(crate) mod messages;
pub(crate) mod moderation;
pub(crate) mod presence;
pub(crate) mod push;
pub(crate) mod receipts;
pub(crate) mod search;
pub(crate) mod search_batch;
pub(crate) mod sessions;
pub(crate) mod settings;
pub(crate) mod updates;
pub(crate) mod users;
pub(crate) mod views;

/// A sequence number as a SQLite INTEGER (signed 64-bit); larger bounds are clamped.
fn seq(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
