//! Schema versions. Each adapter numbers its migrations (`migrations/NNNN_*.sql`); a database's
//! version is how many have run. Opening a store migrates it (or, with
//! [`Migrations::RequireCurrent`], refuses one that is behind), and a database whose version is
//! ahead of the binary (written by a newer Confab) is always refused: an older binary would
//! misread it. `confab migrate` reads [`status`] and applies what is pending explicitly.

use confab_core::{Error, Result};

use crate::StoreLocation;

/// Whether opening a store may change its schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Migrations {
    /// Apply pending migrations (the default for `confab serve`).
    Apply,
    /// Refuse a database with pending migrations (`confab serve --no-migrate`).
    RequireCurrent,
}

/// Where a database's schema stands against this build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    /// Migrations the database has run (0 for a new, empty database).
    pub version: usize,
    /// Migrations this build has.
    pub known: usize,
    /// File names of the migrations this build would apply, in order.
    pub pending: Vec<&'static str>,
}

impl SchemaStatus {
    pub(crate) fn of(version: usize, all: &[(&'static str, &'static str)]) -> SchemaStatus {
        SchemaStatus {
            version,
            known: all.len(),
            pending: all.iter().skip(version).map(|(name, _)| *name).collect(),
        }
    }
}

/// Refuses a schema `version` this build cannot read (newer than its `known` migrations), or one
/// with migrations pending when they may not be applied.
pub(crate) fn check(version: usize, known: usize, migrations: Migrations) -> Result<()> {
    if version > known {
        return Err(Error::Internal(format!(
            "the database schema is at version {version}, newer than this build of confab knows \
             ({known}): a newer confab has run on it; run that version (or newer) instead"
        )));
    }
    if version < known && migrations == Migrations::RequireCurrent {
        return Err(Error::Internal(format!(
            "the database schema is at version {version} and this build needs {known}: run \
             `confab migrate` first (or start without --no-migrate)"
        )));
    }
    Ok(())
}

/// Refuses a database this build cannot read: one a newer Confab has migrated.
pub fn check_readable(status: &SchemaStatus) -> Result<()> {
    check(status.version, status.known, Migrations::Apply)
}

/// The schema status of the database at `location`, changing nothing (a missing embedded file
/// is a new database at version 0).
pub async fn status(location: &StoreLocation) -> Result<SchemaStatus> {
    match location {
        StoreLocation::Embedded { file } => crate::sqlite::schema_status(file),
        StoreLocation::Postgres { url, schema } => {
            crate::postgres::schema_status(url, schema.as_deref()).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_schemas_are_refused_and_older_ones_only_when_migrating_is_not_allowed() {
        assert!(check(3, 3, Migrations::RequireCurrent).is_ok());
        assert!(check(2, 3, Migrations::Apply).is_ok());
        let behind = check(2, 3, Migrations::RequireCurrent).unwrap_err().to_string();
        assert!(behind.contains("confab migrate"), "{behind}");
        for mode in [Migrations::Apply, Migrations::RequireCurrent] {
            let ahead = check(4, 3, mode).unwrap_err().to_string();
            assert!(ahead.contains("newer than this build"), "{ahead}");
        }
    }

    #[test]
    fn pending_migrations_are_listed_by_name() {
        let all = [("0001_a.sql", ""), ("0002_b.sql", ""), ("0003_c.sql", "")];
        assert_eq!(SchemaStatus::of(1, &all).pending, ["0002_b.sql", "0003_c.sql"]);
        assert!(SchemaStatus::of(3, &all).pending.is_empty());
    }
}
