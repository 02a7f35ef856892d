//! What the fuzz targets check besides "does not panic": properties of the rules the server
//! applies to untrusted input, stated independently of how the rules are written.
//!
//! # Layout
//! - [`names`]: display and group names after normalisation.
//! - [`bodies`]: the validation every request body gets before a service acts on it.

pub mod bodies;
pub mod names;

/// The server's defaults the rules are applied with (`--max-text-bytes`, `--max-sync-conversations`).
pub const MAX_TEXT_BYTES: usize = 16 * 1024;
pub const MAX_SYNC_CONVERSATIONS: usize = 1000;
