//! Message search over the `tsvector` column of migration 0008: candidates newest first, by
//! `createdAt` (see `confab_core::rules::search` for windows, ranking and the cursor).

use confab_core::ids::now_millis;
use confab_core::rules::search::{Candidate, Pager, Window, WINDOW};
use confab_core::store::{SearchHit, SearchRequest};
use confab_core::Result;
use deadpool_postgres::GenericClient;

use super::messages;
use crate::postgres::error::PgResult;

/// One window of candidates: every condition a result must meet is here (a condition on messages
/// is one more line of its `WHERE`: an expired message is never found, swept or not).
const WINDOW_SQL: &str = "
    SELECT w.created_at, w.conversation_id, w.sequence_number, w.content::jsonb ->> 'text'
    FROM (
        SELECT m.created_at, m.conversation_id, m.sequence_number, m.content
        FROM messages m
        WHERE m.search @@ to_tsquery('confab_search', $1)
          AND m.conversation_id = ANY(ARRAY(SELECT conversation_id FROM members WHERE user_id = $2))
          AND ($3::BIGINT IS NULL OR m.created_at <= $3)
          AND ($4::BIGINT IS NULL OR m.created_at >= $4)
          AND m.deleted_at IS NULL
          AND (m.expires_at IS NULL OR m.expires_at > $5)
          AND ($6::TEXT IS NULL OR m.conversation_id = $6)
          AND ($7::TEXT IS NULL OR m.sender_id = $7)
          AND ($8::BIGINT IS NULL OR m.created_at < $8)
          AND ($9::BIGINT IS NULL OR m.created_at > $9)
        ORDER BY m.created_at DESC
        LIMIT $10
    ) w
    -- The text is parsed out of the window only, not out of every match the sort looked at.
    ORDER BY w.created_at DESC";

async fn candidates<C: GenericClient>(
    c: &C,
    req: &SearchRequest,
    tsquery: &str,
    top: Option<i64>,
    floor: Option<i64>,
    limit: Option<i64>,
) -> Result<Vec<Candidate>> {
    let rows = c
        .query(
            WINDOW_SQL,
            &[
                &tsquery,
                &req.user,
                &top,
                &floor,
                &now_millis(),
                &req.conversation_id,
                &req.sender_id,
                &req.before,
                &req.after,
                &limit,
            ],
        )
        .await
        .db()?;
    Ok(rows
        .iter()
        .map(|r| Candidate {
            position: r.get(0),
            created_at: r.get(0),
            conversation_id: r.get(1),
            sequence_number: r.get::<_, i64>(2).max(0) as u64,
            text: r.get::<_, Option<String>>(3).unwrap_or_default(),
        })
        .collect())
}

/// The window at `top`: positions are `createdAt`, which several messages may share, so a
/// window ends between two instants, never inside one.
async fn window<C: GenericClient>(
    c: &C,
    req: &SearchRequest,
    tsquery: &str,
    top: Option<i64>,
) -> Result<Window> {
    let mut found = candidates(c, req, tsquery, top, None, Some(WINDOW as i64)).await?;
    let window_top = top.or(found.first().map(|f| f.position)).unwrap_or(i64::MIN);
    if found.len() < WINDOW {
        return Ok(Window { top: window_top, candidates: found, older: None });
    }
    let oldest = found.last().map_or(i64::MIN, |f| f.position);
    if found.first().is_some_and(|f| f.position > oldest) {
        // The oldest instant may go on past the limit: it starts the next window instead.
        found.retain(|f| f.position > oldest);
        Ok(Window { top: window_top, candidates: found, older: Some(oldest) })
    } else {
        // A whole window in one millisecond: take all of that instant.
        let found = candidates(c, req, tsquery, Some(oldest), Some(oldest), None).await?;
        Ok(Window { top: window_top, candidates: found, older: Some(oldest - 1) })
    }
}

pub(crate) async fn search<C: GenericClient>(c: &C, req: &SearchRequest) -> Result<Vec<SearchHit>> {
    let Some(tsquery) = req.query.tsquery() else { return Ok(Vec::new()) };
    let mut pager = Pager::new(&req.query, req.after_key.as_ref(), req.limit as usize);
    while let Some(top) = pager.wants() {
        pager.feed(window(c, req, &tsquery, top).await?);
    }
    let mut hits = Vec::new();
    for key in pager.finish() {
        if let Some(message) = messages::at(c, &key.conversation_id, key.sequence_number).await? {
            hits.push(SearchHit { message, key });
        }
    }
    Ok(hits)
}
