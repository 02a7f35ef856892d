//! Message search over the `tsvector` column of migrations 0008, 0016 and 0017 (each word with
//! the word after it, written by Confab with every message: [`document`]):
//! candidates newest first, by `createdAt` (see `confab_core::rules::search` for the documents,
//! windows, ranking and the cursor).
//!
//! A window is found one of two ways, chosen once per search by [`Plan::choose`] from a sample
//! of the caller's newest messages:
//! - [`Plan::Walk`]: each of the caller's conversations is read newest first (the index of
//!   migration 0014), the reads merged by time, and reading stops when the window is full. It
//!   costs about `WINDOW / density` rows: what common words and short prefixes need, since the
//!   GIN index cannot hand its matches out newest first and every one of them would be read and
//!   sorted.
//! - [`Plan::Index`]: the GIN index finds every match in the caller's conversations, and those
//!   are read and sorted. It costs the matches: what rare words need, where walking would read
//!   every message of every conversation to fill a window.

use std::error::Error as StdError;

use bytes::{BufMut, BytesMut};
use confab_core::ids::now_millis;
use confab_core::rules::search::{self as rules, Candidate, Deadline, Pager, Window, WINDOW};
use confab_core::store::{SearchHit, SearchRequest};
use confab_core::{Error, Result};
use confab_proto::Content;
use deadpool_postgres::GenericClient;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};

use super::messages;
use crate::postgres::error::{self, PgResult};

/// A caller in more conversations than this is searched through the index alone: a walk is one
/// branch per conversation in one statement.
const MAX_WALKED: usize = 200;

/// Newest messages of the caller's conversations looked at to estimate how dense the matches are.
const SAMPLE: i64 = 500;

/// Every condition a candidate must meet, on top of its conversation (a condition on messages is
/// one more line here: an expired message is never found, swept or not). `$1` is the query
/// (`SearchQuery::tsquery`); `$2`/`$3` bound the window's positions, `$6`/`$7` are the caller's
/// `before`/`after`.
const CONDITIONS: &str = "search @@ $1::TEXT::tsquery
          AND ($2::BIGINT IS NULL OR created_at <= $2)
          AND ($3::BIGINT IS NULL OR created_at >= $3)
          AND deleted_at IS NULL
          AND (expires_at IS NULL OR expires_at > $4)
          AND ($5::TEXT IS NULL OR sender_id = $5)
          AND ($6::BIGINT IS NULL OR created_at < $6)
          AND ($7::BIGINT IS NULL OR created_at > $7)";

/// How a search finds its windows (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Plan {
    /// Merge the newest-first reads of these conversations (`$9`…).
    Walk(Vec<String>),
    /// The GIN index over every conversation of the caller (`$9`), or the one asked for (`$10`).
    Index,
}

impl Plan {
    /// From a sample: `matched` of the `sampled` newest messages hold the words, and the caller's
    /// conversations hold about `rows` messages. Walking reads about `WINDOW / density` rows per
    /// window, the index reads `density × rows` matches: the cheaper one wins; with no match in
    /// the sample, the words are rare and the index wins.
    fn choose(conversations: Vec<String>, matched: i64, sampled: i64, rows: i64) -> Plan {
        if matched <= 0 || sampled <= 0 {
            return Plan::Index;
        }
        let density = matched as f64 / sampled as f64;
        if (WINDOW as f64) / density < density * rows as f64 {
            Plan::Walk(conversations)
        } else {
            Plan::Index
        }
    }

    fn sql(&self) -> String {
        let columns = "created_at, conversation_id, sequence_number, content";
        let inner = match self {
            Plan::Walk(conversations) => (0..conversations.len())
                .map(|i| {
                    format!(
                        "(SELECT {columns} FROM messages WHERE conversation_id = ${} AND {CONDITIONS}
                          ORDER BY created_at DESC LIMIT $8)",
                        i + 9
                    )
                })
                .collect::<Vec<_>>()
                .join(" UNION ALL "),
            Plan::Index => format!(
                "SELECT {columns} FROM messages
                 WHERE conversation_id = ANY(ARRAY(SELECT conversation_id FROM members WHERE user_id = $9))
                   AND ($10::TEXT IS NULL OR conversation_id = $10)
                   AND {CONDITIONS}
                 ORDER BY created_at DESC LIMIT $8"
            ),
        };
        // The text is parsed out of the window only, not out of every row looked at.
        format!(
            "SELECT w.created_at, w.conversation_id, w.sequence_number, w.content::jsonb ->> 'text'
             FROM ({inner}) w ORDER BY w.created_at DESC LIMIT $8"
        )
    }

    /// Planner settings for this search's transaction. Walking must read each conversation in
    /// time order (the planner, misjudging prefixes as rare, would read them whole and sort).
    /// JIT compiling a statement of many branches costs far more than running it.
    fn settings(&self) -> &'static str {
        match self {
            Plan::Walk(_) => {
                "SET LOCAL jit = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off"
            }
            Plan::Index => "SET LOCAL jit = off",
        }
    }
}

/// The plan for `query` (`SearchQuery::tsquery`).
async fn prepare<C: GenericClient>(c: &C, req: &SearchRequest, query: &str) -> Result<Plan> {
    let conversations: Vec<String> = c
        .query(
            "SELECT conversation_id FROM members
             WHERE user_id = $1 AND ($2::TEXT IS NULL OR conversation_id = $2) LIMIT $3",
            &[&req.user, &req.conversation_id, &((MAX_WALKED + 1) as i64)],
        )
        .await
        .db()?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if conversations.is_empty() || conversations.len() > MAX_WALKED {
        return Ok(Plan::Index);
    }
    let branches: Vec<String> = (0..conversations.len())
        .map(|i| {
            format!(
                "(SELECT created_at, search FROM messages WHERE conversation_id = ${}
                  ORDER BY created_at DESC LIMIT $3)",
                i + 4
            )
        })
        .collect();
    let sql = format!(
        "WITH s AS (SELECT u.search FROM ({}) u ORDER BY u.created_at DESC LIMIT $3)
         SELECT (SELECT count(*) FROM s WHERE s.search @@ $1::TEXT::tsquery),
                (SELECT count(*) FROM s),
                (SELECT COALESCE(sum(last_sequence), 0)::BIGINT FROM conversations
                 WHERE conversation_id = ANY($2))",
        branches.join(" UNION ALL ")
    );
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&query, &conversations, &SAMPLE];
    params.extend(conversations.iter().map(|id| id as &(dyn ToSql + Sync)));
    let row = c.query_one(&sql, &params).await.db()?;
    let (matched, sampled, rows): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    Ok(Plan::choose(conversations, matched, sampled, rows))
}

/// One search's plan, ready to fetch windows.
struct Planned<'a> {
    req: &'a SearchRequest,
    /// The query (`SearchQuery::tsquery`).
    query: String,
    plan: Plan,
    sql: String,
}

impl Planned<'_> {
    async fn candidates<C: GenericClient>(
        &self,
        c: &C,
        top: Option<i64>,
        floor: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Vec<Candidate>> {
        let req = self.req;
        let now = now_millis();
        let mut params: Vec<&(dyn ToSql + Sync)> =
            vec![&self.query, &top, &floor, &now, &req.sender_id, &req.before, &req.after, &limit];
        match &self.plan {
            Plan::Walk(conversations) => {
                params.extend(conversations.iter().map(|id| id as &(dyn ToSql + Sync)))
            }
            Plan::Index => params.extend([&req.user as &(dyn ToSql + Sync), &req.conversation_id]),
        }
        let rows = c.query(&self.sql, &params).await.db()?;
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
    async fn window<C: GenericClient>(&self, c: &C, top: Option<i64>) -> Result<Window> {
        let mut found = self.candidates(c, top, None, Some(WINDOW as i64)).await?;
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
            let found = self.candidates(c, Some(oldest), Some(oldest), None).await?;
            Ok(Window { top: window_top, candidates: found, older: Some(oldest - 1) })
        }
    }
}

/// Runs in the read-only transaction of the caller (`SET LOCAL` ends with it).
///
/// With a time limit, the limit is checked before each step (the plan, each window, reading the
/// hits), and the step's statements run under a `statement_timeout` of what is left of it: a
/// search stops within its limit whether one statement or many take the time.
pub(crate) async fn search<C: GenericClient>(c: &C, req: &SearchRequest) -> Result<Vec<SearchHit>> {
    let deadline = Deadline::start(req.time_limit);
    timed(&deadline, search_within(c, req, &deadline)).await
}

async fn search_within<C: GenericClient>(
    c: &C,
    req: &SearchRequest,
    deadline: &Deadline,
) -> Result<Vec<SearchHit>> {
    let Some(query) = req.query.tsquery() else { return Ok(Vec::new()) };
    if let Some(bound) = statement_timeout(deadline)? {
        c.batch_execute(&bound).await.db()?;
    }
    let plan = prepare(c, req, &query).await?;
    // The first window's bound goes with the plan's settings: no round trip of its own.
    let mut settings = plan.settings().to_string();
    if let Some(bound) = statement_timeout(deadline)? {
        settings = format!("{settings}; {bound}");
    }
    c.batch_execute(&settings).await.db()?;
    let planned = Planned { req, query, sql: plan.sql(), plan };
    let mut pager = Pager::new(&req.query, req.after_key.as_ref(), req.limit as usize);
    let mut first = true;
    while let Some(top) = pager.wants() {
        if !std::mem::take(&mut first) {
            if let Some(bound) = statement_timeout(deadline)? {
                c.batch_execute(&bound).await.db()?;
            }
        }
        pager.feed(planned.window(c, top).await?);
    }
    // Reading the hits (one row each by key) stays under the last window's bound.
    deadline.left()?;
    let mut hits = Vec::new();
    for key in pager.finish() {
        if let Some(message) = messages::at(c, &key.conversation_id, key.sequence_number).await? {
            hits.push(SearchHit { message, key });
        }
    }
    Ok(hits)
}

/// Before a step of a search: fails once its time limit is spent, else the statement that
/// bounds the step's statements by what is left (`statement_timeout` counts whole milliseconds;
/// 0 would mean none); `None` without a limit.
fn statement_timeout(deadline: &Deadline) -> Result<Option<String>> {
    Ok(deadline.left()?.map(|left| format!("SET LOCAL statement_timeout = {}", left.as_millis().max(1))))
}

/// `work`'s result, with a statement cancelled by its timeout (`57014`) reported as the search
/// being too broad rather than as the database being unavailable.
pub(crate) async fn timed<T>(
    deadline: &Deadline,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    match (work.await, deadline.exceeded()) {
        (Err(Error::Unavailable(message)), Some(exceeded)) if error::is_cancelled(&message) => Err(exceeded),
        (result, _) => result,
    }
}

/// The search document of a message's text or caption (`$n::tsvector`); `None` for a message
/// with nothing to find (a tombstone, an attachment without a caption).
pub(crate) fn document(content: &Content) -> Option<Document> {
    content.text().map(|text| Document(rules::SearchDocument::new(text)))
}

/// A message's search document ([`rules::SearchDocument`]), sent as a `tsvector` in
/// PostgreSQL's binary form, so the database parses no quoted text for it.
#[derive(Debug)]
pub(crate) struct Document(rules::SearchDocument);

impl ToSql for Document {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn StdError + Sync + Send>> {
        // `tsvectorrecv`: the count, then each lexeme NUL-terminated with its number of
        // positions (none). Lexemes are alphanumeric runs, so they hold no NUL.
        let lexemes = self.0.lexemes();
        out.put_i32(i32::try_from(lexemes.len())?);
        for (pair, lexeme) in lexemes {
            if pair {
                out.put_u8(b'~');
            }
            out.put_slice(lexeme.as_bytes());
            out.put_u8(0);
            out.put_u16(0);
        }
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TS_VECTOR
    }

    to_sql_checked!();
}

/// Messages rewritten per statement by [`rewrite_documents`].
const REWRITE_BATCH: i64 = 2000;

/// Rewrites every stored message's document as Confab writes it now (migration 0017), in the
/// migration's transaction, a batch at a time in key order: documents written by the database's
/// own text search functions (before 0016) were folded by them, and those of 0016 held every
/// word and every pair; queries look for neither any more.
pub(crate) async fn rewrite_documents<C: GenericClient>(c: &C) -> Result<()> {
    let mut after: (String, i64) = (String::new(), -1);
    loop {
        let rows = c
            .query(
                "SELECT conversation_id, sequence_number, content::jsonb ->> 'text' FROM messages
                 WHERE (conversation_id, sequence_number) > ($1, $2) AND deleted_at IS NULL
                 ORDER BY conversation_id, sequence_number LIMIT $3",
                &[&after.0, &after.1, &REWRITE_BATCH],
            )
            .await
            .db()?;
        let Some(last) = rows.last() else { return Ok(()) };
        after = (last.get(0), last.get(1));
        let conversations: Vec<&str> = rows.iter().map(|r| r.get(0)).collect();
        let sequences: Vec<i64> = rows.iter().map(|r| r.get(1)).collect();
        let documents: Vec<Option<Document>> = rows
            .iter()
            .map(|r| r.get::<_, Option<&str>>(2).map(|text| Document(rules::SearchDocument::new(text))))
            .collect();
        c.execute(
            "UPDATE messages m SET search = d.search
             FROM unnest($1::TEXT[], $2::BIGINT[], $3::tsvector[]) AS d(conversation_id, sequence_number, search)
             WHERE m.conversation_id = d.conversation_id AND m.sequence_number = d.sequence_number",
            &[&conversations, &sequences, &documents],
        )
        .await
        .db()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("c{i}")).collect()
    }

    #[test]
    fn common_words_walk_and_rare_words_use_the_index() {
        // Four in ten of 50 000 messages: walking reads ~2 500 rows, the index ~20 000 matches.
        assert_eq!(Plan::choose(ids(2), 200, 500, 50_000), Plan::Walk(ids(2)));
        // One in a thousand: walking would read everything, the index reads ~50 matches.
        assert_eq!(Plan::choose(ids(2), 1, 1000, 50_000), Plan::Index);
        // None in the sample, or nothing sampled.
        assert_eq!(Plan::choose(ids(2), 0, 500, 50_000), Plan::Index);
        assert_eq!(Plan::choose(ids(2), 0, 0, 0), Plan::Index);
        // A few messages in all: either is cheap, and the index reads fewer.
        assert_eq!(Plan::choose(ids(2), 100, 100, 100), Plan::Index);
    }

    #[test]
    fn a_walk_has_one_branch_per_conversation_and_one_limit_over_all() {
        let sql = Plan::Walk(ids(3)).sql();
        assert_eq!(sql.matches("UNION ALL").count(), 2);
        assert!(sql.contains("conversation_id = $11"));
        assert!(!sql.contains("$12"));
        assert!(sql.trim_end().ends_with("ORDER BY w.created_at DESC LIMIT $8"));
        assert!(Plan::Index.sql().contains("$10"));
    }
}
