//! Changes to stored messages (edits, deletes, reactions), each taking the conversation's next
//! update sequence, and the changed messages sync reads back.
//!
//! A change locks its message's row before deciding, so changes to one message (concurrent
//! reactions from many users on many nodes) run one after another and each recounts what the
//! previous one committed. The update sequence is taken last, under the conversation row's lock,
//! which holds until commit: update sequences commit in order and a rolled-back change leaves no
//! gap. Locks are taken message row first, conversation row second; appends never lock an
//! existing message, so the two cannot deadlock.

use confab_core::lifecycle::{ChangeKind, Changed, MessageChange};
use confab_core::rows::ReactionRow;
use confab_core::rules::lifecycle::{self, ChangePlan};
use confab_core::rules::reactions::{self, LISTED_REACTORS};
use confab_core::rules::updates::{self, UpdatePage, UpdateWindow};
use confab_core::{Error, Result};
use confab_proto::{Message, Reaction};
use deadpool_postgres::GenericClient;

use super::messages::{self, MESSAGE_COLUMNS};
use super::{conversations, i, search, u};
use crate::postgres::error::PgResult;

/// The conversation's last update sequence (0 for none, or no such conversation).
pub(crate) async fn last_update_sequence<C: GenericClient>(c: &C, id: &str) -> Result<u64> {
    let row = c
        .query_opt("SELECT last_update_sequence FROM conversations WHERE conversation_id = $1", &[&id])
        .await
        .db()?;
    Ok(row.map(|r| u(r.get(0))).unwrap_or_default())
}

/// The changed messages a sync cursor asks for (see [`UpdateWindow`]).
pub(crate) async fn changed_since<C: GenericClient>(
    c: &C,
    id: &str,
    window: &UpdateWindow,
) -> Result<UpdatePage> {
    // `update_sequence > 0` lets the partial index serve the query.
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages
         WHERE conversation_id = $1 AND update_sequence > 0 AND update_sequence > $2 AND sequence_number <= $3
         ORDER BY update_sequence LIMIT $4"
    );
    let (rows, current) = tokio::try_join!(
        async {
            c.query(sql.as_str(), &[&id, &i(window.after), &i(window.up_to_sequence), &i(window.fetch())])
                .await
                .db()
        },
        last_update_sequence(c, id)
    )?;
    let rows = rows.iter().map(messages::message_from).collect::<Result<Vec<_>>>()?;
    Ok(updates::page(window, rows, current))
}

/// Applies one change (see `LifecycleStore::change_message`) inside the caller's transaction.
pub(crate) async fn change<C: GenericClient>(c: &C, change: &MessageChange) -> Result<Changed> {
    let id = change.conversation_id.as_str();
    let actor = change.actor.user_id();
    let (conversation, member, candidates) = tokio::try_join!(
        conversations::conversation(c, id),
        conversations::member(c, id, actor),
        messages::with_id_in(c, id, &change.target.message_id, actor)
    )?;
    let located = lifecycle::locate(change, conversation, member, candidates)?;
    let sequence = located.sequence_number;
    let message = messages::at_locked(c, id, sequence).await?.ok_or(Error::MessageNotFound)?;
    let own = match &change.kind {
        ChangeKind::React { .. } => own_emoji(c, id, sequence, actor).await?,
        _ => Vec::new(),
    };
    let plan = lifecycle::decide(change, &located, &message, &own)?;
    let summary = match &plan {
        ChangePlan::Unchanged => return Ok(Changed { message, changed: false }),
        ChangePlan::AddReaction { emoji } => {
            c.execute(
                "INSERT INTO reactions (conversation_id, sequence_number, emoji, user_id, created_at)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&id, &i(sequence), emoji, &actor, &change.at],
            )
            .await
            .db()?;
            recount(c, id, sequence).await?
        }
        ChangePlan::RemoveReaction { emoji } => {
            c.execute(
                "DELETE FROM reactions
                 WHERE conversation_id = $1 AND sequence_number = $2 AND emoji = $3 AND user_id = $4",
                &[&id, &i(sequence), emoji, &actor],
            )
            .await
            .db()?;
            recount(c, id, sequence).await?
        }
        ChangePlan::Delete { .. } => {
            c.execute(
                "DELETE FROM reactions WHERE conversation_id = $1 AND sequence_number = $2",
                &[&id, &i(sequence)],
            )
            .await
            .db()?;
            None
        }
        ChangePlan::Edit { .. } => message.reactions.clone(),
    };
    let row = c
        .query_one(
            "UPDATE conversations SET last_update_sequence = last_update_sequence + 1
             WHERE conversation_id = $1 RETURNING last_update_sequence",
            &[&id],
        )
        .await
        .db()?;
    let deleted_at = match plan {
        ChangePlan::Delete { deleted_at } => Some(deleted_at),
        _ => None,
    };
    let changed = lifecycle::applied(message, &plan, u(row.get(0)), summary);
    write(c, &changed, deleted_at).await?;
    Ok(Changed { message: changed, changed: true })
}

/// Overwrites the message's row with its state after a change: a tombstone's content, reply
/// link and reactions are gone from the row, not hidden.
async fn write<C: GenericClient>(c: &C, m: &Message, deleted_at: Option<i64>) -> Result<()> {
    let content =
        serde_json::to_string(&m.content).map_err(|e| Error::Internal(format!("content encoding: {e}")))?;
    let reactions = reactions::encode(&m.reactions)?;
    c.execute(
        "UPDATE messages SET content = $3, reply_to = $4, reply_to_sequence = $5, edited_at = $6,
                deleted_at = COALESCE(deleted_at, $7), reactions = $8, update_sequence = $9,
                search = $10::tsvector
         WHERE conversation_id = $1 AND sequence_number = $2",
        &[
            &m.conversation_id,
            &i(m.sequence_number),
            &content,
            &m.reply_to,
            &m.reply_to_sequence.map(i),
            &m.edited_at,
            &deleted_at,
            &reactions,
            &i(m.update_sequence),
            // A deleted message's content is its tombstone, which has no document.
            &search::document(&m.content),
        ],
    )
    .await
    .db()?;
    Ok(())
}

/// The emoji `user` reacted with on one message.
async fn own_emoji<C: GenericClient>(c: &C, id: &str, sequence: u64, user: &str) -> Result<Vec<String>> {
    let rows = c
        .query(
            "SELECT emoji FROM reactions WHERE conversation_id = $1 AND sequence_number = $2 AND user_id = $3",
            &[&id, &i(sequence), &user],
        )
        .await
        .db()?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The message's reaction summary, counted from its reaction rows.
async fn recount<C: GenericClient>(c: &C, id: &str, sequence: u64) -> Result<Option<Vec<Reaction>>> {
    let rows = c
        .query(
            "SELECT emoji, user_id, created_at, n FROM (
                 SELECT emoji, user_id, created_at,
                        ROW_NUMBER() OVER (PARTITION BY emoji ORDER BY created_at, user_id) AS rank,
                        COUNT(*) OVER (PARTITION BY emoji) AS n
                 FROM reactions WHERE conversation_id = $1 AND sequence_number = $2
             ) listed WHERE rank <= $3",
            &[&id, &i(sequence), &(LISTED_REACTORS as i64)],
        )
        .await
        .db()?;
    let rows = rows
        .iter()
        .map(|r| ReactionRow {
            emoji: r.get(0),
            user_id: r.get(1),
            at: r.get(2),
            count: u32::try_from(r.get::<_, i64>(3)).unwrap_or(u32::MAX),
        })
        .collect();
    Ok(reactions::summary(rows))
}
