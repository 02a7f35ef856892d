//! Confab storage adapters behind the [`confab_core::store::Store`] boundary.
//!
//! # Layout
//! - [`sqlite`]: the embedded default, one SQLite file in WAL mode with a single writer thread that
//!   group-commits batches of writes (one fsync for many messages) and a pool of readers.
//! - [`postgres`]: PostgreSQL for clusters; appends batched per node into one transaction.
//! - [`open`]: picks the adapter from the configured location.

#[cfg(test)]
pub(crate) mod conformance;
pub mod postgres;
pub mod sqlite;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use confab_core::store::SharedStore;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Where the data lives: the embedded file under a data directory, or a PostgreSQL database.
#[derive(Debug, Clone)]
pub enum StoreLocation {
    Embedded { data_dir: PathBuf },
    Postgres { url: String, schema: Option<String> },
}

impl StoreLocation {
    /// `postgres://` / `postgresql://` URLs select PostgreSQL; anything else is the embedded store.
    pub fn resolve(database_url: Option<&str>, schema: Option<&str>, data_dir: &Path) -> StoreLocation {
        match database_url {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                StoreLocation::Postgres { url: url.to_string(), schema: schema.map(str::to_string) }
            }
            _ => StoreLocation::Embedded { data_dir: data_dir.to_path_buf() },
        }
    }
}

/// Opens the store at `location` (must run inside a tokio runtime).
pub async fn open(location: &StoreLocation) -> confab_core::Result<SharedStore> {
    match location {
        StoreLocation::Embedded { data_dir } => Ok(Arc::new(SqliteStore::open(&data_dir.join("confab.db"))?)),
        StoreLocation::Postgres { url, schema } => {
            Ok(Arc::new(PostgresStore::connect(url, schema.as_deref()).await?))
        }
    }
}
