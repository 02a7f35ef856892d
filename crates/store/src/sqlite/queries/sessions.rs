//! Sessions: revoked tokens and per-user cutoffs.

use confab_core::store::{Revocations, SessionCutoff};
use confab_core::Result;
use rusqlite::{params, Connection, OptionalExtension};

use crate::sqlite::error::SqlResult;

pub(crate) fn revoke_session(conn: &Connection, user: &str, session_id: &str, expires_at: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO revoked_sessions (session_id, user_id, expires_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (session_id) DO NOTHING",
    )
    .and_then(|mut s| s.execute(params![session_id, user, expires_at]))
    .db()?;
    Ok(())
}

pub(crate) fn revoke_before(conn: &Connection, user: &str, before: i64, keep: Option<&str>) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO session_cutoffs (user_id, revoked_before, kept_session) VALUES (?1, ?2, ?3)
         ON CONFLICT (user_id) DO UPDATE SET revoked_before = excluded.revoked_before,
             kept_session = excluded.kept_session
         WHERE excluded.revoked_before >= session_cutoffs.revoked_before",
    )
    .and_then(|mut s| s.execute(params![user, before, keep]))
    .db()?;
    Ok(())
}

pub(crate) fn revocations(conn: &Connection, user: &str, now: i64) -> Result<Revocations> {
    let sessions = conn
        .prepare_cached("SELECT session_id FROM revoked_sessions WHERE user_id = ?1 AND expires_at > ?2")
        .and_then(|mut s| s.query_map(params![user, now], |r| r.get(0))?.collect::<rusqlite::Result<_>>())
        .db()?;
    let cutoff = conn
        .prepare_cached("SELECT revoked_before, kept_session FROM session_cutoffs WHERE user_id = ?1")
        .and_then(|mut s| {
            s.query_row([user], |r| Ok(SessionCutoff { before: r.get(0)?, kept_session: r.get(1)? }))
                .optional()
        })
        .db()?;
    Ok(Revocations { sessions, cutoff })
}

pub(crate) fn purge(conn: &Connection, now: i64) -> Result<u64> {
    let removed = conn
        .prepare_cached("DELETE FROM revoked_sessions WHERE expires_at <= ?1")
        .and_then(|mut s| s.execute([now]))
        .db()?;
    Ok(removed as u64)
}
