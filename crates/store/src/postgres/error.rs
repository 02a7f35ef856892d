//! Maps PostgreSQL failures to domain errors: a database that is down, restarting or out of
//! resources is `Unavailable` (nothing was written); anything else is `Internal`.

use confab_core::Error;

pub(crate) fn map(err: tokio_postgres::Error) -> Error {
    match err.code() {
        // No SQLSTATE: the connection failed or closed.
        None => Error::Unavailable(format!("database: {err}")),
        Some(state) => {
            let code = state.code();
            // 08: connection exception, 53: insufficient resources, 57: operator intervention
            // (shutdown, cannot connect now), 40001/40P01: serialization failure / deadlock.
            if code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57")
                || code == "40001"
                || code == "40P01"
            {
                // The state leads the text, so a caller can tell a cancelled statement apart.
                Error::Unavailable(format!("database ({code}): {err}"))
            } else {
                Error::Internal(format!("database: {err}"))
            }
        }
    }
}

/// Whether an `Unavailable` error's text is [`map`]'s for a cancelled statement (`57014`: a
/// `statement_timeout` that ran out, or a cancel request).
pub(crate) fn is_cancelled(message: &str) -> bool {
    message.starts_with("database (57014)")
}

pub(crate) fn pool(err: deadpool_postgres::PoolError) -> Error {
    Error::Unavailable(format!("database: {err}"))
}

/// `?` on tokio-postgres calls inside store code.
pub(crate) trait PgResult<T> {
    fn db(self) -> Result<T, Error>;
}

impl<T> PgResult<T> for Result<T, tokio_postgres::Error> {
    fn db(self) -> Result<T, Error> {
        self.map_err(map)
    }
}
