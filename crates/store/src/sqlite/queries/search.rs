//! Message search over the FTS5 index of migrations 0009, 0012, 0013, 0017 and 0018: candidates
//! newest first, by document id (see `confab_core::rules::search` for windows, ranking and the
//! cursor), and the writer's indexing of each batch's new messages ([`SearchBatch`]).
//!
//! A window is found one of two ways:
//! - through FTS5 ([`window`]), which intersects the words with the caller's conversations and
//!   stops after the window: what words need, common or rare;
//! - by walking the caller's conversations newest first ([`walk`]), reading texts and keeping those
//!   that hold the words: what a prefix of many words needs when they are common (`co*`), since
//!   FTS5, without a prefix index, merges the whole posting list of every word the prefix covers,
//!   over every conversation, before it can stop. A prefix query starts walking and goes on only
//!   while the matches are dense enough that the window fills within a few thousand rows;
//!   otherwise FTS5 answers it, as it does every query without a prefix.

use std::collections::BinaryHeap;
use std::sync::Arc;

use confab_core::ids::now_millis;
use confab_core::rules::search::{self as rules, Candidate, Deadline, Pager, Window, WINDOW};
use confab_core::store::{SearchHit, SearchRequest};
use confab_core::Result;
use parking_lot::Mutex;
use rusqlite::functions::FunctionFlags;
use rusqlite::{params, Connection};

use super::messages;
use crate::sqlite::error::SqlResult;

/// Up to this many conversations are named in the index query (`cid : (…)`); a caller in more
/// is searched without it (the membership join alone), which reads every match of the words.
const MAX_NAMED_CONVERSATIONS: usize = 500;

/// One window of candidates: every condition a result must meet is here (a condition on messages
/// is one more line of its `WHERE`: an expired message is never found, swept or not). FTS5 hands
/// rows out by descending document id from `?3` on (a bound it seeks to) and the `LIMIT` stops it,
/// so a window costs its own size.
const WINDOW_SQL: &str = "
    SELECT f.rowid, f.conversation_id, f.sequence_number, m.created_at,
           json_extract(m.content, '$.text')
    FROM message_search f
    JOIN members mb ON mb.conversation_id = f.conversation_id AND mb.user_id = ?2
    JOIN messages m ON m.conversation_id = f.conversation_id AND m.sequence_number = f.sequence_number
    WHERE message_search MATCH ?1
      AND f.rowid <= ?3
      AND m.deleted_at IS NULL
      AND (m.expires_at IS NULL OR m.expires_at > ?4)
      AND (?5 IS NULL OR f.conversation_id = ?5)
      AND (?6 IS NULL OR m.sender_id = ?6)
      AND (?7 IS NULL OR m.created_at < ?7)
      AND (?8 IS NULL OR m.created_at > ?8)
    ORDER BY f.rowid DESC
    LIMIT ?9";

/// A walk reads each conversation newest first (the messages' primary key keeps a conversation's
/// rows together, in sequence order, which is document order) with the same conditions as
/// [`WINDOW_SQL`]; a message with no text, or whose text does not hold the words, is passed over.
const WALK_SQL: &str = "
    SELECT doc_id, sequence_number, created_at, json_extract(content, '$.text')
    FROM messages
    WHERE conversation_id = ?1
      AND doc_id <= ?2
      AND deleted_at IS NULL
      AND (expires_at IS NULL OR expires_at > ?3)
      AND (?4 IS NULL OR sender_id = ?4)
      AND (?5 IS NULL OR created_at < ?5)
      AND (?6 IS NULL OR created_at > ?6)
    ORDER BY sequence_number DESC";

/// Conversations walked at most (one statement each); a caller in more is searched through FTS5.
const MAX_WALKED: usize = 200;
/// Rows a prefix query walks before it decides whether to go on walking.
const WALK_SAMPLE: usize = 500;
/// Share of those rows that must hold the words to go on: the window then fills within
/// `WINDOW / share` rows (5000, about 3 ms per 1000 with ranking), while FTS5 merges the
/// prefix's postings over every conversation (a prefix in a fifth of a million messages took it
/// about 20 ms): below this share FTS5 is cheaper (see `docs/benchmarks.md`).
const WALK_MIN_SHARE: f64 = 0.2;
/// Rows one window may walk at most: matches can thin out after the sample (a word dense only
/// in the newest messages), and a walk must not read a caller's whole history; past this FTS5
/// answers the window instead (it finds the same one).
const WALK_MAX_ROWS: usize = 2 * (WINDOW as f64 / WALK_MIN_SHARE) as usize;

/// The search documents of the batch the writer is committing (migrations 0017, 0018): ids handed
/// out from `search_state.next_doc_id` as messages are written, and the messages given one with
/// the text they were written with, indexed together just before the batch commits (FTS5 writes
/// its pending words out whenever a savepoint begins, and every write has one: indexing write by
/// write made an index segment per message).
#[derive(Debug, Default)]
pub(crate) struct SearchBatch {
    next: i64,
    written: Vec<WrittenDoc>,
    /// A write of the batch was rolled back: some of `written` may not exist.
    rolled_back: bool,
    /// The documents handed to the index's `INSERT` by the `confab_search_batch` table.
    ready: Vec<WrittenDoc>,
}

impl SearchBatch {
    /// The documents being indexed, for the `confab_search_batch` table to read once.
    pub(crate) fn take_ready(&mut self) -> Vec<WrittenDoc> {
        std::mem::take(&mut self.ready)
    }
}

/// A message the batch wrote, as it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WrittenDoc {
    pub(crate) doc_id: i64,
    pub(crate) conversation_id: String,
    pub(crate) sequence_number: i64,
    /// Its text or caption; `None` has nothing to index.
    pub(crate) text: Option<String>,
}

pub(crate) type SharedBatch = Arc<Mutex<SearchBatch>>;

/// Gives the writer's connection `confab_doc_id(conversation_id, sequence_number, text)`: the
/// next document id, the message remembered for [`index_batch`]; and the `confab_search_batch`
/// table ([`super::search_batch`]). Only the writer's statements can call the function
/// (`DIRECTONLY`: not from a trigger or a view).
pub(crate) fn register(conn: &Connection, batch: SharedBatch) -> rusqlite::Result<()> {
    super::search_batch::register(conn, batch.clone())?;
    conn.create_scalar_function(
        "confab_doc_id",
        3,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DIRECTONLY,
        move |ctx| {
            let conversation_id: String = ctx.get(0)?;
            let sequence_number: i64 = ctx.get(1)?;
            let text: Option<String> = ctx.get(2)?;
            let mut batch = batch.lock();
            let doc_id = batch.next;
            batch.next += 1;
            batch.written.push(WrittenDoc { doc_id, conversation_id, sequence_number, text });
            Ok(doc_id)
        },
    )
}

/// When a batch begins: ids go on from where the last committed batch left them.
pub(crate) fn batch_start(conn: &Connection, batch: &SharedBatch) -> Result<()> {
    let next: i64 = conn
        .prepare_cached("SELECT next_doc_id FROM search_state")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .db()?;
    let mut batch = batch.lock();
    batch.next = next;
    batch.written.clear();
    batch.rolled_back = false;
    Ok(())
}

/// A write of the batch was rolled back.
pub(crate) fn batch_rolled_back(batch: &SharedBatch) {
    batch.lock().rolled_back = true;
}

/// Just before the batch commits, in its transaction: indexes each message it wrote, and keeps
/// the next id for the next batch. One statement for the whole batch: FTS5 writes its pending
/// words out at every statement's savepoint, so a statement per message made a segment per
/// message.
///
/// The texts are the ones the messages were written with, handed over from memory, unless one of
/// the batch's messages changed since (migration 0018 notes an edit or delete of one) or a write
/// was rolled back: then each is indexed as its row is now (edited, deleted, or gone with its
/// write), read back from `messages`.
pub(crate) fn index_batch(conn: &Connection, batch: &SharedBatch) -> Result<()> {
    let (next, written, rolled_back) = {
        let mut batch = batch.lock();
        (batch.next, std::mem::take(&mut batch.written), std::mem::take(&mut batch.rolled_back))
    };
    if !written.is_empty() {
        let changed: bool = rolled_back
            || conn
                .prepare_cached("SELECT batch_changed FROM search_state")
                .and_then(|mut s| s.query_row([], |r| r.get(0)))
                .db()?;
        if changed {
            index_as_stored(conn, &written)?;
        } else {
            batch.lock().ready = written;
            let indexed = conn
                .prepare_cached(
                    "INSERT INTO message_search (rowid, text, cid, conversation_id, sequence_number)
                     SELECT doc_id, text, hex(conversation_id), conversation_id, sequence_number
                     FROM confab_search_batch WHERE text IS NOT NULL",
                )
                .and_then(|mut s| s.execute([]));
            batch.lock().ready.clear();
            indexed.db()?;
        }
    }
    conn.prepare_cached("UPDATE search_state SET next_doc_id = ?1, batch_changed = 0")
        .and_then(|mut s| s.execute([next]))
        .db()?;
    Ok(())
}

/// Indexes the batch's messages as their rows are now.
fn index_as_stored(conn: &Connection, written: &[WrittenDoc]) -> Result<()> {
    let keys: Vec<(i64, &str, i64)> =
        written.iter().map(|w| (w.doc_id, w.conversation_id.as_str(), w.sequence_number)).collect();
    let keys = serde_json::to_string(&keys)
        .map_err(|e| confab_core::Error::Internal(format!("search batch encoding: {e}")))?;
    conn.prepare_cached(
        "INSERT INTO message_search (rowid, text, cid, conversation_id, sequence_number)
         SELECT m.doc_id, json_extract(m.content, '$.text'), hex(m.conversation_id),
                m.conversation_id, m.sequence_number
         FROM json_each(?1) AS w CROSS JOIN messages AS m
         WHERE m.conversation_id = w.value ->> 1 AND m.sequence_number = w.value ->> 2
           AND m.doc_id = w.value ->> 0
           AND m.deleted_at IS NULL AND json_extract(m.content, '$.text') IS NOT NULL",
    )
    .and_then(|mut s| s.execute([keys]))
    .db()?;
    Ok(())
}

/// The caller's conversations (only the one asked for, with `conversationId`), up to `limit`.
fn conversations(conn: &Connection, req: &SearchRequest, limit: usize) -> Result<Vec<String>> {
    conn.prepare_cached(
        "SELECT conversation_id FROM members WHERE user_id = ?1 AND (?2 IS NULL OR conversation_id = ?2)
         LIMIT ?3",
    )
    .and_then(|mut s| {
        s.query_map(params![req.user, req.conversation_id, limit as i64], |r| r.get(0))?.collect()
    })
    .db()
}

/// The FTS5 query: the words in the text column and, when they are few enough to name, the
/// caller's conversations in the other. `None` when nothing can match.
fn match_expression(words: String, conversations: &[String]) -> Option<String> {
    if conversations.is_empty() {
        return None;
    }
    if conversations.len() > MAX_NAMED_CONVERSATIONS {
        return Some(format!("text : ({words})"));
    }
    // The same word the index holds: SQLite's `hex()` of the id's bytes.
    let ids: Vec<String> =
        conversations.iter().map(|c| c.bytes().map(|b| format!("{b:02X}")).collect()).collect();
    Some(format!("text : ({words}) AND cid : ({})", ids.join(" OR ")))
}

/// A message a walk read, ordered by document id, and whether its text holds the words.
struct Walked(Candidate, bool);

impl PartialEq for Walked {
    fn eq(&self, other: &Self) -> bool {
        self.0.position == other.0.position
    }
}
impl Eq for Walked {}
impl PartialOrd for Walked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Walked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.position.cmp(&other.0.position)
    }
}

/// The window at `top` found by walking `conversations` newest first, merged by document id (the
/// same window FTS5 finds). With `sample`, gives up (`None`) when fewer than [`WALK_MIN_SHARE`]
/// of the first [`WALK_SAMPLE`] rows hold the words; always after [`WALK_MAX_ROWS`] rows.
fn walk(
    conn: &Connection,
    req: &SearchRequest,
    conversations: &[String],
    top: Option<i64>,
    sample: bool,
) -> Result<Option<Window>> {
    let now = now_millis();
    let matcher = rules::WordsMatcher::new(&req.query);
    let mut statements = conversations
        .iter()
        .map(|_| conn.prepare_cached(WALK_SQL))
        .collect::<rusqlite::Result<Vec<_>>>()
        .db()?;
    let mut reads = Vec::with_capacity(statements.len());
    for (statement, id) in statements.iter_mut().zip(conversations) {
        reads.push(
            statement
                .query(params![id, top.unwrap_or(i64::MAX), now, req.sender_id, req.before, req.after])
                .db()?,
        );
    }
    // The next message of a conversation; only a text that holds the words is copied out.
    let next = |rows: &mut rusqlite::Rows<'_>| -> Result<Option<Walked>> {
        let Some(row) = rows.next().db()? else { return Ok(None) };
        let text = row
            .get_ref(3)
            .db()?
            .as_str_or_null()
            .map_err(|e| confab_core::Error::Internal(format!("a message's text: {e}")))?
            .filter(|t| matcher.matches(t));
        let candidate = Candidate {
            position: row.get(0).db()?,
            sequence_number: row.get::<_, i64>(1).db()?.max(0) as u64,
            created_at: row.get(2).db()?,
            conversation_id: String::new(),
            text: text.map(str::to_string).unwrap_or_default(),
        };
        Ok(Some(Walked(candidate, text.is_some())))
    };
    // The newest unread message of each conversation, newest first.
    let mut heads = BinaryHeap::with_capacity(reads.len());
    for (arm, rows) in reads.iter_mut().enumerate() {
        if let Some(w) = next(rows)? {
            heads.push((w, arm));
        }
    }
    let (mut candidates, mut read) = (Vec::new(), 0usize);
    while let Some((Walked(mut c, holds), arm)) = heads.pop() {
        if let Some(following) = next(&mut reads[arm])? {
            heads.push((following, arm));
        }
        read += 1;
        if holds {
            c.conversation_id.clone_from(&conversations[arm]);
            candidates.push(c);
            if candidates.len() == WINDOW {
                break;
            }
        }
        if sample && read == WALK_SAMPLE && (candidates.len() as f64) < WALK_MIN_SHARE * read as f64 {
            return Ok(None);
        }
        if read >= WALK_MAX_ROWS {
            return Ok(None);
        }
    }
    // As FTS5's windows: document ids are unique, the next window starts just below the oldest.
    let older = if candidates.len() == WINDOW { candidates.last().map(|c| c.position - 1) } else { None };
    let top = top.or(candidates.first().map(|c| c.position)).unwrap_or(i64::MIN);
    Ok(Some(Window { top, candidates, older }))
}

fn window(conn: &Connection, req: &SearchRequest, expression: &str, top: Option<i64>) -> Result<Window> {
    let mut stmt = conn.prepare_cached(WINDOW_SQL).db()?;
    let rows = stmt
        .query_map(
            params![
                expression,
                req.user,
                top.unwrap_or(i64::MAX),
                now_millis(),
                req.conversation_id,
                req.sender_id,
                req.before,
                req.after,
                WINDOW as i64,
            ],
            |row| {
                Ok(Candidate {
                    position: row.get(0)?,
                    conversation_id: row.get(1)?,
                    sequence_number: row.get::<_, i64>(2)?.max(0) as u64,
                    created_at: row.get(3)?,
                    text: row.get::<_, Option<String>>(4)?.unwrap_or_default(),
                })
            },
        )
        .db()?;
    let candidates = rows.collect::<rusqlite::Result<Vec<_>>>().db()?;
    // Document ids are unique: the next window starts just below this one's oldest.
    let older = if candidates.len() == WINDOW { candidates.last().map(|c| c.position - 1) } else { None };
    let top = top.or(candidates.first().map(|c| c.position)).unwrap_or(i64::MIN);
    Ok(Window { top, candidates, older })
}

/// How a search finds its windows (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plan {
    /// A prefix query walks while its matches are dense, FTS5 answers the rest.
    Choose,
    Fts,
    Walk,
}

pub(crate) fn search(conn: &Connection, req: &SearchRequest) -> Result<Vec<SearchHit>> {
    search_with(conn, req, Plan::Choose)
}

pub(crate) fn search_with(conn: &Connection, req: &SearchRequest, plan: Plan) -> Result<Vec<SearchHit>> {
    let Some(words) = req.query.fts5_words() else { return Ok(Vec::new()) };
    let conversations = conversations(conn, req, MAX_NAMED_CONVERSATIONS + 1)?;
    let Some(expression) = match_expression(words, &conversations) else { return Ok(Vec::new()) };
    let walkable = conversations.len() <= MAX_WALKED;
    let mut plan = match plan {
        Plan::Choose if !walkable || !req.query.terms.iter().any(|t| t.prefix) => Plan::Fts,
        Plan::Walk if !walkable => Plan::Fts,
        plan => plan,
    };
    let mut pager = Pager::new(&req.query, req.after_key.as_ref(), req.limit as usize);
    // Checked before each window; a statement running when the limit runs out is interrupted
    // (`SqliteStore::search_snapshot`).
    let deadline = Deadline::start(req.time_limit);
    while let Some(top) = pager.wants() {
        deadline.left()?;
        let found = match plan {
            Plan::Fts => None,
            Plan::Walk => {
                let walked = walk(conn, req, &conversations, top, false)?;
                if walked.is_none() {
                    plan = Plan::Fts;
                }
                walked
            }
            Plan::Choose => {
                let walked = walk(conn, req, &conversations, top, true)?;
                plan = if walked.is_some() { Plan::Walk } else { Plan::Fts };
                walked
            }
        };
        let found = match found {
            Some(window) => window,
            None => window(conn, req, &expression, top)?,
        };
        pager.feed(found);
    }
    deadline.left()?;
    let mut hits = Vec::new();
    for key in pager.finish() {
        // Read in the same snapshot as the candidates: the message is there.
        if let Some(message) = messages::at(conn, &key.conversation_id, key.sequence_number)? {
            hits.push(SearchHit { message, key });
        }
    }
    Ok(hits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversation_words_are_what_sqlite_hex_writes() {
        let conn = Connection::open_in_memory().unwrap();
        let id = "0192-é:x";
        let sqlite: String = conn.query_row("SELECT hex(?1)", [id], |r| r.get(0)).unwrap();
        let ours: String = id.bytes().map(|b| format!("{b:02X}")).collect();
        assert_eq!(sqlite, ours);
    }
}
