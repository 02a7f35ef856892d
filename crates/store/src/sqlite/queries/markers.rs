//! Delivered and read markers, and the receipts recorded from their advances.

use confab_core::rows::{MarkerKind, OtherMarkers};
use confab_core::rules::markers::{self, MarkerAdvance};
use confab_core::store::{MarkerMove, ReadMove};
use confab_core::Result;
use rusqlite::{params, Connection};

use super::conversations;
use crate::sqlite::error::SqlResult;

/// The lowest markers of everyone in `id` but `viewer`.
pub(crate) fn others(conn: &Connection, id: &str, viewer: &str) -> Result<OtherMarkers> {
    conn.prepare_cached(
        "SELECT MIN(last_delivered_sequence), MIN(last_read_sequence) FROM members
         WHERE conversation_id = ?1 AND user_id != ?2",
    )
    .and_then(|mut s| {
        s.query_row([id, viewer], |r| Ok(OtherMarkers { min_delivered: r.get(0)?, min_read: r.get(1)? }))
    })
    .db()
}

/// Writing a message means having received and read the conversation up to it. When that moves a
/// marker past other members' messages (the sender had not marked them), the advance is recorded
/// like any other, so receipts and statuses agree.
pub(crate) fn raise_own(conn: &Connection, id: &str, sender: &str, sequence: u64, now: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO receipt_marks (conversation_id, user_id, kind, up_to_sequence, at)
         SELECT ?2, ?3, k.kind, ?1, ?4
         FROM members m JOIN (SELECT 'delivered' AS kind UNION ALL SELECT 'read') k
         WHERE m.conversation_id = ?2 AND m.user_id = ?3
           AND CASE k.kind WHEN 'read' THEN m.last_read_sequence ELSE m.last_delivered_sequence END < ?1 - 1",
    )
    .and_then(|mut s| s.execute(params![sequence, id, sender, now]))
    .db()?;
    conn.prepare_cached(
        "UPDATE members SET last_read_sequence = MAX(last_read_sequence, ?1),
                            last_delivered_sequence = MAX(last_delivered_sequence, ?1)
         WHERE conversation_id = ?2 AND user_id = ?3",
    )
    .and_then(|mut s| s.execute(params![sequence, id, sender]))
    .db()
    .map(|_| ())
}

fn write(conn: &Connection, id: &str, user: &str, advance: &MarkerAdvance, at: i64) -> Result<()> {
    let update = match advance.kind {
        MarkerKind::Delivered => {
            "UPDATE members SET last_delivered_sequence = ?1 WHERE conversation_id = ?2 AND user_id = ?3"
        }
        MarkerKind::Read => {
            "UPDATE members SET last_read_sequence = ?1 WHERE conversation_id = ?2 AND user_id = ?3"
        }
    };
    conn.prepare_cached(update).and_then(|mut s| s.execute(params![advance.up_to, id, user])).db()?;
    conn.prepare_cached(
        "INSERT INTO receipt_marks (conversation_id, user_id, kind, up_to_sequence, at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| s.execute(params![id, user, advance.kind.as_str(), advance.up_to, at]))
    .db()
    .map(|_| ())
}

pub(crate) fn mark_delivered(
    conn: &Connection,
    id: &str,
    user: &str,
    up_to: u64,
    at: i64,
) -> Result<MarkerMove> {
    let (moved, advance) = markers::deliver(&conversations::membership(conn, id, user)?, up_to);
    if let Some(a) = &advance {
        write(conn, id, user, a, at)?;
    }
    Ok(moved)
}

pub(crate) fn mark_read(conn: &Connection, id: &str, user: &str, up_to: u64, at: i64) -> Result<ReadMove> {
    let (moved, advances) = markers::read(&conversations::membership(conn, id, user)?, up_to);
    for a in &advances {
        write(conn, id, user, a, at)?;
    }
    Ok(moved)
}
