//! Message search over the FTS5 index of migration 0009 (see `confab_core::rules::search` for the
//! query, the order and the cursor).

use confab_core::ids::now_millis;
use confab_core::rules::search::SearchKey;
use confab_core::store::{SearchHit, SearchRequest};
use confab_core::Result;
use rusqlite::{params, Connection};

use super::messages::{self, MESSAGE_COLUMNS};
use super::seq;
use crate::sqlite::error::SqlResult;

/// Relevance tiers per unit of BM25 score (FTS5's `bm25()` is negative: lower is better).
const TIER_STEPS: f64 = 2.0;

/// The one search statement: every condition a result must meet is here (a condition on
/// messages is one more line of its `WHERE`: an expired message is never found, swept or not).
fn sql() -> String {
    let columns: Vec<String> = MESSAGE_COLUMNS.split(", ").map(|c| format!("m.{}", c.trim())).collect();
    format!(
        "SELECT {columns}, h.tier FROM (
             SELECT d.conversation_id AS cid, d.sequence_number AS sn,
                    CAST(-bm25(message_search) * {TIER_STEPS:.1} AS INTEGER) AS tier
             FROM message_search JOIN message_docs d ON d.doc_id = message_search.rowid
             WHERE message_search MATCH ?1
         ) h
         JOIN members mb ON mb.conversation_id = h.cid AND mb.user_id = ?2
         JOIN messages m ON m.conversation_id = h.cid AND m.sequence_number = h.sn
         WHERE m.deleted_at IS NULL
           AND (m.expires_at IS NULL OR m.expires_at > ?12)
           AND (?3 IS NULL OR h.cid = ?3)
           AND (?4 IS NULL OR m.sender_id = ?4)
           AND (?5 IS NULL OR m.created_at < ?5)
           AND (?6 IS NULL OR m.created_at > ?6)
           AND (?7 IS NULL OR (h.tier, m.created_at, h.cid, h.sn) < (?7, ?8, ?9, ?10))
         ORDER BY h.tier DESC, m.created_at DESC, h.cid DESC, h.sn DESC
         LIMIT ?11",
        columns = columns.join(", ")
    )
}

/// The tier comes after the message's columns.
fn tier_column() -> usize {
    MESSAGE_COLUMNS.split(", ").count()
}

pub(crate) fn search(conn: &Connection, req: &SearchRequest) -> Result<Vec<SearchHit>> {
    let Some(fts) = req.query.fts5() else { return Ok(Vec::new()) };
    let key = req.after_key.as_ref();
    let mut stmt = conn.prepare_cached(&sql()).db()?;
    let rows = stmt
        .query_map(
            params![
                fts,
                req.user,
                req.conversation_id,
                req.sender_id,
                req.before,
                req.after,
                key.map(|k| k.tier),
                key.map(|k| k.created_at),
                key.map(|k| k.conversation_id.as_str()),
                key.map(|k| seq(k.sequence_number)),
                req.limit,
                now_millis(),
            ],
            |row| Ok((messages::raw_message(row)?, row.get::<_, i64>(tier_column())?)),
        )
        .db()?;
    let rows = rows.collect::<rusqlite::Result<Vec<_>>>().db()?;
    rows.into_iter()
        .map(|(raw, tier)| {
            let message = messages::decode(raw)?;
            let key = SearchKey {
                tier,
                created_at: message.timestamp,
                conversation_id: message.conversation_id.clone(),
                sequence_number: message.sequence_number,
            };
            Ok(SearchHit { message, key })
        })
        .collect()
}
