//! Confab storage adapters behind the [`confab_core::store::Store`] boundary.
//!
//! # Layout
//! - [`sqlite`]: the embedded default, one SQLite file in WAL mode with a single writer thread that
//!   group-commits batches of writes (one fsync for many messages) and a pool of readers.
//! - [`open`]: picks the adapter from the configured location.

#[cfg(test)]
pub(crate) mod conformance;
pub mod sqlite;

use std::path::Path;
use std::sync::Arc;

use confab_core::store::SharedStore;

pub use sqlite::SqliteStore;

/// Opens the store for a data directory (the embedded default).
pub fn open(data_dir: &Path) -> confab_core::Result<SharedStore> {
    Ok(Arc::new(SqliteStore::open(&data_dir.join("confab.db"))?))
}
