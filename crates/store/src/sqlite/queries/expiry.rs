//! The sweeper's writes: disappearing messages erased into tombstones, and messages past their
//! retention removed. Each call is one batch on the single writer, so an append waits for one
//! batch at most.

use confab_core::rules::expiry;
use confab_core::Result;
use confab_proto::Message;
use rusqlite::{params, Connection};

use super::messages::{self, MESSAGE_COLUMNS};
use super::seq;
use crate::sqlite::error::SqlResult;

/// The content every tombstone holds.
const TOMBSTONE: &str = r#"{"type":"deleted"}"#;

/// Erases up to `limit` messages due at `now` (see `ExpiryStore::expire_messages`), fewer when
/// `others_waiting` says another write is queued behind this one: that write then waits for one
/// message's erasure, not the batch's (the sweeper comes back for the rest).
pub(crate) fn expire(
    conn: &Connection,
    now: i64,
    limit: u32,
    others_waiting: &dyn Fn() -> bool,
) -> Result<Vec<Message>> {
    let due: Vec<(String, i64)> = {
        let mut stmt = conn
            .prepare_cached(
                "SELECT conversation_id, sequence_number FROM messages
                 WHERE expires_at IS NOT NULL AND deleted_at IS NULL AND expires_at <= ?1
                 ORDER BY expires_at LIMIT ?2",
            )
            .db()?;
        let rows = stmt.query_map(params![now, limit], |r| Ok((r.get(0)?, r.get(1)?))).db()?;
        rows.collect::<rusqlite::Result<_>>().db()?
    };
    let mut erased = Vec::with_capacity(due.len());
    for (id, sequence) in &due {
        if !erased.is_empty() && others_waiting() {
            break;
        }
        let update_sequence: i64 = conn
            .prepare_cached(
                "UPDATE conversations SET last_update_sequence = last_update_sequence + 1
                 WHERE conversation_id = ?1 RETURNING last_update_sequence",
            )
            .and_then(|mut s| s.query_row([id], |r| r.get(0)))
            .db()?;
        let raw = conn
            .prepare_cached(&format!(
                "UPDATE messages SET content = ?3, reply_to = NULL, reply_to_sequence = NULL, edited_at = NULL,
                        reactions = NULL, deleted_at = expires_at, update_sequence = ?4
                 WHERE conversation_id = ?1 AND sequence_number = ?2 RETURNING {MESSAGE_COLUMNS}"
            ))
            .and_then(|mut s| s.query_row(params![id, sequence, TOMBSTONE, update_sequence], messages::raw_message))
            .db()?;
        erased.push(messages::decode(raw)?);
        conn.prepare_cached("DELETE FROM reactions WHERE conversation_id = ?1 AND sequence_number = ?2")
            .and_then(|mut s| s.execute(params![id, sequence]))
            .db()?;
    }
    Ok(erased)
}

/// Removes up to `limit` messages past their conversation's retention at `now` (see
/// `ExpiryStore::apply_retention`).
pub(crate) fn apply_retention(conn: &Connection, now: i64, server_days: u32, limit: u32) -> Result<u64> {
    let conversations: Vec<(String, u32, i64)> = {
        let mut stmt = conn
            .prepare_cached(
                // Only conversations whose oldest stored message is past the retention (the
                // message at purged_up_to + 1 always exists: sequences are gapless); the
                // shorter-retention-wins rule is `expiry::effective_days`, checked again below.
                "SELECT c.conversation_id, c.retention_days, c.purged_up_to FROM conversations c
                 WHERE (?2 > 0 OR c.retention_days > 0) AND c.last_sequence > c.purged_up_to
                   AND (SELECT m.created_at FROM messages m
                        WHERE m.conversation_id = c.conversation_id AND m.sequence_number = c.purged_up_to + 1)
                       < ?1 - 86400000 * (CASE WHEN ?2 = 0 THEN c.retention_days
                                               WHEN c.retention_days = 0 THEN ?2
                                               ELSE MIN(?2, c.retention_days) END)
                 LIMIT ?3",
            )
            .db()?;
        let rows = stmt
            .query_map(params![now, server_days, limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .db()?;
        rows.collect::<rusqlite::Result<_>>().db()?
    };
    let mut removed = 0u64;
    for (id, group_days, purged) in conversations {
        let budget = u64::from(limit).saturating_sub(removed);
        if budget == 0 {
            break;
        }
        let Some(cutoff) = expiry::retention_cutoff(now, expiry::effective_days(server_days, group_days))
        else {
            continue;
        };
        let oldest: Vec<(u64, i64)> = {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT sequence_number, created_at FROM messages
                     WHERE conversation_id = ?1 AND sequence_number > ?2 ORDER BY sequence_number LIMIT ?3",
                )
                .db()?;
            let rows =
                stmt.query_map(params![id, purged, seq(budget)], |r| Ok((r.get(0)?, r.get(1)?))).db()?;
            rows.collect::<rusqlite::Result<_>>().db()?
        };
        let Some(bound) = expiry::purge_bound(&oldest, cutoff) else { continue };
        let gone = conn
            .prepare_cached("DELETE FROM messages WHERE conversation_id = ?1 AND sequence_number <= ?2")
            .and_then(|mut s| s.execute(params![id, seq(bound)]))
            .db()?;
        conn.prepare_cached("DELETE FROM reactions WHERE conversation_id = ?1 AND sequence_number <= ?2")
            .and_then(|mut s| s.execute(params![id, seq(bound)]))
            .db()?;
        conn.prepare_cached(
            "UPDATE conversations SET purged_up_to = MAX(purged_up_to, ?2) WHERE conversation_id = ?1",
        )
        .and_then(|mut s| s.execute(params![id, seq(bound)]))
        .db()?;
        removed += gone as u64;
    }
    Ok(removed)
}
