//! Changes to stored messages (edits, deletes, reactions), each taking the conversation's next
//! update sequence, and the changed messages sync reads back. Changes run on the single writer,
//! so each sees the one before it: reactions are recounted exactly and the sequence stays gapless.

use confab_core::lifecycle::{ChangeKind, Changed, MessageChange};
use confab_core::rows::ReactionRow;
use confab_core::rules::lifecycle::{self, ChangePlan};
use confab_core::rules::reactions::{self, LISTED_REACTORS};
use confab_core::rules::updates::{self, UpdatePage, UpdateWindow};
use confab_core::{Error, Result};
use confab_proto::{Message, Reaction};
use rusqlite::{params, Connection};

use super::messages::{self, MESSAGE_COLUMNS};
use super::{conversations, seq};
use crate::sqlite::error::SqlResult;

/// The conversation's last update sequence (0 for none, or no such conversation).
pub(crate) fn last_update_sequence(conn: &Connection, id: &str) -> Result<u64> {
    let mut stmt = conn
        .prepare_cached("SELECT last_update_sequence FROM conversations WHERE conversation_id = ?1")
        .db()?;
    let mut rows = stmt.query_map([id], |r| r.get::<_, u64>(0)).db()?;
    rows.next().transpose().db().map(Option::unwrap_or_default)
}

/// The changed messages a sync cursor asks for (see [`UpdateWindow`]).
pub(crate) fn changed_since(conn: &Connection, id: &str, window: &UpdateWindow) -> Result<UpdatePage> {
    // `update_sequence > 0` lets the partial index serve the query.
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages
         WHERE conversation_id = ?1 AND update_sequence > 0 AND update_sequence > ?2 AND sequence_number <= ?3
         ORDER BY update_sequence LIMIT ?4"
    );
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let rows = stmt
        .query_map(
            params![id, seq(window.after), seq(window.up_to_sequence), seq(window.fetch())],
            messages::raw_message,
        )
        .db()?;
    let rows = messages::decode_all(rows.collect::<rusqlite::Result<Vec<_>>>().db()?)?;
    Ok(updates::page(window, rows, last_update_sequence(conn, id)?))
}

/// Applies one change (see `LifecycleStore::change_message`), inside the writer's transaction.
pub(crate) fn change(conn: &Connection, change: &MessageChange) -> Result<Changed> {
    let id = &change.conversation_id;
    let actor = change.actor.user_id();
    let located = lifecycle::locate(
        change,
        conversations::conversation(conn, id)?,
        conversations::member(conn, id, actor)?,
        messages::with_id_in(conn, id, &change.target.message_id, actor)?,
    )?;
    let sequence = located.sequence_number;
    let message = messages::at(conn, id, sequence)?.ok_or(Error::MessageNotFound)?;
    let own = match &change.kind {
        ChangeKind::React { .. } => own_emoji(conn, id, sequence, actor)?,
        _ => Vec::new(),
    };
    let plan = lifecycle::decide(change, &located, &message, &own)?;
    let summary = match &plan {
        ChangePlan::Unchanged => return Ok(Changed { message, changed: false }),
        ChangePlan::AddReaction { emoji } => {
            conn.prepare_cached(
                "INSERT INTO reactions (conversation_id, sequence_number, emoji, user_id, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| s.execute(params![id, seq(sequence), emoji, actor, change.at]))
            .db()?;
            recount(conn, id, sequence)?
        }
        ChangePlan::RemoveReaction { emoji } => {
            conn.prepare_cached(
                "DELETE FROM reactions
                 WHERE conversation_id = ?1 AND sequence_number = ?2 AND emoji = ?3 AND user_id = ?4",
            )
            .and_then(|mut s| s.execute(params![id, seq(sequence), emoji, actor]))
            .db()?;
            recount(conn, id, sequence)?
        }
        ChangePlan::Delete { .. } => {
            conn.prepare_cached("DELETE FROM reactions WHERE conversation_id = ?1 AND sequence_number = ?2")
                .and_then(|mut s| s.execute(params![id, seq(sequence)]))
                .db()?;
            None
        }
        ChangePlan::Edit { .. } => message.reactions.clone(),
    };
    let update_sequence: u64 = conn
        .prepare_cached(
            "UPDATE conversations SET last_update_sequence = last_update_sequence + 1
             WHERE conversation_id = ?1 RETURNING last_update_sequence",
        )
        .and_then(|mut s| s.query_row([id], |r| r.get(0)))
        .db()?;
    let deleted_at = match plan {
        ChangePlan::Delete { deleted_at } => Some(deleted_at),
        _ => None,
    };
    let changed = lifecycle::applied(message, &plan, update_sequence, summary);
    write(conn, &changed, deleted_at)?;
    Ok(Changed { message: changed, changed: true })
}

/// Overwrites the message's row with its state after a change: a tombstone's content, reply
/// link and reactions are gone from the row, not hidden.
fn write(conn: &Connection, m: &Message, deleted_at: Option<i64>) -> Result<()> {
    let content =
        serde_json::to_string(&m.content).map_err(|e| Error::Internal(format!("content encoding: {e}")))?;
    let reactions = reactions::encode(&m.reactions)?;
    conn.prepare_cached(
        "UPDATE messages SET content = ?3, reply_to = ?4, reply_to_sequence = ?5, edited_at = ?6,
                deleted_at = COALESCE(deleted_at, ?7), reactions = ?8, update_sequence = ?9
         WHERE conversation_id = ?1 AND sequence_number = ?2",
    )
    .and_then(|mut s| {
        s.execute(params![
            m.conversation_id,
            seq(m.sequence_number),
            content,
            m.reply_to,
            m.reply_to_sequence.map(seq),
            m.edited_at,
            deleted_at,
            reactions,
            seq(m.update_sequence)
        ])
    })
    .db()?;
    Ok(())
}

/// The emoji `user` reacted with on one message.
fn own_emoji(conn: &Connection, id: &str, sequence: u64, user: &str) -> Result<Vec<String>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT emoji FROM reactions WHERE conversation_id = ?1 AND sequence_number = ?2 AND user_id = ?3",
        )
        .db()?;
    let rows = stmt.query_map(params![id, seq(sequence), user], |r| r.get(0)).db()?;
    rows.collect::<rusqlite::Result<Vec<String>>>().db()
}

/// The message's reaction summary, counted from its reaction rows.
fn recount(conn: &Connection, id: &str, sequence: u64) -> Result<Option<Vec<Reaction>>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT emoji, user_id, created_at, n FROM (
                 SELECT emoji, user_id, created_at,
                        ROW_NUMBER() OVER (PARTITION BY emoji ORDER BY created_at, user_id) AS rank,
                        COUNT(*) OVER (PARTITION BY emoji) AS n
                 FROM reactions WHERE conversation_id = ?1 AND sequence_number = ?2
             ) WHERE rank <= ?3",
        )
        .db()?;
    let rows = stmt
        .query_map(params![id, seq(sequence), LISTED_REACTORS as i64], |r| {
            Ok(ReactionRow { emoji: r.get(0)?, user_id: r.get(1)?, at: r.get(2)?, count: r.get(3)? })
        })
        .db()?;
    Ok(reactions::summary(rows.collect::<rusqlite::Result<Vec<_>>>().db()?))
}
