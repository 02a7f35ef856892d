//! The PostgreSQL store, for clusters: every node shares one database.
//!
//! Appends are batched per node: one task takes queued appends, sorts them by conversation (so
//! nodes always lock conversation rows in the same order and cannot deadlock each other), and
//! commits them in one transaction, each inside its own savepoint. The per-conversation sequence is
//! the conversation row's `last_sequence`, incremented under that row's lock, so concurrent appends
//! from many nodes stay gapless. Other writes run in their own short transactions on a pool.

mod error;
mod queries;

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use confab_core::ids::now_millis;
use confab_core::store::{
    AfterCommit, Appended, ConversationStore, HistoryCursor, HistoryPage, MarkerMove, MessageRef,
    MessageStore, NewGroup, NewMessage, NewUser, PresenceStore, ReadMove, ReceiptStore, Receipts, Store,
    StoreFuture, UserCredentials, UserStore,
};
use confab_core::{Error, Result};
use confab_proto::{Conversation, SyncCursor, SyncResponse, User};
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::NoTls;

use self::error::PgResult;

const MIGRATIONS: &[&str] = &[include_str!("migrations/0001_init.sql")];
/// Most appends committed in one transaction.
const MAX_BATCH: usize = 256;
const QUEUE_CAPACITY: usize = 65_536;
const POOL_SIZE: usize = 16;

struct AppendJob {
    message: NewMessage,
    after_commit: Option<AfterCommit>,
    reply: oneshot::Sender<Result<Appended>>,
}

enum Command {
    Append(AppendJob),
    /// Answered once every append queued before it is committed (or failed).
    Flush(oneshot::Sender<()>),
}

pub struct PostgresStore {
    pool: Pool,
    appends: mpsc::Sender<Command>,
}

/// A schema name that is safe to put in SQL unquoted.
fn valid_schema(schema: &str) -> bool {
    !schema.is_empty()
        && schema.len() <= 63
        && schema.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !schema.as_bytes()[0].is_ascii_digit()
}

impl PostgresStore {
    /// Connects to `url`, with every table in `schema` when given (created if missing), and
    /// migrates. Must run inside a tokio runtime.
    pub async fn connect(url: &str, schema: Option<&str>) -> Result<PostgresStore> {
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e| Error::Internal(format!("invalid database URL: {e}")))?;
        if let Some(schema) = schema {
            if !valid_schema(schema) {
                return Err(Error::Internal(format!(
                    "invalid schema name `{schema}` (use [a-z_][a-z0-9_]*)"
                )));
            }
            let (client, connection) = config.connect(NoTls).await.db()?;
            let driver = tokio::spawn(connection);
            client.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}")).await.db()?;
            drop(client);
            let _ = driver.await;
            config.options(format!("-c search_path={schema}"));
        }
        config.connect_timeout(std::time::Duration::from_secs(5));
        let manager =
            Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .wait_timeout(Some(std::time::Duration::from_secs(5)))
            .create_timeout(Some(std::time::Duration::from_secs(5)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| Error::Internal(format!("database pool: {e}")))?;
        migrate(&pool).await?;
        let (appends, rx) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(run_appends(pool.clone(), rx));
        Ok(PostgresStore { pool, appends })
    }

    async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(error::pool)
    }

    /// Runs `work` in its own transaction.
    async fn write<T, F>(&self, work: F) -> Result<T>
    where
        F: for<'t> FnOnce(
            &'t deadpool_postgres::Transaction<'t>,
        ) -> std::pin::Pin<Box<dyn Future<Output = Result<T>> + Send + 't>>,
    {
        let mut client = self.client().await?;
        let tx = client.transaction().await.db()?;
        let result = work(&tx).await;
        match result {
            Ok(value) => {
                tx.commit().await.db()?;
                Ok(value)
            }
            Err(e) => {
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }

    /// Drops every table of this store's schema (for test isolation). Only for a schema of its own.
    pub async fn drop_schema(url: &str, schema: &str) -> Result<()> {
        if !valid_schema(schema) {
            return Err(Error::Internal("invalid schema".into()));
        }
        let (client, connection) = url
            .parse::<tokio_postgres::Config>()
            .map_err(|e| Error::Internal(format!("invalid database URL: {e}")))?
            .connect(NoTls)
            .await
            .db()?;
        let driver = tokio::spawn(connection);
        client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await.db()?;
        drop(client);
        let _ = driver.await;
        Ok(())
    }
}

async fn migrate(pool: &Pool) -> Result<()> {
    let mut client = pool.get().await.map_err(error::pool)?;
    let tx = client.transaction().await.db()?;
    // Several nodes may start at once: one migrates, the others wait and find it done.
    tx.batch_execute(
        "SELECT pg_advisory_xact_lock(7316053);
         CREATE TABLE IF NOT EXISTS confab_migrations (version INTEGER PRIMARY KEY)",
    )
    .await
    .db()?;
    let applied: i32 =
        tx.query_one("SELECT COALESCE(MAX(version), 0) FROM confab_migrations", &[]).await.db()?.get(0);
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied.max(0) as usize) {
        tx.batch_execute(sql).await.db()?;
        tx.execute("INSERT INTO confab_migrations (version) VALUES ($1)", &[&(i as i32 + 1)]).await.db()?;
    }
    tx.commit().await.db()
}

async fn run_appends(pool: Pool, mut rx: mpsc::Receiver<Command>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        let mut flush = None;
        match first {
            Command::Append(job) => batch.push(job),
            Command::Flush(tx) => flush = Some(tx),
        }
        while flush.is_none() && batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Command::Append(job)) => batch.push(job),
                Ok(Command::Flush(tx)) => flush = Some(tx),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            // Stable: one conversation's appends keep their arrival order.
            batch.sort_by(|a, b| a.message.conversation_id.cmp(&b.message.conversation_id));
            commit_batch(&pool, &mut batch).await;
        }
        if let Some(tx) = flush {
            let _ = tx.send(());
        }
    }
}

/// Commits a batch in one transaction and three round trips plus the commit: every append's
/// checks at once (pipelined on one connection), then every write (pipelined, executed in order),
/// then `COMMIT`. A write can still fail if another node stores the same `messageId` between the
/// check and the write; then the whole batch fails with `UNAVAILABLE` and nothing of it is stored,
/// and the clients' retries are answered idempotently.
async fn commit_batch(pool: &Pool, batch: &mut Vec<AppendJob>) {
    let now = now_millis();
    // Only the messages cross the awaits below (the commit hooks are not `Sync`).
    let messages: Vec<&NewMessage> = batch.iter().map(|job| &job.message).collect();
    let outcome: Result<Vec<Result<Appended>>> = async {
        let mut client = pool.get().await.map_err(error::pool)?;
        let tx = client.transaction().await.db()?;
        let checks =
            futures_util::future::join_all(messages.iter().map(|m| queries::check_append(&tx, m))).await;
        enum Decision {
            Done(Result<Appended>),
            Write,
            /// A retry of the message at this index, earlier in this very batch.
            RetryOf(usize),
        }
        let mut decided = Vec::with_capacity(messages.len());
        for (i, (message, check)) in messages.iter().zip(checks).enumerate() {
            let earlier = messages[..i].iter().position(|m| m.message_id == message.message_id);
            decided.push(match earlier {
                Some(j) if messages[j].same_as(message) => Decision::RetryOf(j),
                Some(_) => Decision::Done(Err(Error::DuplicateMessage)),
                None => match queries::decide_append(message, check?) {
                    Some(done) => Decision::Done(done),
                    None => Decision::Write,
                },
            });
        }
        let writes = futures_util::future::join_all(
            messages
                .iter()
                .zip(&decided)
                .filter(|(_, d)| matches!(d, Decision::Write))
                .map(|(m, _)| queries::write_append(&tx, m, now)),
        )
        .await;
        let mut writes = writes.into_iter();
        let mut results: Vec<Result<Appended>> = Vec::with_capacity(messages.len());
        for d in decided {
            let result = match d {
                Decision::Done(r) => r,
                // A failed write aborted the transaction: the whole batch fails.
                Decision::Write => {
                    Ok(writes.next().ok_or_else(|| Error::Internal("missing write".into()))??)
                }
                Decision::RetryOf(j) => {
                    results[j].clone().map(|a: Appended| Appended { created: false, ..a })
                }
            };
            results.push(result);
        }
        tx.commit().await.db()?;
        Ok(results)
    }
    .await;
    match outcome {
        Ok(results) => {
            for (job, result) in batch.drain(..).zip(results) {
                if let (Ok(appended), Some(hook)) = (&result, job.after_commit) {
                    hook(appended);
                }
                let _ = job.reply.send(result);
            }
        }
        Err(e) => {
            // Whatever failed, nothing of the batch is stored: say so in the protocol's terms.
            let e = match e {
                Error::Internal(m) => Error::Unavailable(m),
                other => other,
            };
            tracing::error!(error = %e, appends = batch.len(), "append batch failed; nothing of it was stored");
            for job in batch.drain(..) {
                let _ = job.reply.send(Err(e.clone()));
            }
        }
    }
}

macro_rules! read {
    ($self:ident, |$c:ident| $body:expr) => {{
        let $c = $self.client().await?;
        let $c = &$c;
        $body
    }};
}

#[async_trait]
impl UserStore for PostgresStore {
    async fn create_user(&self, user: NewUser) -> Result<User> {
        read!(self, |c| queries::create_user(c, &user).await)
    }

    async fn credentials(&self, username: &str) -> Result<Option<UserCredentials>> {
        read!(self, |c| queries::credentials(c, username).await)
    }

    async fn user(&self, user_id: &str) -> Result<Option<User>> {
        read!(self, |c| queries::user(c, user_id).await)
    }

    async fn search_users(&self, prefix: &str, limit: u32) -> Result<Vec<User>> {
        read!(self, |c| queries::search_users(c, prefix, limit).await)
    }
}

#[async_trait]
impl ConversationStore for PostgresStore {
    async fn open_direct(&self, a: &str, b: &str, new_id: String, now: i64) -> Result<(String, bool)> {
        let (a, b) = (a.to_string(), b.to_string());
        self.write(move |tx| Box::pin(async move { queries::open_direct(tx, &a, &b, &new_id, now).await }))
            .await
    }

    async fn create_group(&self, group: NewGroup) -> Result<()> {
        self.write(move |tx| Box::pin(async move { queries::create_group(tx, &group).await })).await
    }

    async fn conversation(&self, conversation_id: &str, viewer: &str) -> Result<Conversation> {
        read!(self, |c| queries::conversation_view(c, conversation_id, viewer).await)
    }

    async fn conversations_of(&self, user: &str) -> Result<Vec<Conversation>> {
        read!(self, |c| {
            let mut out = Vec::new();
            for id in queries::conversation_ids_of(c, user).await? {
                out.push(queries::conversation_view(c, &id, user).await?);
            }
            Ok(out)
        })
    }

    async fn add_members(
        &self,
        conversation_id: &str,
        actor: &str,
        user_ids: &[String],
        now: i64,
        max_group_size: u32,
    ) -> Result<Vec<String>> {
        let (id, actor, user_ids) = (conversation_id.to_string(), actor.to_string(), user_ids.to_vec());
        self.write(move |tx| {
            Box::pin(
                async move { queries::add_members(tx, &id, &actor, &user_ids, now, max_group_size).await },
            )
        })
        .await
    }

    async fn remove_member(&self, conversation_id: &str, actor: &str, user: &str) -> Result<()> {
        let (id, actor, user) = (conversation_id.to_string(), actor.to_string(), user.to_string());
        self.write(move |tx| Box::pin(async move { queries::remove_member(tx, &id, &actor, &user).await }))
            .await
    }

    async fn member_ids(&self, conversation_id: &str) -> Result<Vec<String>> {
        read!(self, |c| queries::member_ids(c, conversation_id).await)
    }

    async fn read_markers(&self, conversation_id: &str) -> Result<Vec<(String, u64)>> {
        read!(self, |c| queries::read_markers(c, conversation_id).await)
    }
}

#[async_trait]
impl MessageStore for PostgresStore {
    fn append(&self, message: NewMessage, after_commit: Option<AfterCommit>) -> StoreFuture<Appended> {
        let (reply, rx) = oneshot::channel();
        // Queued now, so the caller's appends commit in call order.
        let queued = self.appends.try_send(Command::Append(AppendJob { message, after_commit, reply }));
        Box::pin(async move {
            match queued {
                Ok(()) => rx.await.unwrap_or_else(|_| Err(Error::Unavailable("append task stopped".into()))),
                Err(mpsc::error::TrySendError::Full(_)) => {
                    Err(Error::Unavailable("append queue is full".into()))
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    Err(Error::Unavailable("storage is shutting down".into()))
                }
            }
        })
    }

    async fn history(
        &self,
        conversation_id: &str,
        viewer: &str,
        cursor: HistoryCursor,
        limit: u32,
    ) -> Result<HistoryPage> {
        read!(self, |c| queries::history(c, conversation_id, viewer, cursor, limit).await)
    }

    async fn locate_message(&self, message_id: &str, viewer: &str) -> Result<(String, u64)> {
        read!(self, |c| queries::locate_message(c, message_id, viewer).await)
    }

    async fn sync(&self, user: &str, cursors: &[SyncCursor], limit: u32) -> Result<SyncResponse> {
        // One snapshot for the whole answer.
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .read_only(true)
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .start()
            .await
            .db()?;
        let result = queries::sync(&tx, user, cursors, limit, now_millis()).await;
        let _ = tx.commit().await;
        result
    }
}

#[async_trait]
impl ReceiptStore for PostgresStore {
    async fn mark_delivered(
        &self,
        conversation_id: &str,
        user: &str,
        up_to: u64,
        at: i64,
    ) -> Result<MarkerMove> {
        let (id, user) = (conversation_id.to_string(), user.to_string());
        self.write(move |tx| {
            Box::pin(async move {
                queries::move_marker(tx, &id, &user, queries::Marker::Delivered, up_to, at).await
            })
        })
        .await
    }

    async fn mark_read(&self, conversation_id: &str, user: &str, up_to: u64, at: i64) -> Result<ReadMove> {
        let (id, user) = (conversation_id.to_string(), user.to_string());
        self.write(move |tx| Box::pin(async move { queries::mark_read(tx, &id, &user, up_to, at).await }))
            .await
    }

    async fn messages_between(
        &self,
        conversation_id: &str,
        after: u64,
        up_to: u64,
    ) -> Result<Vec<MessageRef>> {
        read!(self, |c| queries::messages_between(c, conversation_id, after, up_to).await)
    }

    async fn receipts(&self, conversation_id: &str, message_id: &str, viewer: &str) -> Result<Receipts> {
        read!(self, |c| queries::receipts(c, conversation_id, message_id, viewer).await)
    }
}

#[async_trait]
impl PresenceStore for PostgresStore {
    async fn touch_last_seen(&self, user: &str, at: i64) -> Result<()> {
        read!(self, |c| queries::touch_last_seen(c, user, at).await)
    }

    async fn last_seen(&self, users: &[String]) -> Result<Vec<(String, Option<i64>)>> {
        read!(self, |c| queries::last_seen(c, users).await)
    }

    async fn contacts_of(&self, user: &str, limit: u32) -> Result<Vec<String>> {
        read!(self, |c| queries::contacts_of(c, user, limit).await)
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> Result<()> {
        read!(self, |c| c.simple_query("SELECT 1").await.db().map(|_| ()))
    }

    async fn setting_or_init(&self, key: &str, candidate: &str) -> Result<String> {
        read!(self, |c| queries::setting_or_init(c, key, candidate).await)
    }

    async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.appends.send(Command::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// Opens a shared handle.
pub async fn open(url: &str, schema: Option<&str>) -> Result<Arc<PostgresStore>> {
    Ok(Arc::new(PostgresStore::connect(url, schema).await?))
}

#[cfg(test)]
mod tests;
