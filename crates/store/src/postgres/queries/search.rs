//! Message search over the `tsvector` column of migration 0008 (see `confab_core::rules::search`
//! for the query, the order and the cursor).

use confab_core::ids::now_millis;
use confab_core::rules::search::SearchKey;
use confab_core::store::{SearchHit, SearchRequest};
use confab_core::Result;
use deadpool_postgres::GenericClient;

use super::i;
use super::messages::{message_from, MESSAGE_COLUMNS};
use crate::postgres::error::PgResult;

/// Relevance tiers per unit of `ts_rank` (length-normalized: rank / (1 + log(words))).
const TIER_STEPS: f64 = 50.0;

/// The one search statement: every condition a result must meet is here (a condition on
/// messages is one more line of its `WHERE`: an expired message is never found, swept or not).
fn sql() -> String {
    let columns: Vec<String> = MESSAGE_COLUMNS.split(", ").map(|c| format!("m.{}", c.trim())).collect();
    format!(
        "SELECT {columns}, t.tier
         FROM messages m
         JOIN members mb ON mb.conversation_id = m.conversation_id AND mb.user_id = $2
         CROSS JOIN LATERAL (
             SELECT floor(ts_rank(m.search, to_tsquery('confab_search', $1), 1) * {TIER_STEPS:.1})::BIGINT AS tier
         ) t
         WHERE m.search @@ to_tsquery('confab_search', $1)
           AND m.deleted_at IS NULL
           AND (m.expires_at IS NULL OR m.expires_at > $12)
           AND ($3::TEXT IS NULL OR m.conversation_id = $3)
           AND ($4::TEXT IS NULL OR m.sender_id = $4)
           AND ($5::BIGINT IS NULL OR m.created_at < $5)
           AND ($6::BIGINT IS NULL OR m.created_at > $6)
           AND ($7::BIGINT IS NULL OR (t.tier, m.created_at, m.conversation_id, m.sequence_number) < ($7, $8, $9, $10))
         ORDER BY t.tier DESC, m.created_at DESC, m.conversation_id DESC, m.sequence_number DESC
         LIMIT $11",
        columns = columns.join(", ")
    )
}

pub(crate) async fn search<C: GenericClient>(c: &C, req: &SearchRequest) -> Result<Vec<SearchHit>> {
    let Some(tsquery) = req.query.tsquery() else { return Ok(Vec::new()) };
    let key = req.after_key.as_ref();
    let rows = c
        .query(
            sql().as_str(),
            &[
                &tsquery,
                &req.user,
                &req.conversation_id,
                &req.sender_id,
                &req.before,
                &req.after,
                &key.map(|k| k.tier),
                &key.map(|k| k.created_at),
                &key.map(|k| k.conversation_id.as_str()),
                &key.map(|k| i(k.sequence_number)),
                &i64::from(req.limit),
                &now_millis(),
            ],
        )
        .await
        .db()?;
    rows.iter()
        .map(|row| {
            let message = message_from(row)?;
            let key = SearchKey {
                // The tier comes after the message's columns.
                tier: row.get(MESSAGE_COLUMNS.split(", ").count()),
                created_at: message.timestamp,
                conversation_id: message.conversation_id.clone(),
                sequence_number: message.sequence_number,
            };
            Ok(SearchHit { message, key })
        })
        .collect()
}
