//! The embedded store: one SQLite file in WAL mode.
//!
//! Writes go through one writer thread ([`writer`]) that commits them in batches with
//! `synchronous=FULL`, so every acknowledged write has been fsync'd and many messages share one
//! fsync; a commit's WAL frames reach the file system as one write ([`wal_writes`]). Reads run on a small pool of reader connections on the blocking thread pool; WAL lets them
//! proceed while the writer commits, and a read of more than one statement runs in one read
//! transaction, so it sees one snapshot. The SQL lives in [`queries`], one module per entity; what
//! the rows mean, and what may be written, is decided by `confab_core::rules`. This adapter serves
//! one node; a cluster uses PostgreSQL.

mod error;
mod management;
mod moderation;
mod queries;
mod wal_writes;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use confab_core::attachments::{AttachmentStore, StoredAttachment};
use confab_core::ids::now_millis;
use confab_core::lifecycle::{Changed, ExpiryStore, LifecycleStore, MessageChange};
use confab_core::push::{DuePush, PushClaim, PushDone, PushStore, StoredPushSubscription};
use confab_core::store::{
    AfterCommit, ApiKey, ApiKeyStore, Appended, CommittedRange, ConversationStore, HistoryCursor,
    HistoryPage, Invite, InviteStore, MarkerMove, MessageRef, MessageStore, NewApiKey, NewGroup, NewInvite,
    NewMessage, NewUser, PresenceStore, ReadMove, ReceiptStore, Receipts, Revocations, SearchHit,
    SearchRequest, SearchStore, SessionStore, Store, StoreFuture, UserCredentials, UserStore,
};
use confab_core::{Error, Result};
use confab_proto::{Attachment, Conversation, Message, PushSubscription, SyncCursor, SyncResponse, User};
use parking_lot::Mutex;
use rusqlite::{Connection, InterruptHandle, OpenFlags};

use self::error::SqlResult;
use self::queries::{
    api_keys, attachments, conversations, expiry, invites, markers, messages, presence, push, receipts,
    search, sessions, settings, updates, users, views,
};
use self::writer::Writer;
use crate::schema::{self, Migrations, SchemaStatus};

/// Migrations, in order: the schema version is how many have run.
pub(crate) const MIGRATIONS: &[(&str, &str)] = &[
    migration!("0001_init.sql"),
    migration!("0002_receipts.sql"),
    migration!("0003_message_ids_per_sender.sql"),
    migration!("0004_sessions.sql"),
    migration!("0005_show_last_seen.sql"),
    migration!("0006_blocks.sql"),
    migration!("0007_reports_bans.sql"),
    migration!("0008_message_lifecycle.sql"),
    migration!("0009_search.sql"),
    migration!("0010_expiry.sql"),
    migration!("0011_invites.sql"),
    migration!("0012_search_by_conversation.sql"),
    migration!("0013_search_at_commit.sql"),
    migration!("0014_api_keys.sql"),
    migration!("0015_attachments.sql"),
    migration!("0016_push.sql"),
    migration!("0017_search_documents_in_messages.sql"),
    migration!("0018_search_batch_changes.sql"),
];
/// Reader connections kept open between reads.
const IDLE_READERS: usize = 8;

pub struct SqliteStore {
    path: PathBuf,
    writer: Writer,
    readers: Arc<Mutex<Vec<Connection>>>,
    /// Dropped with the store, which wakes the checkpoint thread to stop.
    _checkpointer: std::sync::mpsc::Sender<()>,
    /// Raised by a checkpoint pass for the writer (see [`checkpoint_pass`]); kept here for tests.
    #[cfg(test)]
    tail_due: Arc<AtomicBool>,
}

/// How often the WAL is copied back into the database file. Each checkpoint ends with an fsync
/// of that file, and the next commit's fsync waits for the disk to take all of it: checkpoints
/// every 500 ms put a sweep of a million expired messages in the tail of every commit (p99 2.4×
/// idle), every 50 ms made it worse (3.5×), every 5 s brought it to 1.5× (`docs/benchmarks.md`).
/// The WAL holds about this long of writes (see [`TAIL_FRAMES`]).
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// A WAL of at least this many frames (16 MiB of 4 KiB pages) when a checkpoint pass starts has
/// its tail checkpointed by the writer (see [`checkpoint_pass`]). A smaller one is left to restart
/// in the next pause between writes, which a light load always has.
const TAIL_FRAMES: i64 = 4096;

/// One checkpoint pass on `conn` (PASSIVE: it never blocks the writer or readers). Under steady
/// writes such a pass never reaches the end of the WAL (frames keep arriving while it copies),
/// and SQLite writes the WAL over from its start only after a checkpoint that did: without more,
/// the WAL grew by every write for as long as the writes went on (2 GB in 20 s at 2 000 msg/s).
/// So when the WAL was large, the pass raises `tail_due` and the writer copies the few frames left
/// between two of its batches ([`writer::Writer::start`]); being the only writer, it reaches the
/// end, and the next batch restarts the WAL.
fn checkpoint_pass(conn: &Connection, tail_due: &AtomicBool, tail_frames: i64) {
    // (busy, frames in the WAL, frames copied)
    match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1)) {
        Ok(frames) if frames >= tail_frames => tail_due.store(true, Ordering::Relaxed),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed; will retry"),
    }
}

/// Checkpoints the WAL from a thread of its own every [`CHECKPOINT_EVERY`], so no commit ever
/// waits for a checkpoint's copy and fsync of the database file, as it would with SQLite's
/// automatic checkpoints, which run inside the committing transaction.
fn start_checkpointer(path: &Path, tail_due: Arc<AtomicBool>) -> Result<std::sync::mpsc::Sender<()>> {
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let conn = Connection::open(path).db()?;
    configure(&conn).db()?;
    std::thread::Builder::new()
        .name("confab-sqlite-checkpoint".into())
        .spawn(move || {
            // Nothing is ever sent: the wait ends by timeout (checkpoint) or by the store's drop.
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_EVERY)
            {
                checkpoint_pass(&conn, &tail_due, TAIL_FRAMES);
            }
        })
        .map_err(|e| Error::Internal(format!("cannot start the checkpoint thread: {e}")))?;
    Ok(stop)
}

/// Indexes each batch's new messages for search just before it commits (migrations 0017, 0018).
struct SearchIndexer(search::SharedBatch);

impl writer::BatchHook for SearchIndexer {
    fn begin(&mut self, conn: &Connection) -> Result<()> {
        search::batch_start(conn, &self.0)
    }

    fn finish(&mut self, conn: &Connection) -> Result<()> {
        search::index_batch(conn, &self.0)
    }

    fn rolled_back(&mut self) {
        search::batch_rolled_back(&self.0)
    }
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // WAL + FULL: each COMMIT fsyncs the log, which is what makes an acknowledgement durable,
    // and writes out the frames `wal_writes` kept before any reader can look for them.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Statement journals (each write's savepoint keeps the pages it changes) and temporary
    // b-trees in memory: on disk they were a file write per changed page, a third of the
    // writer's CPU time with the search index.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Plans never depend on bound values: without this, SQLite recompiles a cached statement
    // whenever a parameter it compared while planning (one used twice, as in the block check
    // and the receipt marks of every append) is bound anew, which was a third of the CPU time.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    // Room for a search walking 200 conversations (a statement each) beside every other statement.
    conn.set_prepared_statement_cache_capacity(256);
    Ok(())
}

fn migrate(conn: &mut Connection, migrations: Migrations) -> Result<()> {
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0)).db()?;
    schema::check(version, MIGRATIONS.len(), migrations)?;
    for (i, (_, sql)) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction().db()?;
        tx.execute_batch(sql).db()?;
        tx.pragma_update(None, "user_version", i + 1).db()?;
        tx.commit().db()?;
    }
    Ok(())
}

/// The schema status of the database file at `path`, without creating or changing it.
pub(crate) fn schema_status(path: &Path) -> Result<SchemaStatus> {
    if !path.exists() {
        return Ok(SchemaStatus::of(0, MIGRATIONS));
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).db()?;
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0)).db()?;
    Ok(SchemaStatus::of(version, MIGRATIONS))
}

/// Copies the database at `path` into a new file `dest`, consistently, while a server may be
/// writing to it (`VACUUM INTO`: one read transaction; writers go on). `dest` must not exist.
pub fn backup(path: &Path, dest: &Path) -> Result<()> {
    if dest.exists() {
        return Err(Error::InvalidRequest(format!("{} already exists", dest.display())));
    }
    let dest = dest.to_str().ok_or_else(|| Error::InvalidRequest("the backup path is not UTF-8".into()))?;
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE).db()?;
    conn.busy_timeout(std::time::Duration::from_secs(30)).db()?;
    conn.execute("VACUUM INTO ?1", [dest]).db()?;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating and migrating if needed) the database file at `path`.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        Self::open_with(path, Migrations::Apply)
    }

    /// Opens the database file at `path` (created if missing), migrating it or, with
    /// [`Migrations::RequireCurrent`], refusing it when migrations are pending.
    pub fn open_with(path: &Path, migrations: Migrations) -> Result<SqliteStore> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
        }
        // The writer's WAL writes reach the file system as one write per commit ([`wal_writes`]).
        wal_writes::register().map_err(Error::Internal)?;
        let mut conn =
            Connection::open_with_flags_and_vfs(path, OpenFlags::default(), wal_writes::NAME).db()?;
        configure(&conn).db()?;
        migrate(&mut conn, migrations)?;
        // Checkpoints are the checkpoint thread's job, not the committing writer's. A WAL left
        // large by a burst keeps its size and is written over from the start (no
        // `journal_size_limit`): truncating it happened in the commit that restarted it, and
        // cutting a file of gigabytes stalled that commit for half a second. It is truncated when
        // the store shuts down instead.
        conn.pragma_update(None, "wal_autocheckpoint", 0).db()?;
        // Deleted content (a message deleted for everyone, a removed reaction) is zeroed in the
        // database file where that costs no extra I/O, rather than left in free space.
        conn.pragma_update(None, "secure_delete", "FAST").db()?;
        let tail_due = Arc::new(AtomicBool::new(false));
        let checkpointer = start_checkpointer(path, tail_due.clone())?;
        let batch = search::SharedBatch::default();
        search::register(&conn, batch.clone()).db()?;
        let writer = Writer::start(conn, Box::new(SearchIndexer(batch)), tail_due.clone())
            .map_err(|e| Error::Internal(format!("cannot start the storage writer: {e}")))?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            writer,
            readers: Arc::new(Mutex::new(Vec::new())),
            _checkpointer: checkpointer,
            #[cfg(test)]
            tail_due,
        })
    }

    /// Runs a read on a pooled reader connection, off the async runtime.
    async fn read<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let readers = self.readers.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = readers.lock().pop();
            let conn = match pooled {
                Some(conn) => conn,
                None => {
                    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
                    let conn = Connection::open_with_flags(&path, flags).db()?;
                    configure(&conn).db()?;
                    conn.pragma_update(None, "query_only", true).db()?;
                    conn
                }
            };
            let result = work(&conn);
            let mut pool = readers.lock();
            if pool.len() < IDLE_READERS {
                pool.push(conn);
            }
            result
        })
        .await
        .map_err(|e| Error::Internal(format!("storage read task failed: {e}")))?
    }

    /// Runs a read inside one read transaction, so it sees a single snapshot.
    async fn read_snapshot<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.read(move |conn| {
            conn.execute_batch("BEGIN").db()?;
            let result = work(conn);
            // Read only, so ending it either way is the same; the connection goes back to the pool
            // outside any transaction.
            if conn.execute_batch("COMMIT").is_err() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            result
        })
        .await
    }

    /// [`read_snapshot`](Self::read_snapshot) for a search with a time limit: once `limit` has
    /// passed, whichever statement is running is interrupted and the search ends with `SearchTooBroad`
    /// (the search also checks its limit between windows, `queries::search`). The interrupt
    /// handle is taken back under the lock before the connection is let go, so the watchdog can
    /// never interrupt what the connection runs next. The limit counts from when the search has
    /// its connection.
    async fn search_snapshot<T, F>(&self, limit: Duration, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let armed: Arc<Mutex<Option<InterruptHandle>>> = Arc::default();
        let watched = armed.clone();
        // The limit counts from when the search has a connection, as its own checks do: a
        // search waiting for a blocking thread is not yet running, and would not be stopped.
        let (started, has_started) = tokio::sync::oneshot::channel::<()>();
        let watchdog = tokio::spawn(async move {
            if has_started.await.is_ok() {
                tokio::time::sleep(limit).await;
                // An interrupt lands only on a statement that is running: one sent between two of
                // the search's statements (or before its first began) would be lost, and the next
                // would run unbounded. So it is sent again until the search lets its connection go.
                let mut again = tokio::time::interval(Duration::from_millis(1));
                loop {
                    again.tick().await;
                    match watched.lock().as_ref() {
                        Some(handle) => handle.interrupt(),
                        None => break,
                    }
                }
            }
        });
        let result = self
            .read_snapshot(move |c| {
                *armed.lock() = Some(c.get_interrupt_handle());
                let _ = started.send(());
                let result = work(c);
                armed.lock().take();
                result
            })
            .await;
        watchdog.abort();
        match result {
            Err(Error::Unavailable(message)) if message.starts_with(error::INTERRUPTED) => {
                Err(confab_core::rules::search::too_broad(limit))
            }
            result => result,
        }
    }

    async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.writer.submit(work, None).await
    }
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, user: NewUser) -> Result<User> {
        self.write(move |c| users::create_user(c, &user)).await
    }

    async fn credentials(&self, username: &str) -> Result<Option<UserCredentials>> {
        let username = username.to_string();
        self.read(move |c| users::credentials(c, &username)).await
    }

    async fn user(&self, user_id: &str) -> Result<Option<User>> {
        let user_id = user_id.to_string();
        self.read(move |c| users::user(c, &user_id)).await
    }

    async fn search_users(&self, prefix: &str, limit: u32) -> Result<Vec<User>> {
        let prefix = prefix.to_string();
        self.read(move |c| users::search_users(c, &prefix, limit)).await
    }

    async fn set_display_name(&self, user_id: &str, display_name: &str) -> Result<User> {
        let (user_id, display_name) = (user_id.to_string(), display_name.to_string());
        self.write(move |c| users::set_display_name(c, &user_id, &display_name)).await
    }

    async fn show_last_seen(&self, user_id: &str) -> Result<bool> {
        let user_id = user_id.to_string();
        self.read_snapshot(move |c| presence::show_last_seen(c, &user_id)).await
    }

    async fn set_show_last_seen(&self, user_id: &str, show: bool) -> Result<()> {
        let user_id = user_id.to_string();
        self.write(move |c| presence::set_show_last_seen(c, &user_id, show)).await
    }

    async fn hiding_last_seen(&self, users: &[String]) -> Result<Vec<String>> {
        let users = users.to_vec();
        self.read_snapshot(move |c| presence::hiding_last_seen(c, &users)).await
    }

    async fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
        revoke_before: i64,
        keep: Option<&str>,
    ) -> Result<()> {
        let (user_id, hash, keep) =
            (user_id.to_string(), password_hash.to_string(), keep.map(str::to_string));
        self.write(move |c| {
            users::set_password_hash(c, &user_id, &hash)?;
            sessions::revoke_before(c, &user_id, revoke_before, keep.as_deref())
        })
        .await
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn revoke_session(&self, user: &str, session_id: &str, expires_at: i64) -> Result<()> {
        let (user, session_id) = (user.to_string(), session_id.to_string());
        self.write(move |c| sessions::revoke_session(c, &user, &session_id, expires_at)).await
    }

    async fn revoke_sessions_before(&self, user: &str, before: i64, keep: Option<&str>) -> Result<()> {
        let (user, keep) = (user.to_string(), keep.map(str::to_string));
        self.write(move |c| sessions::revoke_before(c, &user, before, keep.as_deref())).await
    }

    async fn revocations(&self, user: &str, now: i64) -> Result<Revocations> {
        let user = user.to_string();
        self.read(move |c| sessions::revocations(c, &user, now)).await
    }

    async fn purge_revoked_sessions(&self, now: i64) -> Result<u64> {
        self.write(move |c| sessions::purge(c, now)).await
    }
}

#[async_trait]
impl ConversationStore for SqliteStore {
    async fn open_direct(&self, a: &str, b: &str, new_id: String, now: i64) -> Result<(String, bool)> {
        let (a, b) = (a.to_string(), b.to_string());
        self.write(move |c| conversations::open_direct(c, &a, &b, &new_id, now)).await
    }

    async fn create_group(&self, group: NewGroup) -> Result<()> {
        self.write(move |c| conversations::create_group(c, &group)).await
    }

    async fn conversation(&self, conversation_id: &str, viewer: &str) -> Result<Conversation> {
        let (id, viewer) = (conversation_id.to_string(), viewer.to_string());
        self.read_snapshot(move |c| views::view(c, &id, &viewer)).await
    }

    async fn conversations_of(&self, user: &str) -> Result<Vec<Conversation>> {
        let user = user.to_string();
        self.read_snapshot(move |c| {
            conversations::ids_of(c, &user)?.iter().map(|id| views::view(c, id, &user)).collect()
        })
        .await
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
        self.write(move |c| conversations::add_members(c, &id, &actor, &user_ids, now, max_group_size)).await
    }

    async fn remove_member(&self, conversation_id: &str, actor: &str, user: &str) -> Result<()> {
        let (id, actor, user) = (conversation_id.to_string(), actor.to_string(), user.to_string());
        self.write(move |c| conversations::remove_member(c, &id, &actor, &user)).await
    }

    async fn member_ids(&self, conversation_id: &str) -> Result<Vec<String>> {
        let id = conversation_id.to_string();
        self.read(move |c| conversations::member_ids(c, &id)).await
    }

    async fn read_markers(&self, conversation_id: &str) -> Result<Vec<(String, u64)>> {
        let id = conversation_id.to_string();
        self.read(move |c| conversations::read_markers(c, &id)).await
    }
}

#[async_trait]
impl MessageStore for SqliteStore {
    fn append(&self, message: NewMessage, after_commit: Option<AfterCommit>) -> StoreFuture<Appended> {
        // Queued now, so the caller's appends commit in call order.
        let hook = after_commit.map(|h| -> writer::CommitHook<Appended> { h });
        Box::pin(self.writer.submit(move |c| messages::append(c, &message, now_millis()), hook))
    }

    async fn history(
        &self,
        conversation_id: &str,
        viewer: &str,
        cursor: HistoryCursor,
        limit: u32,
    ) -> Result<HistoryPage> {
        let (id, viewer) = (conversation_id.to_string(), viewer.to_string());
        self.read_snapshot(move |c| messages::history(c, &id, &viewer, cursor, limit)).await
    }

    async fn locate_message(&self, message_id: &str, viewer: &str) -> Result<(String, u64)> {
        let (id, viewer) = (message_id.to_string(), viewer.to_string());
        self.read(move |c| messages::locate(c, &id, &viewer)).await
    }

    async fn sync(&self, user: &str, cursors: &[SyncCursor], limit: u32) -> Result<SyncResponse> {
        let (user, cursors) = (user.to_string(), cursors.to_vec());
        self.read_snapshot(move |c| views::sync(c, &user, &cursors, limit, now_millis())).await
    }

    async fn committed_since(&self, since: i64, depth: u64, limit: u32) -> Result<Vec<CommittedRange>> {
        self.read(move |c| messages::committed_since(c, since, depth, limit)).await
    }
}

#[async_trait]
impl SearchStore for SqliteStore {
    async fn search_messages(&self, request: SearchRequest) -> Result<Vec<SearchHit>> {
        match request.time_limit {
            None => self.read_snapshot(move |c| search::search(c, &request)).await,
            Some(limit) => self.search_snapshot(limit, move |c| search::search(c, &request)).await,
        }
    }
}

#[async_trait]
impl LifecycleStore for SqliteStore {
    async fn change_message(&self, change: MessageChange) -> Result<Changed> {
        self.write(move |c| updates::change(c, &change)).await
    }
}

#[async_trait]
impl ExpiryStore for SqliteStore {
    async fn expire_messages(&self, now: i64, limit: u32) -> Result<Vec<Message>> {
        let waiting = self.writer.waiting();
        self.write(move |c| expiry::expire(c, now, limit, &|| waiting.any())).await
    }

    async fn apply_retention(&self, now: i64, server_days: u32, limit: u32) -> Result<u64> {
        self.write(move |c| expiry::apply_retention(c, now, server_days, limit)).await
    }
}

#[async_trait]
impl InviteStore for SqliteStore {
    async fn create_invite(&self, invite: NewInvite) -> Result<Invite> {
        self.write(move |c| invites::create(c, &invite)).await
    }

    async fn invites(&self) -> Result<Vec<Invite>> {
        self.read(invites::list).await
    }

    async fn revoke_invite(&self, invite_id: &str, at: i64) -> Result<Invite> {
        let id = invite_id.to_string();
        self.write(move |c| invites::revoke(c, &id, at)).await
    }
}

#[async_trait]
impl ApiKeyStore for SqliteStore {
    async fn create_api_key(&self, key: NewApiKey) -> Result<ApiKey> {
        self.write(move |c| api_keys::create(c, &key)).await
    }

    async fn api_keys(&self) -> Result<Vec<ApiKey>> {
        self.read(api_keys::list).await
    }

    async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>> {
        let hash = key_hash.to_string();
        self.read(move |c| api_keys::by_hash(c, &hash)).await
    }

    async fn revoke_api_key(&self, key_id: &str, at: i64) -> Result<ApiKey> {
        let id = key_id.to_string();
        self.write(move |c| api_keys::revoke(c, &id, at)).await
    }
}

#[async_trait]
impl PushStore for SqliteStore {
    async fn put_push_subscription(&self, subscription: StoredPushSubscription) -> Result<PushSubscription> {
        self.write(move |c| push::put(c, &subscription)).await
    }

    async fn push_subscriptions(&self, user_id: &str) -> Result<Vec<PushSubscription>> {
        let user = user_id.to_string();
        self.read(move |c| push::list(c, &user)).await
    }

    async fn delete_push_subscription(&self, user_id: &str, subscription_id: &str) -> Result<()> {
        let (user, id) = (user_id.to_string(), subscription_id.to_string());
        self.write(move |c| push::delete(c, &user, &id)).await
    }

    async fn forget_push_subscription(&self, subscription_id: &str) -> Result<()> {
        let id = subscription_id.to_string();
        self.write(move |c| push::forget(c, &id)).await
    }

    async fn set_muted(&self, conversation_id: &str, user_id: &str, muted_until: Option<i64>) -> Result<()> {
        let (id, user) = (conversation_id.to_string(), user_id.to_string());
        self.write(move |c| push::set_muted(c, &id, &user, muted_until)).await
    }

    async fn claim_pushes(&self, claim: PushClaim) -> Result<Vec<DuePush>> {
        self.write(move |c| push::claim(c, &claim)).await
    }

    async fn finish_push(&self, done: PushDone) -> Result<()> {
        self.write(move |c| push::finish(c, &done)).await
    }
}

#[async_trait]
impl AttachmentStore for SqliteStore {
    async fn create_attachment(&self, attachment: StoredAttachment) -> Result<Attachment> {
        self.write(move |c| attachments::create(c, &attachment)).await
    }

    async fn attachment(&self, attachment_id: &str, viewer: &str) -> Result<Attachment> {
        let (id, viewer) = (attachment_id.to_string(), viewer.to_string());
        self.read(move |c| attachments::for_viewer(c, &id, &viewer)).await
    }

    async fn collect_attachments(&self, now: i64, limit: u32) -> Result<Vec<String>> {
        self.write(move |c| attachments::collect(c, now, limit)).await
    }
}

#[async_trait]
impl ReceiptStore for SqliteStore {
    async fn mark_delivered(
        &self,
        conversation_id: &str,
        user: &str,
        up_to: u64,
        at: i64,
    ) -> Result<MarkerMove> {
        let (id, user) = (conversation_id.to_string(), user.to_string());
        self.write(move |c| markers::mark_delivered(c, &id, &user, up_to, at)).await
    }

    async fn mark_read(&self, conversation_id: &str, user: &str, up_to: u64, at: i64) -> Result<ReadMove> {
        let (id, user) = (conversation_id.to_string(), user.to_string());
        self.write(move |c| markers::mark_read(c, &id, &user, up_to, at)).await
    }

    async fn messages_between(
        &self,
        conversation_id: &str,
        after: u64,
        up_to: u64,
    ) -> Result<Vec<MessageRef>> {
        let id = conversation_id.to_string();
        self.read(move |c| messages::between(c, &id, after, up_to)).await
    }

    async fn receipts(&self, conversation_id: &str, message_id: &str, viewer: &str) -> Result<Receipts> {
        let (id, message_id, viewer) =
            (conversation_id.to_string(), message_id.to_string(), viewer.to_string());
        self.read_snapshot(move |c| receipts::receipts(c, &id, &message_id, &viewer)).await
    }
}

#[async_trait]
impl PresenceStore for SqliteStore {
    async fn touch_last_seen(&self, user: &str, at: i64) -> Result<()> {
        let user = user.to_string();
        self.write(move |c| presence::touch_last_seen(c, &user, at)).await
    }

    async fn last_seen(&self, users: &[String]) -> Result<Vec<(String, Option<i64>)>> {
        let users = users.to_vec();
        self.read_snapshot(move |c| presence::last_seen(c, &users)).await
    }

    async fn contacts_of(&self, user: &str, limit: u32) -> Result<Vec<String>> {
        let user = user.to_string();
        self.read(move |c| presence::contacts_of(c, &user, limit)).await
    }

    async fn contacts_among(&self, user: &str, users: &[String]) -> Result<Vec<String>> {
        let (user, users) = (user.to_string(), users.to_vec());
        self.read_snapshot(move |c| presence::contacts_among(c, &user, &users)).await
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<()> {
        if !self.writer.is_running() {
            return Err(Error::Unavailable("storage writer stopped".into()));
        }
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(())).db()).await
    }

    async fn setting_or_init(&self, key: &str, candidate: &str) -> Result<String> {
        let (key, candidate) = (key.to_string(), candidate.to_string());
        self.write(move |c| settings::setting_or_init(c, &key, &candidate)).await
    }

    async fn shutdown(&self) {
        self.writer.stop().await;
    }
}

#[cfg(test)]
mod tests;
