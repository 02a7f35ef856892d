//! Cluster-wide settings: the first value stored for a key wins.

use confab_core::Result;
use rusqlite::Connection;

use crate::sqlite::error::SqlResult;

pub(crate) fn setting_or_init(conn: &Connection, key: &str, candidate: &str) -> Result<String> {
    conn.prepare_cached("INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT DO NOTHING")
        .and_then(|mut s| s.execute([key, candidate]))
        .db()?;
    conn.prepare_cached("SELECT value FROM settings WHERE key = ?1")
        .and_then(|mut s| s.query_row([key], |r| r.get(0)))
        .db()
}
