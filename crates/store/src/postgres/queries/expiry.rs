//! The sweeper's writes: disappearing messages erased into tombstones, and messages past their
//! retention removed.
//!
//! Locks follow the order of every other change (see `updates`): message rows first, the
//! conversation row second. An expiry batch locks its messages with `SKIP LOCKED` (so nodes
//! sweeping at once take disjoint batches, and a message being changed is left for the next
//! round) and then takes update sequences conversation by conversation in a fixed order, so two
//! batches never wait on each other in a cycle. Retention deletes a conversation's messages
//! before moving its `purged_up_to`, one conversation per transaction.

use confab_core::rules::expiry;
use confab_core::Result;
use confab_proto::Message;
use deadpool_postgres::GenericClient;

use super::messages::{self, MESSAGE_COLUMNS};
use super::{i, u};
use crate::postgres::error::PgResult;

/// The content every tombstone holds.
const TOMBSTONE: &str = r#"{"type":"deleted"}"#;

/// Erases up to `limit` messages due at `now` (see `ExpiryStore::expire_messages`).
pub(crate) async fn expire<C: GenericClient>(c: &C, now: i64, limit: u32) -> Result<Vec<Message>> {
    let due = c
        .query(
            "SELECT conversation_id, sequence_number FROM messages
             WHERE expires_at IS NOT NULL AND deleted_at IS NULL AND expires_at <= $1
             ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED",
            &[&now, &i64::from(limit)],
        )
        .await
        .db()?;
    let mut due: Vec<(String, i64)> = due.iter().map(|r| (r.get(0), r.get(1))).collect();
    due.sort();
    let mut erased = Vec::with_capacity(due.len());
    for (id, sequence) in &due {
        let row = c
            .query_one(
                "UPDATE conversations SET last_update_sequence = last_update_sequence + 1
                 WHERE conversation_id = $1 RETURNING last_update_sequence",
                &[id],
            )
            .await
            .db()?;
        let update_sequence: i64 = row.get(0);
        let row = c
            .query_one(
                &format!(
                    "UPDATE messages SET content = $3, reply_to = NULL, reply_to_sequence = NULL, edited_at = NULL,
                            reactions = NULL, deleted_at = expires_at, update_sequence = $4, search = NULL
                     WHERE conversation_id = $1 AND sequence_number = $2 RETURNING {MESSAGE_COLUMNS}"
                ),
                &[id, sequence, &TOMBSTONE, &update_sequence],
            )
            .await
            .db()?;
        erased.push(messages::message_from(&row)?);
        c.execute(
            "DELETE FROM reactions WHERE conversation_id = $1 AND sequence_number = $2",
            &[id, sequence],
        )
        .await
        .db()?;
    }
    Ok(erased)
}

/// Conversations whose oldest stored message is past their retention at `now`, with the
/// retention in days that applies to each, at most `limit` of them.
pub(crate) async fn due_for_retention<C: GenericClient>(
    c: &C,
    now: i64,
    server_days: u32,
    limit: u32,
) -> Result<Vec<(String, u32)>> {
    // The message at purged_up_to + 1 always exists (sequences are gapless); the
    // shorter-retention-wins rule is `expiry::effective_days`, applied again to each row.
    let rows = c
        .query(
            "SELECT c.conversation_id, c.retention_days FROM conversations c
             WHERE ($2 > 0 OR c.retention_days > 0) AND c.last_sequence > c.purged_up_to
               AND (SELECT m.created_at FROM messages m
                    WHERE m.conversation_id = c.conversation_id AND m.sequence_number = c.purged_up_to + 1)
                   < $1 - 86400000::BIGINT * (CASE WHEN $2 = 0 THEN c.retention_days
                                                   WHEN c.retention_days = 0 THEN $2
                                                   ELSE LEAST($2, c.retention_days) END)
             LIMIT $3",
            &[&now, &super::retention(server_days), &i64::from(limit)],
        )
        .await
        .db()?;
    Ok(rows
        .iter()
        .map(|r| {
            let group_days = r.get::<_, i32>(1).max(0) as u32;
            (r.get(0), expiry::effective_days(server_days, group_days))
        })
        .collect())
}

/// Removes up to `limit` of conversation `id`'s oldest messages stored before a retention of
/// `days` at `now`, then moves its `purged_up_to` past them; returns how many it removed.
pub(crate) async fn purge<C: GenericClient>(c: &C, id: &str, now: i64, days: u32, limit: u64) -> Result<u64> {
    let Some(cutoff) = expiry::retention_cutoff(now, days) else { return Ok(0) };
    let oldest = c
        .query(
            "SELECT sequence_number, created_at FROM messages
             WHERE conversation_id = $1
               AND sequence_number > (SELECT purged_up_to FROM conversations WHERE conversation_id = $1)
             ORDER BY sequence_number LIMIT $2",
            &[&id, &i(limit)],
        )
        .await
        .db()?;
    let oldest: Vec<(u64, i64)> = oldest.iter().map(|r| (u(r.get(0)), r.get(1))).collect();
    let Some(bound) = expiry::purge_bound(&oldest, cutoff) else { return Ok(0) };
    let gone = c
        .execute(
            "DELETE FROM messages WHERE conversation_id = $1 AND sequence_number <= $2",
            &[&id, &i(bound)],
        )
        .await
        .db()?;
    c.execute(
        "DELETE FROM reactions WHERE conversation_id = $1 AND sequence_number <= $2",
        &[&id, &i(bound)],
    )
    .await
    .db()?;
    c.execute(
        "UPDATE conversations SET purged_up_to = GREATEST(purged_up_to, $2) WHERE conversation_id = $1",
        &[&id, &i(bound)],
    )
    .await
    .db()?;
    Ok(gone)
}
