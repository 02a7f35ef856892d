//! Maps SQLite failures to domain errors: what means "the disk or database is not usable now"
//! becomes `Unavailable`, anything else `Internal`.

use confab_core::Error;
use rusqlite::ErrorCode as Code;

pub(crate) fn map(err: rusqlite::Error) -> Error {
    match &err {
        rusqlite::Error::SqliteFailure(e, _) => match e.code {
            Code::DatabaseBusy
            | Code::DatabaseLocked
            | Code::SystemIoFailure
            | Code::DiskFull
            | Code::CannotOpen
            | Code::ReadOnly
            | Code::OutOfMemory => Error::Unavailable(format!("storage: {err}")),
            // Only a search's time limit interrupts a statement (`SqliteStore::search_snapshot`).
            Code::OperationInterrupted => Error::Unavailable(format!("{INTERRUPTED}: {err}")),
            _ => Error::Internal(format!("storage: {err}")),
        },
        _ => Error::Internal(format!("storage: {err}")),
    }
}

/// How [`map`]'s text for an interrupted statement begins.
pub(crate) const INTERRUPTED: &str = "storage (interrupted)";

/// `?` on rusqlite calls inside store code.
pub(crate) trait SqlResult<T> {
    fn db(self) -> Result<T, Error>;
}

impl<T> SqlResult<T> for Result<T, rusqlite::Error> {
    fn db(self) -> Result<T, Error> {
        self.map_err(map)
    }
}
