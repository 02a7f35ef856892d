//! Confab storage adapters behind the [`confab_core::store::Store`] boundary.
//!
//! # Layout
//! - [`sqlite`]: the embedded default, one SQLite file in WAL mode with a single writer thread that
//!   group-commits batches of writes (one fsync for many messages) and a pool of readers.
//! - [`postgres`]: PostgreSQL for clusters; appends batched per node into one transaction.
//! - [`StoreLocation::resolve`]: picks the adapter from the configured URL (refusing unknown ones);
//!   [`open`] opens it.
//! - [`schema`]: schema versions: what a database has, what this build knows, explicit migration,
//!   and the refusal of a schema newer than the binary.

/// One numbered migration: its file name and its SQL, from the adapter's `migrations/` directory.
macro_rules! migration {
    ($file:literal) => {
        ($file, include_str!(concat!("migrations/", $file)))
    };
}

#[cfg(test)]
pub(crate) mod conformance;
pub mod postgres;
pub mod schema;
pub mod sqlite;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use confab_core::store::SharedStore;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Where the data lives: an embedded SQLite file, or a PostgreSQL database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// The embedded store: one SQLite file (`confab.db` in the data directory unless a `sqlite:`
    /// URL names another file).
    Embedded { file: PathBuf },
    /// A PostgreSQL database, Confab's tables in `schema` (created if missing) or the search path.
    Postgres { url: String, schema: Option<String> },
}

/// The database URL forms [`StoreLocation::resolve`] accepts, for error messages.
pub const ACCEPTED_DATABASE_URLS: &str =
    "postgres://…, postgresql://… or sqlite:PATH (no URL: the embedded store in the data directory)";

/// Why a database URL selects no store. Shows at most the URL's scheme, never its credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocationError {
    #[error("the database URL has no scheme; expected {ACCEPTED_DATABASE_URLS}")]
    NoScheme,
    #[error("unsupported database URL scheme `{scheme}`; expected {ACCEPTED_DATABASE_URLS}")]
    UnknownScheme { scheme: String },
    #[error("malformed PostgreSQL URL: {reason}")]
    MalformedPostgres { reason: String },
    #[error("`sqlite:` needs the database file's path, e.g. sqlite:/var/lib/confab/confab.db")]
    MissingSqlitePath,
}

impl StoreLocation {
    /// Picks the store from the configured URL: `postgres://` / `postgresql://` select PostgreSQL
    /// (`schema` applies to it only); `sqlite:PATH` (or `sqlite://PATH`) an embedded file at PATH;
    /// no URL (or an empty one) the embedded `confab.db` in `data_dir`. Any other URL is refused
    /// rather than guessed at, so a typo never starts an empty embedded store.
    pub fn resolve(
        database_url: Option<&str>,
        schema: Option<&str>,
        data_dir: &Path,
    ) -> Result<StoreLocation, LocationError> {
        let url = match database_url.map(str::trim) {
            None | Some("") => return Ok(StoreLocation::Embedded { file: data_dir.join("confab.db") }),
            Some(url) => url,
        };
        let (scheme, rest) = url_scheme(url).ok_or(LocationError::NoScheme)?;
        match scheme.as_str() {
            "postgres" | "postgresql" => {
                if !rest.starts_with("//") {
                    return Err(LocationError::MalformedPostgres {
                        reason: format!("expected {scheme}://[user[:password]@]host[:port]/database"),
                    });
                }
                // Schemes are case-insensitive; the driver knows them in lower case only.
                let url = format!("{scheme}:{rest}");
                url.parse::<tokio_postgres::Config>()
                    .map_err(|e| LocationError::MalformedPostgres { reason: e.to_string() })?;
                Ok(StoreLocation::Postgres { url, schema: schema.map(str::to_string) })
            }
            "sqlite" => {
                let path = rest.strip_prefix("//").unwrap_or(rest);
                if path.is_empty() {
                    return Err(LocationError::MissingSqlitePath);
                }
                Ok(StoreLocation::Embedded { file: PathBuf::from(path) })
            }
            _ => Err(LocationError::UnknownScheme { scheme: format!("{scheme}:") }),
        }
    }
}

impl std::fmt::Display for StoreLocation {
    /// Where the data lives, for people (startup output, logs): never the URL's credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Embedded { file } => write!(f, "embedded SQLite, {}", file.display()),
            StoreLocation::Postgres { url, schema } => {
                write!(f, "PostgreSQL")?;
                if let Ok(config) = url.parse::<tokio_postgres::Config>() {
                    let host = config.get_hosts().first().map(|h| match h {
                        tokio_postgres::config::Host::Tcp(name) => name.clone(),
                        #[cfg(unix)]
                        tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
                    });
                    if let Some(host) = host {
                        write!(f, " at {host}")?;
                        if let Some(port) = config.get_ports().first() {
                            write!(f, ":{port}")?;
                        }
                    }
                    if let Some(db) = config.get_dbname() {
                        write!(f, ", database {db}")?;
                    }
                }
                match schema {
                    Some(schema) => write!(f, ", schema {schema}"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// The URL's scheme (lowercased) and what follows its `:`, when it starts with one (RFC 3986:
/// a letter, then letters, digits, `+`, `-` or `.`).
fn url_scheme(url: &str) -> Option<(String, &str)> {
    let (scheme, rest) = url.split_once(':')?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then(|| (scheme.to_ascii_lowercase(), rest))
}

/// Opens the store at `location`, migrating its schema if needed (must run inside a tokio
/// runtime).
pub async fn open(location: &StoreLocation) -> confab_core::Result<SharedStore> {
    open_with(location, schema::Migrations::Apply).await
}

/// Opens the store at `location`; with [`schema::Migrations::RequireCurrent`] a database whose
/// schema is behind this build is refused instead of migrated. A schema ahead of this build is
/// always refused.
pub async fn open_with(
    location: &StoreLocation,
    migrations: schema::Migrations,
) -> confab_core::Result<SharedStore> {
    match location {
        StoreLocation::Embedded { file } => Ok(Arc::new(SqliteStore::open_with(file, migrations)?)),
        StoreLocation::Postgres { url, schema } => {
            Ok(Arc::new(PostgresStore::connect_with(url, schema.as_deref(), migrations).await?))
        }
    }
}

#[cfg(test)]
mod location_tests {
    use super::*;

    fn resolve(url: Option<&str>) -> Result<StoreLocation, LocationError> {
        StoreLocation::resolve(url, Some("tenant"), Path::new("/data"))
    }

    #[test]
    fn no_url_is_the_embedded_store_in_the_data_dir() {
        let embedded = StoreLocation::Embedded { file: PathBuf::from("/data/confab.db") };
        assert_eq!(resolve(None), Ok(embedded.clone()));
        assert_eq!(resolve(Some("  ")), Ok(embedded));
    }

    #[test]
    fn postgres_urls_select_postgres_with_the_schema() {
        for (url, selected) in [
            ("postgres://u:p@db:5432/confab", "postgres://u:p@db:5432/confab"),
            ("postgresql://db/confab", "postgresql://db/confab"),
            ("PostgreSQL://db/confab", "postgresql://db/confab"),
        ] {
            assert_eq!(
                resolve(Some(url)),
                Ok(StoreLocation::Postgres { url: selected.to_string(), schema: Some("tenant".into()) }),
                "{url}"
            );
        }
    }

    #[test]
    fn sqlite_urls_name_the_file() {
        assert_eq!(
            resolve(Some("sqlite:/var/lib/c.db")),
            Ok(StoreLocation::Embedded { file: PathBuf::from("/var/lib/c.db") })
        );
        assert_eq!(
            resolve(Some("sqlite://c.db")),
            Ok(StoreLocation::Embedded { file: PathBuf::from("c.db") })
        );
        assert_eq!(resolve(Some("sqlite:")), Err(LocationError::MissingSqlitePath));
    }

    #[test]
    fn unknown_schemes_are_refused_naming_the_accepted_ones() {
        let err = resolve(Some("postgress://u:secret@db/confab")).unwrap_err();
        assert_eq!(err, LocationError::UnknownScheme { scheme: "postgress:".into() });
        let message = err.to_string();
        for accepted in ["postgres://", "postgresql://", "sqlite:"] {
            assert!(message.contains(accepted), "{message}");
        }
        assert!(!message.contains("secret"), "{message}");
        assert!(matches!(resolve(Some("mysql://db/confab")), Err(LocationError::UnknownScheme { .. })));
        assert_eq!(resolve(Some("/var/lib/confab")), Err(LocationError::NoScheme));
        assert_eq!(resolve(Some("db.example.com")), Err(LocationError::NoScheme));
    }

    #[test]
    fn locations_are_described_without_credentials() {
        let pg = resolve(Some("postgres://admin:hunter2@db.internal:6432/chat")).unwrap();
        assert_eq!(pg.to_string(), "PostgreSQL at db.internal:6432, database chat, schema tenant");
        assert_eq!(resolve(None).unwrap().to_string(), "embedded SQLite, /data/confab.db");
    }

    #[test]
    fn malformed_postgres_urls_are_refused() {
        assert!(matches!(resolve(Some("postgres:db")), Err(LocationError::MalformedPostgres { .. })));
        assert!(matches!(
            resolve(Some("postgres://db:notaport/confab")),
            Err(LocationError::MalformedPostgres { .. })
        ));
    }
}
