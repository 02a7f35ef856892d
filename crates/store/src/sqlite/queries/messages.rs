//! Messages: appends, history pages, offline sync.

use confab_core::ids::now_millis;
use confab_core::rows::LocatedMessage;
use confab_core::rules::blocks::Blocking;
use confab_core::rules::history::{self, PageWindow};
use confab_core::rules::posting::{self, AppendCheck, AppendPlan};
use confab_core::rules::{access, expiry, reactions};
use confab_core::store::{Appended, CommittedRange, HistoryCursor, HistoryPage, MessageRef, NewMessage};
use confab_core::{Error, Result};
use confab_proto::{Content, ConversationType, Message};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{blocks, conversations, markers, seq};
use crate::sqlite::error::SqlResult;

/// A message's columns, in the order [`raw_message`] reads them.
pub(crate) const MESSAGE_COLUMNS: &str = "conversation_id, sequence_number, message_id, content, sender_id, \
     created_at, reply_to, reply_to_sequence, edited_at, deleted_at, reactions, update_sequence, expires_at";

/// A message row with its content and reactions still encoded (decoding fails as a domain error,
/// not a driver one).
pub(crate) struct RawMessage {
    message: Message,
    content: String,
    reactions: Option<String>,
}

pub(crate) fn raw_message(row: &Row<'_>) -> rusqlite::Result<RawMessage> {
    let mut message =
        Message::new(row.get(2)?, row.get(0)?, row.get(4)?, Content::Deleted, row.get(1)?, row.get(5)?);
    message.reply_to = row.get(6)?;
    message.reply_to_sequence = row.get(7)?;
    message.edited_at = row.get(8)?;
    message.deleted = row.get::<_, Option<i64>>(9)?.map(|_| true);
    message.update_sequence = row.get(11)?;
    message.expires_at = row.get(12)?;
    Ok(RawMessage { message, content: row.get(3)?, reactions: row.get(10)? })
}

pub(crate) fn decode(raw: RawMessage) -> Result<Message> {
    let RawMessage { mut message, content, reactions } = raw;
    message.content = serde_json::from_str(&content).map_err(|e| {
        Error::Internal(format!("stored content of {} is unreadable: {e}", message.message_id))
    })?;
    message.reactions = reactions::decode(reactions.as_deref())?;
    // An expired message reads as a tombstone before the sweeper has erased it.
    Ok(expiry::present(message, now_millis()))
}

pub(crate) fn decode_all(rows: Vec<RawMessage>) -> Result<Vec<Message>> {
    rows.into_iter().map(decode).collect()
}

/// The message at `sequence` of conversation `id`.
pub(crate) fn at(conn: &Connection, id: &str, sequence: u64) -> Result<Option<Message>> {
    conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?1 AND sequence_number = ?2"
    ))
    .and_then(|mut s| s.query_row(params![id, seq(sequence)], raw_message).optional())
    .db()?
    .map(decode)
    .transpose()
}

/// `sender`'s message with `message_id` (unique per sender).
fn by_sender_and_id(conn: &Connection, sender: &str, message_id: &str) -> Result<Option<Message>> {
    conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE sender_id = ?1 AND message_id = ?2"
    ))
    .and_then(|mut s| s.query_row([sender, message_id], raw_message).optional())
    .db()?
    .map(decode)
    .transpose()
}

/// The newest message of a conversation.
pub(crate) fn last(conn: &Connection, id: &str) -> Result<Option<Message>> {
    conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?1 ORDER BY sequence_number DESC LIMIT 1"
    ))
    .and_then(|mut s| s.query_row([id], raw_message).optional())
    .db()?
    .map(decode)
    .transpose()
}

/// The rows a page's window covers, in the window's order.
fn in_window(conn: &Connection, id: &str, w: &PageWindow) -> Result<Vec<Message>> {
    let order = if w.newest_first { "DESC" } else { "ASC" };
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages
         WHERE conversation_id = ?1 AND sequence_number > ?2 AND sequence_number < ?3
         ORDER BY sequence_number {order} LIMIT ?4"
    );
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let rows = stmt.query_map(params![id, seq(w.above), seq(w.below), seq(w.fetch())], raw_message).db()?;
    decode_all(rows.collect::<rusqlite::Result<Vec<_>>>().db()?)
}

pub(crate) fn append(conn: &Connection, msg: &NewMessage, now: i64) -> Result<Appended> {
    let conversation = conversations::conversation(conn, &msg.conversation_id)?;
    let role = conversations::member(conn, &msg.conversation_id, &msg.sender_id)?.map(|m| m.role);
    let direct = conversation.as_ref().is_some_and(|c| c.kind == ConversationType::Direct);
    let blocking = if direct && role.is_some() {
        blocks::with_direct_peer(conn, &msg.conversation_id, &msg.sender_id)?
    } else {
        Blocking::default()
    };
    let check = AppendCheck {
        existing: by_sender_and_id(conn, &msg.sender_id, &msg.message_id)?,
        settings: conversation.map(|c| c.settings),
        role,
        blocking,
        reply_candidates: match &msg.reply_to {
            Some(target) => with_id_in(conn, &msg.conversation_id, target, &msg.sender_id)?,
            None => Vec::new(),
        },
        attachment_uploader: match msg.content.attachment() {
            Some(a) => super::attachments::uploader(conn, &a.attachment_id)?,
            None => None,
        },
    };
    let reply_to_sequence = match posting::decide(msg, check)? {
        AppendPlan::Repeat(original) => return Ok(*original),
        AppendPlan::Write { reply_to_sequence } => reply_to_sequence,
    };
    let content =
        serde_json::to_string(&msg.content).map_err(|e| Error::Internal(format!("content encoding: {e}")))?;
    let sequence: u64 = conn
        .prepare_cached(
            "UPDATE conversations SET last_sequence = last_sequence + 1, last_activity_at = ?1
             WHERE conversation_id = ?2 RETURNING last_sequence",
        )
        .and_then(|mut s| s.query_row(params![now, msg.conversation_id], |r| r.get(0)))
        .db()?;
    conn.prepare_cached(
        "INSERT INTO messages (conversation_id, sequence_number, message_id, sender_id, content, created_at,
                               reply_to, reply_to_sequence, expires_at, doc_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, confab_doc_id(?1, ?2, ?10))",
    )
    .and_then(|mut s| {
        s.execute(params![
            msg.conversation_id,
            sequence,
            msg.message_id,
            msg.sender_id,
            content,
            now,
            msg.reply_to,
            reply_to_sequence.map(seq),
            expiry::expires_at(now, msg.expires_in),
            msg.content.text()
        ])
    })
    .db()?;
    markers::raise_own(conn, &msg.conversation_id, &msg.sender_id, sequence, now)?;
    Ok(posting::stored(msg, sequence, now, reply_to_sequence))
}

/// The page of `window` for `viewer`, whose membership is already established.
pub(crate) fn page(conn: &Connection, id: &str, viewer: &str, window: PageWindow) -> Result<HistoryPage> {
    let rows = in_window(conn, id, &window)?;
    let others = if history::needs_statuses(&rows, viewer) {
        markers::others(conn, id, viewer)?
    } else {
        Default::default()
    };
    Ok(history::page(&window, rows, viewer, others))
}

pub(crate) fn history(
    conn: &Connection,
    id: &str,
    viewer: &str,
    cursor: HistoryCursor,
    limit: u32,
) -> Result<HistoryPage> {
    conversations::membership(conn, id, viewer)?;
    page(conn, id, viewer, history::window(cursor, limit))
}

/// Every message with `message_id`, each with whether `viewer` is in its conversation; with
/// `conversation`, only those in it.
fn found(
    conn: &Connection,
    message_id: &str,
    viewer: &str,
    conversation: Option<&str>,
) -> Result<Vec<LocatedMessage>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT m.conversation_id, m.sequence_number, m.sender_id, m.created_at,
                    EXISTS (SELECT 1 FROM members WHERE conversation_id = m.conversation_id AND user_id = ?2)
             FROM messages m WHERE m.message_id = ?1 AND (?3 IS NULL OR m.conversation_id = ?3)",
        )
        .db()?;
    let rows = stmt
        .query_map(params![message_id, viewer, conversation], |r| {
            Ok(LocatedMessage {
                conversation_id: r.get(0)?,
                sequence_number: r.get(1)?,
                sender_id: r.get(2)?,
                created_at: r.get(3)?,
                viewer_is_member: r.get(4)?,
            })
        })
        .db()?;
    rows.collect::<rusqlite::Result<Vec<_>>>().db()
}

pub(crate) fn locate(conn: &Connection, message_id: &str, viewer: &str) -> Result<(String, u64)> {
    access::locate(viewer, found(conn, message_id, viewer, None)?)
}

pub(crate) fn between(conn: &Connection, id: &str, after: u64, up_to: u64) -> Result<Vec<MessageRef>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT message_id, sender_id, sequence_number FROM messages
             WHERE conversation_id = ?1 AND sequence_number > ?2 AND sequence_number <= ?3 ORDER BY sequence_number",
        )
        .db()?;
    let rows = stmt
        .query_map(params![id, seq(after), seq(up_to)], |r| {
            Ok(MessageRef { message_id: r.get(0)?, sender_id: r.get(1)?, sequence_number: r.get(2)? })
        })
        .db()?;
    rows.collect::<rusqlite::Result<Vec<_>>>().db()
}

/// Conversations with messages committed since `since` (see `MessageStore::committed_since`);
/// a scan of the conversations, run when a node of a cluster dies.
pub(crate) fn committed_since(
    conn: &Connection,
    since: i64,
    depth: u64,
    limit: u32,
) -> Result<Vec<CommittedRange>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT conversation_id, first, last_sequence FROM (
                 SELECT c.conversation_id, c.last_sequence, c.last_activity_at,
                        (SELECT min(m.sequence_number) FROM messages m
                         WHERE m.conversation_id = c.conversation_id
                           AND m.sequence_number > c.last_sequence - ?2 AND m.created_at >= ?1) AS first
                 FROM conversations c WHERE c.last_activity_at >= ?1
             ) WHERE first IS NOT NULL
             ORDER BY last_activity_at DESC, conversation_id
             LIMIT ?3",
        )
        .db()?;
    let rows = stmt
        .query_map(params![since, seq(depth), limit], |r| {
            Ok(CommittedRange {
                conversation_id: r.get(0)?,
                first_sequence: r.get(1)?,
                last_sequence: r.get(2)?,
            })
        })
        .db()?;
    rows.collect::<rusqlite::Result<Vec<_>>>().db()
}

/// The messages of conversation `id` with `message_id` (one per sender at most), for receipts,
/// replies and changes.
pub(crate) fn with_id_in(
    conn: &Connection,
    id: &str,
    message_id: &str,
    viewer: &str,
) -> Result<Vec<LocatedMessage>> {
    found(conn, message_id, viewer, Some(id))
}

/// Every message with `message_id` in the conversations `viewer` may see or not (with whether
/// they are a member), in `conversation` only when given: what a report picks from.
pub(crate) fn with_id(
    conn: &Connection,
    message_id: &str,
    viewer: &str,
    conversation: Option<&str>,
) -> Result<Vec<LocatedMessage>> {
    found(conn, message_id, viewer, conversation)
}
