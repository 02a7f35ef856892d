//! SQL of the PostgreSQL store, one module per entity. Functions take any client or transaction
//! and read or write rows; what the rows mean, and what may be written, is decided in
//! [`confab_core::rules`]. Sequence numbers are BIGINT in the database and `u64` on the wire.

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
pub(crate) mod sessions;
pub(crate) mod settings;
pub(crate) mod updates;
pub(crate) mod users;
pub(crate) mod views;

/// A stored sequence number (never negative) as `u64`.
fn u(v: i64) -> u64 {
    v.max(0) as u64
}

/// A sequence number as BIGINT; larger bounds are clamped.
fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Days of retention as INTEGER (at most `MAX_RETENTION_DAYS`, so it always fits).
fn retention(days: u32) -> i32 {
    i32::try_from(days).unwrap_or(i32::MAX)
}
