//! Receipts of one message: who received and who read it, and when each first did, read from the
//! recorded marker advances.

use confab_core::rows::{FirstMark, MarkerKind};
use confab_core::rules::receipts;
use confab_core::store::Receipts;
use confab_core::{Error, Result};
use rusqlite::{params, Connection};

use super::{conversations, messages};
use crate::sqlite::error::SqlResult;

pub(crate) fn receipts(conn: &Connection, id: &str, message_id: &str, viewer: &str) -> Result<Receipts> {
    let message = receipts::target(
        conversations::conversation(conn, id)?,
        conversations::member(conn, id, viewer)?,
        message_id,
        messages::with_id_in(conn, id, message_id, viewer)?,
    )?;
    // Each member's earliest advance of each marker at or beyond the message.
    let mut stmt = conn
        .prepare_cached(
            "SELECT user_id, kind, MIN(at) FROM receipt_marks
             WHERE conversation_id = ?1 AND kind IN ('delivered', 'read') AND up_to_sequence >= ?2
             GROUP BY user_id, kind",
        )
        .db()?;
    let rows = stmt
        .query_map(params![id, message.sequence_number], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
        })
        .db()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .db()?;
    let marks = rows
        .into_iter()
        .map(|(user_id, kind, at)| {
            let kind = MarkerKind::parse(&kind)
                .ok_or_else(|| Error::Internal(format!("unknown receipt kind `{kind}`")))?;
            Ok(FirstMark { user_id, kind, at })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(receipts::collect(&message, marks))
}
