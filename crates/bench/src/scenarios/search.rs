//! `search`: message search at scale. Seeds `--messages` messages across `--conversations` groups
//! directly through the store (appends pipelined on the store's own write path, so the search index
//! is built as in production, not measured), then measures search latency (the store's search
//! and the snippets, as the REST route runs them, without HTTP) for one user who is a member of
//! `--member-of` of the groups: a common word, a rare word, a prefix and a phrase. Also reports
//! the index size per message (SQLite: the FTS5 tables, from `dbstat`; PostgreSQL: the GIN index,
//! the tsvector column and the time index the search walks).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, ValueEnum};
use confab_core::ids::now_millis;
use confab_core::rules::search;
use confab_core::store::{NewGroup, NewMessage, NewUser, SearchRequest, SharedStore};
use confab_proto::{Content, GroupSettings};
use futures_util::stream::{self, StreamExt};
use serde::Serialize;

use crate::corpus::{self, Rng};
use crate::report::{Report, Step};
use crate::stats::{self, LatencySummary};
use crate::target::ServerInfo;
use crate::{users, OutputArgs, TargetArgs};

#[derive(ValueEnum, Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Args, Debug, Clone, Serialize)]
pub struct SearchArgs {
    /// Not used: this scenario drives the store in-process.
    #[arg(skip)]
    #[serde(skip)]
    pub target: TargetArgs,
    #[command(flatten)]
    #[serde(skip)]
    pub output: OutputArgs,
    /// Messages seeded, all conversations together.
    #[arg(long, default_value_t = 100_000)]
    pub messages: usize,
    /// Group conversations they are spread over.
    #[arg(long, default_value_t = 1000)]
    pub conversations: usize,
    /// Conversations the searching user is a member of.
    #[arg(long, default_value_t = 50)]
    pub member_of: usize,
    /// Searches measured per kind of query.
    #[arg(long, default_value_t = 200)]
    pub queries: usize,
    /// Results per search (the first page).
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    pub backend: Backend,
    /// PostgreSQL URL for `--backend postgres` (a fresh schema is created and dropped).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    pub database_url: String,
    /// Keep the seeded PostgreSQL schema (its name is printed) to look into afterwards.
    #[arg(long)]
    pub keep_schema: bool,
    /// Appends in flight while seeding.
    #[arg(long, default_value_t = 2000)]
    pub seed_pipeline: usize,
    /// Each search's time limit in ms, as the server's `--search-timeout-ms` gives it (0: none).
    #[arg(long, default_value_t = 3000)]
    pub time_limit_ms: u64,
}

/// The queries measured, by kind.
const QUERIES: &[(&str, &[&str])] = &[
    ("common word", &["meeting", "project", "today", "deadline"]),
    ("rare word", &["quokka", "w123", "w4567", "w31337"]),
    ("prefix", &["dead*", "proj*", "rel*", "co*"]),
    ("phrase", &["\"project deadline\"", "\"the meeting\"", "\"budget review\"", "\"cafe\""]),
];

pub async fn run(args: &SearchArgs, output: &OutputArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(
        args.conversations > 0 && args.messages > 0 && args.queries > 0,
        "counts must be positive"
    );
    anyhow::ensure!(args.member_of <= args.conversations, "--member-of exceeds --conversations");
    let dir = tempfile::tempdir()?;
    let schema = format!("confab_bench_{}", uuid::Uuid::new_v4().simple());
    let (store, db_path): (SharedStore, _) = match args.backend {
        Backend::Sqlite => {
            let path = dir.path().join("confab.db");
            (Arc::new(confab_store::sqlite::SqliteStore::open(&path)?), Some(path))
        }
        Backend::Postgres => {
            let store =
                confab_store::postgres::PostgresStore::connect(&args.database_url, Some(&schema)).await?;
            (Arc::new(store), None)
        }
    };
    let info = ServerInfo { urls: Vec::new(), pid: None, spawned: false, command: None, pinned_cpus: None };
    let system = match args.backend {
        Backend::Sqlite => "confab-sqlite",
        Backend::Postgres => "confab-postgres",
    };
    let mut report = Report::new("search", system, info, serde_json::to_value(args)?);
    let result = measure(args, output, &store, db_path.as_deref(), &schema, &mut report).await;
    store.shutdown().await;
    if args.backend == Backend::Postgres {
        if args.keep_schema {
            eprintln!("kept schema {schema}");
        } else {
            confab_store::postgres::PostgresStore::drop_schema(&args.database_url, &schema).await?;
        }
    }
    result.map(|()| report)
}

async fn measure(
    args: &SearchArgs,
    output: &OutputArgs,
    store: &SharedStore,
    db_path: Option<&std::path::Path>,
    schema: &str,
    report: &mut Report,
) -> anyhow::Result<()> {
    // Users: the reader, and one sender per conversation plus the reader where it is a member.
    let new_user = |name: String| NewUser {
        user_id: uuid::Uuid::new_v4().to_string(),
        username: name.clone(),
        display_name: name,
        password_hash: None,
        created_at: now_millis(),
        invite: None,
    };
    let reader = store.create_user(new_user("reader".into())).await?.user_id;
    let mut conversations = Vec::with_capacity(args.conversations);
    for c in 0..args.conversations {
        let sender = store.create_user(new_user(format!("sender{c}"))).await?.user_id;
        let id = uuid::Uuid::new_v4().to_string();
        let members =
            if c < args.member_of { vec![sender.clone(), reader.clone()] } else { vec![sender.clone()] };
        store
            .create_group(NewGroup {
                conversation_id: id.clone(),
                name: format!("group {c}"),
                creator_id: sender.clone(),
                member_ids: members,
                settings: GroupSettings::default(),
                created_at: now_millis(),
                max_group_size: 10,
            })
            .await?;
        conversations.push((id, sender));
    }

    let bar = users::progress(args.messages as u64, "seeding", output.quiet);
    let started = Instant::now();
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    let plan: Vec<(usize, String)> =
        (0..args.messages).map(|i| (rng.below(args.conversations), corpus::text(&mut rng, i))).collect();
    let appends = stream::iter(plan.into_iter().enumerate())
        .map(|(i, (c, t))| {
            let (conv, sender) = &conversations[c];
            let msg =
                NewMessage::new(format!("m{i}"), conv.clone(), sender.clone(), Content::Text { text: t });
            store.append(msg, None)
        })
        .buffer_unordered(args.seed_pipeline);
    let mut appends = std::pin::pin!(appends);
    while let Some(done) = appends.next().await {
        done.context("seeding append")?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    let seed_secs = started.elapsed().as_secs_f64();

    let mut step = Step::new(format!("{} messages, {} conversations", args.messages, args.conversations));
    step.metric("seed_rate", args.messages as f64 / seed_secs, "msg/s");
    if let Some(bytes) = index_bytes(args, db_path, schema).await? {
        step.metric("index_bytes_per_message", bytes as f64 / args.messages as f64, "B");
    }
    settle(args, schema).await?;
    for (kind, queries) in QUERIES {
        let mut h = stats::histogram();
        // Each query of the kind on its own too: one slow query is what a kind's tail hides.
        let mut by_query: Vec<_> = queries.iter().map(|_| stats::histogram()).collect();
        let mut found = 0usize;
        for n in 0..args.queries {
            let q = queries[n % queries.len()];
            let query = search::parse(q)?;
            let t0 = stats::now_us();
            let mut request = SearchRequest::new(&reader, query.clone(), args.limit + 1);
            request.time_limit = (args.time_limit_ms > 0).then(|| Duration::from_millis(args.time_limit_ms));
            let hits = store.search_messages(request).await?;
            let snippets: Vec<String> = hits
                .iter()
                .map(|h| search::snippet(&query, h.message.content.text().unwrap_or_default()))
                .collect();
            let took = stats::now_us().saturating_sub(t0).max(1);
            h.saturating_record(took);
            by_query[n % queries.len()].saturating_record(took);
            found += snippets.len().min(args.limit as usize);
        }
        step.metric(&format!("{kind}: results per search"), found as f64 / args.queries as f64, "");
        step.latencies.push(LatencySummary::from_histogram(kind, &h));
        for (q, h) in queries.iter().zip(&by_query) {
            step.latencies.push(LatencySummary::from_histogram(&format!("{kind}: {q}"), h));
        }
    }
    report.steps.push(step);
    report.notes.push(format!(
        "searching user in {} of {} conversations; latency = store search + snippets (no HTTP)",
        args.member_of, args.conversations
    ));
    if args.backend == Backend::Postgres {
        report.notes.push("PostgreSQL: VACUUM (ANALYZE) after seeding, as autovacuum would".into());
    }
    Ok(())
}

/// PostgreSQL: what autovacuum does soon after a bulk load (visibility, planner statistics),
/// done at once, so the searches are measured as on a database that has been running. Without
/// statistics the planner takes every word for rare.
async fn settle(args: &SearchArgs, schema: &str) -> anyhow::Result<()> {
    if args.backend != Backend::Postgres {
        return Ok(());
    }
    let (client, connection) = tokio_postgres::connect(&args.database_url, tokio_postgres::NoTls).await?;
    let driver = tokio::spawn(connection);
    // One statement each: VACUUM cannot run inside the transaction a multi-statement string is.
    for sql in [
        format!("VACUUM (ANALYZE) {schema}.messages"),
        format!("ANALYZE {schema}.members"),
        format!("ANALYZE {schema}.conversations"),
    ] {
        client.batch_execute(&sql).await?;
    }
    drop(client);
    let _ = driver.await;
    Ok(())
}

/// Bytes the search index takes.
async fn index_bytes(
    args: &SearchArgs,
    db_path: Option<&std::path::Path>,
    schema: &str,
) -> anyhow::Result<Option<u64>> {
    match (args.backend, db_path) {
        (Backend::Sqlite, Some(path)) => {
            let conn = rusqlite::Connection::open(path)?;
            let bytes: i64 = conn.query_row(
                "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat
                 WHERE name LIKE 'message_search%'",
                [],
                |r| r.get(0),
            )?;
            Ok(Some(bytes.max(0) as u64))
        }
        (Backend::Postgres, _) => {
            let (client, connection) =
                tokio_postgres::connect(&args.database_url, tokio_postgres::NoTls).await?;
            let driver = tokio::spawn(connection);
            let row = client
                .query_one(
                    &format!(
                        "SELECT pg_relation_size('{schema}.messages_search')::BIGINT
                              + pg_relation_size('{schema}.messages_by_time')::BIGINT
                              + (SELECT COALESCE(SUM(pg_column_size(search)), 0) FROM {schema}.messages)::BIGINT"
                    ),
                    &[],
                )
                .await?;
            drop(client);
            let _ = driver.await;
            Ok(Some(row.get::<_, i64>(0).max(0) as u64))
        }
        _ => Ok(None),
    }
}
