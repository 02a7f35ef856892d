//! Messages: appends, history pages, offline sync.

use confab_core::ids::now_millis;
use confab_core::rows::LocatedMessage;
use confab_core::rules::blocks::Blocking;
use confab_core::rules::history::{self, PageWindow};
use confab_core::rules::posting::{self, AppendCheck};
use confab_core::rules::{access, expiry, reactions};
use confab_core::store::{Appended, CommittedRange, HistoryCursor, HistoryPage, MessageRef, NewMessage};
use confab_core::{Error, Result};
use confab_proto::{Content, GroupSettings, Message};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::{conversations, i, markers, search, u};
use crate::postgres::error::PgResult;

/// A message's columns, in the order [`message_at`] reads them.
pub(crate) const MESSAGE_COLUMNS: &str = "conversation_id, sequence_number, message_id, content, sender_id, \
     created_at, reply_to, reply_to_sequence, edited_at, deleted_at, reactions, update_sequence, expires_at";

/// A message from `MESSAGE_COLUMNS` starting at column `at`.
fn message_at(r: &Row, at: usize) -> Result<Message> {
    let message_id: String = r.get(at + 2);
    let content: &str = r.get(at + 3);
    let content: Content = serde_json::from_str(content)
        .map_err(|e| Error::Internal(format!("stored content of {message_id} is unreadable: {e}")))?;
    let mut m = Message::new(message_id, r.get(at), r.get(at + 4), content, u(r.get(at + 1)), r.get(at + 5));
    m.reply_to = r.get(at + 6);
    m.reply_to_sequence = r.get::<_, Option<i64>>(at + 7).map(u);
    m.edited_at = r.get(at + 8);
    m.deleted = r.get::<_, Option<i64>>(at + 9).map(|_| true);
    m.reactions = reactions::decode(r.get(at + 10))?;
    m.update_sequence = u(r.get(at + 11));
    m.expires_at = r.get(at + 12);
    // An expired message reads as a tombstone before the sweeper has erased it.
    Ok(expiry::present(m, now_millis()))
}

pub(crate) fn message_from(r: &Row) -> Result<Message> {
    message_at(r, 0)
}

/// The message at `sequence` of conversation `id`, locked until the transaction ends (changes
/// to one message are serialized on it).
pub(crate) async fn at_locked<C: GenericClient>(c: &C, id: &str, sequence: u64) -> Result<Option<Message>> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND sequence_number = $2 FOR UPDATE"
    );
    c.query_opt(sql.as_str(), &[&id, &i(sequence)]).await.db()?.as_ref().map(message_from).transpose()
}

/// The newest message of a conversation.
pub(crate) async fn last<C: GenericClient>(c: &C, id: &str) -> Result<Option<Message>> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 ORDER BY sequence_number DESC LIMIT 1"
    );
    c.query_opt(sql.as_str(), &[&id]).await.db()?.as_ref().map(message_from).transpose()
}

/// The rows a page's window covers, in the window's order.
async fn in_window<C: GenericClient>(c: &C, id: &str, w: &PageWindow) -> Result<Vec<Message>> {
    let order = if w.newest_first { "DESC" } else { "ASC" };
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages
         WHERE conversation_id = $1 AND sequence_number > $2 AND sequence_number < $3
         ORDER BY sequence_number {order} LIMIT $4"
    );
    let rows = c.query(sql.as_str(), &[&id, &i(w.above), &i(w.below), &i(w.fetch())]).await.db()?;
    rows.iter().map(message_from).collect()
}

/// What each append of a batch must know, in order: the sender's earlier message with the same id
/// (unique per sender), the conversation's settings and the sender's role, for all of them in one
/// statement (a statement per message would cost PostgreSQL a reply and an executor start-up
/// each: the larger part of its CPU per message in a cluster); then, for the few messages that
/// have them, the messages a reply may mean and the uploader of an attachment the message links.
pub(crate) async fn check_appends<C: GenericClient>(
    c: &C,
    messages: &[&NewMessage],
) -> Result<Vec<AppendCheck>> {
    let own = check_own(c, messages).await?;
    let extras = futures_util::future::try_join_all(messages.iter().map(|msg| async move {
        let reply_candidates = match &msg.reply_to {
            Some(target) => with_id_in(c, &msg.conversation_id, target, &msg.sender_id).await?,
            None => Vec::new(),
        };
        let attachment_uploader = match msg.content.attachment() {
            Some(a) => super::attachments::uploader(c, &a.attachment_id).await?,
            None => None,
        };
        Ok::<_, Error>((reply_candidates, attachment_uploader))
    }))
    .await?;
    Ok(own
        .into_iter()
        .zip(extras)
        .map(|(check, (reply_candidates, attachment_uploader))| AppendCheck {
            reply_candidates,
            attachment_uploader,
            ..check
        })
        .collect())
}

async fn check_own<C: GenericClient>(c: &C, messages: &[&NewMessage]) -> Result<Vec<AppendCheck>> {
    if messages.is_empty() {
        return Ok(Vec::new());
    }
    // The two block look-ups run only for a member of a direct conversation (two key look-ups
    // each), inside the append's transaction: a block committed on any node before this statement
    // is seen. One row per message, in the batch's order.
    let sql = format!(
        "SELECT c.only_admins_can_post, c.allow_member_invites, m.role,
                COALESCE(c.kind = 'direct' AND m.role IS NOT NULL AND EXISTS (
                    SELECT 1 FROM members o JOIN blocks b ON b.blocker_id = i.sender_id AND b.blocked_id = o.user_id
                    WHERE o.conversation_id = i.conversation_id AND o.user_id <> i.sender_id), FALSE),
                COALESCE(c.kind = 'direct' AND m.role IS NOT NULL AND EXISTS (
                    SELECT 1 FROM members o JOIN blocks b ON b.blocker_id = o.user_id AND b.blocked_id = i.sender_id
                    WHERE o.conversation_id = i.conversation_id AND o.user_id <> i.sender_id), FALSE),
                e.*
         FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[]) WITH ORDINALITY AS i(message_id, conversation_id, sender_id, ord)
         LEFT JOIN conversations c ON c.conversation_id = i.conversation_id
         LEFT JOIN members m ON m.conversation_id = i.conversation_id AND m.user_id = i.sender_id
         LEFT JOIN LATERAL (SELECT {MESSAGE_COLUMNS} FROM messages
                            WHERE sender_id = i.sender_id AND message_id = i.message_id) e ON TRUE
         ORDER BY i.ord"
    );
    // Prepared once per connection: planning this statement cost more than running it.
    let statement = c.prepare_cached(&sql).await.db()?;
    let ids: Vec<&str> = messages.iter().map(|m| m.message_id.as_str()).collect();
    let conversations: Vec<&str> = messages.iter().map(|m| m.conversation_id.as_str()).collect();
    let senders: Vec<&str> = messages.iter().map(|m| m.sender_id.as_str()).collect();
    let rows = c.query(&statement, &[&ids, &conversations, &senders]).await.db()?;
    if rows.len() != messages.len() {
        return Err(Error::Internal(format!("{} checks for {} appends", rows.len(), messages.len())));
    }
    rows.iter().map(check_from).collect()
}

fn check_from(row: &Row) -> Result<AppendCheck> {
    let only_admins: Option<bool> = row.get(0);
    let invites: Option<bool> = row.get(1);
    let role: Option<&str> = row.get(2);
    let blocking = Blocking { blocks_peer: row.get(3), blocked_by_peer: row.get(4) };
    let existing_id: Option<&str> = row.get(7);
    Ok(AppendCheck {
        existing: existing_id.map(|_| message_at(row, 5)).transpose()?,
        settings: only_admins.map(|only_admins_can_post| GroupSettings {
            only_admins_can_post,
            allow_member_invites: invites.unwrap_or(false),
            // Retention does not bear on an append.
            retention_days: 0,
        }),
        role: role.map(confab_core::rows::parse_role),
        blocking,
        reply_candidates: Vec::new(),
        attachment_uploader: None,
    })
}

/// Writes a checked append in one statement: the next sequence number (under the conversation
/// row's lock), the message, and the sender's own markers (writing a message means having
/// received and read the conversation up to it), recording their advance past other members'
/// messages so receipts and statuses agree.
pub(crate) async fn write_append<C: GenericClient>(
    c: &C,
    msg: &NewMessage,
    reply_to_sequence: Option<u64>,
    now: i64,
) -> Result<Appended> {
    let content =
        serde_json::to_string(&msg.content).map_err(|e| Error::Internal(format!("content encoding: {e}")))?;
    let statement = c
        .prepare_cached(
            "WITH seq AS (
                 UPDATE conversations SET last_sequence = last_sequence + 1, last_activity_at = $1
                 WHERE conversation_id = $2 RETURNING last_sequence
             ), stored AS (
                 INSERT INTO messages (conversation_id, sequence_number, message_id, sender_id, content, created_at,
                                       reply_to, reply_to_sequence, expires_at, search)
                 SELECT $2, last_sequence, $3, $4, $5, $1, $6, $7, $8, $9::tsvector FROM seq
                 RETURNING sequence_number
             ), noted AS (
                 -- Moving past other members' messages is recorded like any marker advance.
                 INSERT INTO receipt_marks (conversation_id, user_id, kind, up_to_sequence, at)
                 SELECT $2, $4, k.kind, stored.sequence_number, $1
                 FROM members m CROSS JOIN stored CROSS JOIN (VALUES ('delivered'), ('read')) AS k(kind)
                 WHERE m.conversation_id = $2 AND m.user_id = $4
                   AND CASE k.kind WHEN 'read' THEN m.last_read_sequence ELSE m.last_delivered_sequence END
                       < stored.sequence_number - 1
             ), marked AS (
                 UPDATE members SET last_read_sequence = GREATEST(last_read_sequence, (SELECT sequence_number FROM stored)),
                                    last_delivered_sequence = GREATEST(last_delivered_sequence, (SELECT sequence_number FROM stored))
                 WHERE conversation_id = $2 AND user_id = $4
             )
             SELECT sequence_number FROM stored",
        )
        .await
        .db()?;
    let row = c
        .query_one(
            &statement,
            &[
                &now,
                &msg.conversation_id,
                &msg.message_id,
                &msg.sender_id,
                &content,
                &msg.reply_to,
                &reply_to_sequence.map(i),
                &expiry::expires_at(now, msg.expires_in),
                &search::document(&msg.content),
            ],
        )
        .await
        .db()?;
    Ok(posting::stored(msg, u(row.get(0)), now, reply_to_sequence))
}

/// The page of `window` for `viewer`, whose membership is established in the same snapshot.
pub(crate) async fn page<C: GenericClient>(
    c: &C,
    id: &str,
    viewer: &str,
    window: PageWindow,
) -> Result<HistoryPage> {
    let rows = in_window(c, id, &window).await?;
    let others = if history::needs_statuses(&rows, viewer) {
        markers::others(c, id, viewer).await?
    } else {
        Default::default()
    };
    Ok(history::page(&window, rows, viewer, others))
}

pub(crate) async fn history<C: GenericClient>(
    c: &C,
    id: &str,
    viewer: &str,
    cursor: HistoryCursor,
    limit: u32,
) -> Result<HistoryPage> {
    // Pipelined; the page is only returned once membership is established.
    let (_, page) = tokio::try_join!(
        conversations::membership(c, id, viewer),
        page(c, id, viewer, history::window(cursor, limit))
    )?;
    Ok(page)
}

/// Every message with `message_id`, each with whether `viewer` is in its conversation; with
/// `conversation`, only those in it.
async fn found<C: GenericClient>(
    c: &C,
    message_id: &str,
    viewer: &str,
    conversation: Option<&str>,
) -> Result<Vec<LocatedMessage>> {
    let rows = c
        .query(
            "SELECT m.conversation_id, m.sequence_number, m.sender_id, m.created_at,
                    EXISTS (SELECT 1 FROM members WHERE conversation_id = m.conversation_id AND user_id = $2)
             FROM messages m WHERE m.message_id = $1 AND ($3::TEXT IS NULL OR m.conversation_id = $3)",
            &[&message_id, &viewer, &conversation],
        )
        .await
        .db()?;
    Ok(rows
        .iter()
        .map(|r| LocatedMessage {
            conversation_id: r.get(0),
            sequence_number: u(r.get(1)),
            sender_id: r.get(2),
            created_at: r.get(3),
            viewer_is_member: r.get(4),
        })
        .collect())
}

pub(crate) async fn locate<C: GenericClient>(c: &C, message_id: &str, viewer: &str) -> Result<(String, u64)> {
    access::locate(viewer, found(c, message_id, viewer, None).await?)
}

pub(crate) async fn between<C: GenericClient>(
    c: &C,
    id: &str,
    after: u64,
    up_to: u64,
) -> Result<Vec<MessageRef>> {
    let rows = c
        .query(
            "SELECT message_id, sender_id, sequence_number FROM messages
             WHERE conversation_id = $1 AND sequence_number > $2 AND sequence_number <= $3 ORDER BY sequence_number",
            &[&id, &i(after), &i(up_to)],
        )
        .await
        .db()?;
    Ok(rows
        .iter()
        .map(|r| MessageRef { message_id: r.get(0), sender_id: r.get(1), sequence_number: u(r.get(2)) })
        .collect())
}

/// Conversations with messages committed since `since` (see `MessageStore::committed_since`).
/// `last_activity_at` has no index (an index would make every append's update of the
/// conversation row a non-HOT one), so this scans the conversations: it runs when a node dies.
pub(crate) async fn committed_since<C: GenericClient>(
    c: &C,
    since: i64,
    depth: u64,
    limit: u32,
) -> Result<Vec<CommittedRange>> {
    let rows = c
        .query(
            "SELECT c.conversation_id, first.sequence_number, c.last_sequence
             FROM conversations c
             CROSS JOIN LATERAL (
                 SELECT min(m.sequence_number) AS sequence_number FROM messages m
                 WHERE m.conversation_id = c.conversation_id
                   AND m.sequence_number > c.last_sequence - $2 AND m.created_at >= $1
             ) first
             WHERE c.last_activity_at >= $1 AND first.sequence_number IS NOT NULL
             ORDER BY c.last_activity_at DESC, c.conversation_id
             LIMIT $3",
            &[&since, &i(depth), &i64::from(limit)],
        )
        .await
        .db()?;
    Ok(rows
        .iter()
        .map(|r| CommittedRange {
            conversation_id: r.get(0),
            first_sequence: u(r.get(1)),
            last_sequence: u(r.get(2)),
        })
        .collect())
}

/// The messages of conversation `id` with `message_id` (one per sender at most), for receipts,
/// replies and changes.
pub(crate) async fn with_id_in<C: GenericClient>(
    c: &C,
    id: &str,
    message_id: &str,
    viewer: &str,
) -> Result<Vec<LocatedMessage>> {
    found(c, message_id, viewer, Some(id)).await
}

/// Every message with `message_id` in the conversations `viewer` may see or not (with whether
/// they are a member), in `conversation` only when given: what a report picks from.
pub(crate) async fn with_id<C: GenericClient>(
    c: &C,
    message_id: &str,
    viewer: &str,
    conversation: Option<&str>,
) -> Result<Vec<LocatedMessage>> {
    found(c, message_id, viewer, conversation).await
}

/// The message at `sequence` of conversation `id`, as stored now.
pub(crate) async fn at<C: GenericClient>(c: &C, id: &str, sequence: u64) -> Result<Option<Message>> {
    let row = c
        .query_opt(
            &format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND sequence_number = $2"
            ),
            &[&id, &i(sequence)],
        )
        .await
        .db()?;
    row.map(|r| message_from(&r)).transpose()
}
