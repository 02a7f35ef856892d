//! The PostgreSQL store, for clusters: every node shares one database.
//!
//! Appends are batched per node ([`appends`]). Other writes run in their own short transactions on
//! a pool, locking the rows their decision depends on; a read of more than one statement runs in
//! one `REPEATABLE READ, READ ONLY` transaction, so it sees one snapshot. The SQL lives in
//! [`queries`], one module per entity; what the rows mean, and what may be written, is decided by
//! `confab_core::rules`.

mod appends;
mod error;
mod queries;
mod tls;

use std::sync::Arc;

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
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::NoTls;

use self::appends::{AppendJob, Command};
use self::error::PgResult;
use self::queries::{
    api_keys, attachments, conversations, expiry, invites, markers, messages, presence, push, receipts,
    search, sessions, settings, updates, users, views,
};
use crate::schema::{self, Migrations, SchemaStatus};

/// Migrations, in order: the schema version is how many have run.
pub(crate) const MIGRATIONS: &[(&str, &str)] = &[
    migration!("0001_init.sql"),
    migration!("0002_message_ids_per_sender.sql"),
    migration!("0003_sessions.sql"),
    migration!("0004_show_last_seen.sql"),
    migration!("0005_blocks.sql"),
    migration!("0006_reports_bans.sql"),
    migration!("0007_message_lifecycle.sql"),
    migration!("0008_search.sql"),
    migration!("0009_expiry.sql"),
    migration!("0010_invites.sql"),
    migration!("0011_api_keys.sql"),
    migration!("0012_attachments.sql"),
    migration!("0013_push.sql"),
    migration!("0014_search_by_time.sql"),
    migration!("0015_search_word_pairs.sql"),
    migration!("0016_search_documents_by_confab.sql"),
    migration!("0017_search_documents_by_word_and_next.sql"),
];
/// The first migration with search documents written by Confab rather than by a trigger.
#[cfg(test)]
const SEARCH_DOCUMENTS_BY_CONFAB: usize = 16;
/// The migration that gave search documents their current form: after it, every stored
/// document is rewritten by Confab ([`queries::search::rewrite_documents`]), once however many
/// migrations a database is behind.
const SEARCH_DOCUMENTS_AS_WRITTEN: usize = 17;
const POOL_SIZE: usize = 16;

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
        Self::connect_with(url, schema, Migrations::Apply).await
    }

    /// Like [`PostgresStore::connect`]; with [`Migrations::RequireCurrent`] a schema with
    /// migrations pending is refused instead of migrated.
    pub async fn connect_with(
        url: &str,
        schema: Option<&str>,
        migrations: Migrations,
    ) -> Result<PostgresStore> {
        let tls::Target { mut config, tls } = tls::target(url)?;
        if let Some(schema) = schema {
            if !valid_schema(schema) {
                return Err(Error::Internal(format!(
                    "invalid schema name `{schema}` (use [a-z_][a-z0-9_]*)"
                )));
            }
            let (client, driver) = tls::connect(&config, &tls).await?;
            client.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}")).await.db()?;
            drop(client);
            let _ = driver.await;
            config.options(format!("-c search_path={schema}"));
        }
        config.connect_timeout(std::time::Duration::from_secs(5));
        let recycling = ManagerConfig { recycling_method: RecyclingMethod::Fast };
        let manager = match tls {
            tls::Tls::Off => Manager::from_config(config, NoTls, recycling),
            tls::Tls::Rustls(tls) => Manager::from_config(config, tls, recycling),
        };
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .wait_timeout(Some(std::time::Duration::from_secs(5)))
            .create_timeout(Some(std::time::Duration::from_secs(5)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| Error::Internal(format!("database pool: {e}")))?;
        migrate(&pool, migrations).await?;
        let (appends, rx) = mpsc::channel(appends::QUEUE_CAPACITY);
        tokio::spawn(appends::run(pool.clone(), rx));
        Ok(PostgresStore { pool, appends })
    }

    async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(error::pool)
    }

    /// Drops every table of this store's schema (for test isolation). Only for a schema of its own.
    pub async fn drop_schema(url: &str, schema: &str) -> Result<()> {
        if !valid_schema(schema) {
            return Err(Error::Internal("invalid schema".into()));
        }
        let target = tls::target(url)?;
        let (client, driver) = tls::connect(&target.config, &target.tls).await?;
        client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await.db()?;
        drop(client);
        let _ = driver.await;
        Ok(())
    }
}

async fn migrate(pool: &Pool, migrations: Migrations) -> Result<()> {
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
    schema::check(applied.max(0) as usize, MIGRATIONS.len(), migrations)?;
    for (i, (_, sql)) in MIGRATIONS.iter().enumerate().skip(applied.max(0) as usize) {
        tx.batch_execute(sql).await.db()?;
        if i + 1 == SEARCH_DOCUMENTS_AS_WRITTEN {
            queries::search::rewrite_documents(&tx).await?;
        }
        tx.execute("INSERT INTO confab_migrations (version) VALUES ($1)", &[&(i as i32 + 1)]).await.db()?;
    }
    tx.commit().await.db()
}

/// The schema status of the database at `url` (in `schema`), changing nothing.
pub(crate) async fn schema_status(url: &str, schema: Option<&str>) -> Result<SchemaStatus> {
    let tls::Target { mut config, tls } = tls::target(url)?;
    if let Some(schema) = schema {
        if !valid_schema(schema) {
            return Err(Error::Internal(format!("invalid schema name `{schema}` (use [a-z_][a-z0-9_]*)")));
        }
        config.options(format!("-c search_path={schema}"));
    }
    config.connect_timeout(std::time::Duration::from_secs(5));
    let (client, driver) = tls::connect(&config, &tls).await?;
    let table: Option<String> =
        client.query_one("SELECT to_regclass('confab_migrations')::TEXT", &[]).await.db()?.get(0);
    let version = match table {
        None => 0,
        Some(_) => {
            let v: i32 = client
                .query_one("SELECT COALESCE(MAX(version), 0) FROM confab_migrations", &[])
                .await
                .db()?
                .get(0);
            v.max(0) as usize
        }
    };
    drop(client);
    let _ = driver.await;
    Ok(SchemaStatus::of(version, MIGRATIONS))
}

/// One statement on a pooled connection (its own implicit transaction).
macro_rules! once {
    ($self:ident, |$c:ident| $body:expr) => {{
        let client = $self.client().await?;
        let $c = &client;
        $body
    }};
}

/// A read of several statements in one `REPEATABLE READ, READ ONLY` transaction: one snapshot.
macro_rules! snapshot {
    ($self:ident, |$c:ident| $body:expr) => {{
        let mut client = $self.client().await?;
        let tx = client
            .build_transaction()
            .read_only(true)
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .start()
            .await
            .db()?;
        let result = {
            let $c = &tx;
            $body
        };
        // Read only: ending it either way releases the snapshot.
        let _ = tx.commit().await;
        result
    }};
}

/// A write in its own transaction, committed only when it succeeded.
macro_rules! transaction {
    ($self:ident, |$c:ident| $body:expr) => {{
        let mut client = $self.client().await?;
        let tx = client.transaction().await.db()?;
        let result = {
            let $c = &tx;
            $body
        };
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
    }};
}

// After the macros above, which it uses.
mod management;
mod moderation;

#[async_trait]
impl UserStore for PostgresStore {
    async fn create_user(&self, user: NewUser) -> Result<User> {
        transaction!(self, |c| users::create_user(c, &user).await)
    }

    async fn credentials(&self, username: &str) -> Result<Option<UserCredentials>> {
        once!(self, |c| users::credentials(c, username).await)
    }

    async fn user(&self, user_id: &str) -> Result<Option<User>> {
        once!(self, |c| users::user(c, user_id).await)
    }

    async fn search_users(&self, prefix: &str, limit: u32) -> Result<Vec<User>> {
        once!(self, |c| users::search_users(c, prefix, limit).await)
    }

    async fn set_display_name(&self, user_id: &str, display_name: &str) -> Result<User> {
        once!(self, |c| users::set_display_name(c, user_id, display_name).await)
    }

    async fn show_last_seen(&self, user_id: &str) -> Result<bool> {
        once!(self, |c| presence::show_last_seen(c, user_id).await)
    }

    async fn set_show_last_seen(&self, user_id: &str, show: bool) -> Result<()> {
        once!(self, |c| presence::set_show_last_seen(c, user_id, show).await)
    }

    async fn hiding_last_seen(&self, users: &[String]) -> Result<Vec<String>> {
        once!(self, |c| presence::hiding_last_seen(c, users).await)
    }

    async fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
        revoke_before: i64,
        keep: Option<&str>,
    ) -> Result<()> {
        transaction!(self, |c| {
            match users::set_password_hash(c, user_id, password_hash).await {
                Ok(()) => sessions::revoke_before(c, user_id, revoke_before, keep).await,
                Err(e) => Err(e),
            }
        })
    }
}

#[async_trait]
impl SessionStore for PostgresStore {
    async fn revoke_session(&self, user: &str, session_id: &str, expires_at: i64) -> Result<()> {
        once!(self, |c| sessions::revoke_session(c, user, session_id, expires_at).await)
    }

    async fn revoke_sessions_before(&self, user: &str, before: i64, keep: Option<&str>) -> Result<()> {
        once!(self, |c| sessions::revoke_before(c, user, before, keep).await)
    }

    async fn revocations(&self, user: &str, now: i64) -> Result<Revocations> {
        snapshot!(self, |c| sessions::revocations(c, user, now).await)
    }

    async fn purge_revoked_sessions(&self, now: i64) -> Result<u64> {
        once!(self, |c| sessions::purge(c, now).await)
    }
}

#[async_trait]
impl ConversationStore for PostgresStore {
    async fn open_direct(&self, a: &str, b: &str, new_id: String, now: i64) -> Result<(String, bool)> {
        transaction!(self, |c| conversations::open_direct(c, a, b, &new_id, now).await)
    }

    async fn create_group(&self, group: NewGroup) -> Result<()> {
        transaction!(self, |c| conversations::create_group(c, &group).await)
    }

    async fn conversation(&self, conversation_id: &str, viewer: &str) -> Result<Conversation> {
        snapshot!(self, |c| views::view(c, conversation_id, viewer).await)
    }

    async fn conversations_of(&self, user: &str) -> Result<Vec<Conversation>> {
        snapshot!(self, |c| {
            match conversations::ids_of(c, user).await {
                // Pipelined: one round trip for all of them.
                Ok(ids) => {
                    futures_util::future::try_join_all(ids.iter().map(|id| views::view(c, id, user))).await
                }
                Err(e) => Err(e),
            }
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
        transaction!(self, |c| {
            conversations::add_members(c, conversation_id, actor, user_ids, now, max_group_size).await
        })
    }

    async fn remove_member(&self, conversation_id: &str, actor: &str, user: &str) -> Result<()> {
        transaction!(self, |c| conversations::remove_member(c, conversation_id, actor, user).await)
    }

    async fn member_ids(&self, conversation_id: &str) -> Result<Vec<String>> {
        once!(self, |c| conversations::member_ids(c, conversation_id).await)
    }

    async fn read_markers(&self, conversation_id: &str) -> Result<Vec<(String, u64)>> {
        once!(self, |c| conversations::read_markers(c, conversation_id).await)
    }
}

#[async_trait]
impl MessageStore for PostgresStore {
    fn append(&self, message: NewMessage, after_commit: Option<AfterCommit>) -> StoreFuture<Appended> {
        let (reply, rx) = oneshot::channel();
        // Queued now, so the caller's appends commit in call order.
        let queued =
            self.appends.try_send(Command::Append(Box::new(AppendJob { message, after_commit, reply })));
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
        snapshot!(self, |c| messages::history(c, conversation_id, viewer, cursor, limit).await)
    }

    async fn locate_message(&self, message_id: &str, viewer: &str) -> Result<(String, u64)> {
        once!(self, |c| messages::locate(c, message_id, viewer).await)
    }

    async fn sync(&self, user: &str, cursors: &[SyncCursor], limit: u32) -> Result<SyncResponse> {
        snapshot!(self, |c| views::sync(c, user, cursors, limit, now_millis()).await)
    }

    async fn committed_since(&self, since: i64, depth: u64, limit: u32) -> Result<Vec<CommittedRange>> {
        once!(self, |c| messages::committed_since(c, since, depth, limit).await)
    }
}

#[async_trait]
impl SearchStore for PostgresStore {
    async fn search_messages(&self, request: SearchRequest) -> Result<Vec<SearchHit>> {
        snapshot!(self, |c| search::search(c, &request).await)
    }
}

#[async_trait]
impl LifecycleStore for PostgresStore {
    async fn change_message(&self, change: MessageChange) -> Result<Changed> {
        transaction!(self, |c| updates::change(c, &change).await)
    }
}

#[async_trait]
impl ExpiryStore for PostgresStore {
    async fn expire_messages(&self, now: i64, limit: u32) -> Result<Vec<Message>> {
        transaction!(self, |c| expiry::expire(c, now, limit).await)
    }

    async fn apply_retention(&self, now: i64, server_days: u32, limit: u32) -> Result<u64> {
        // One conversation per transaction (see `expiry::purge`): a batch never holds two
        // conversations' locks at once.
        let due = once!(self, |c| expiry::due_for_retention(c, now, server_days, limit).await)?;
        let mut removed = 0u64;
        for (id, days) in due {
            let budget = u64::from(limit).saturating_sub(removed);
            if budget == 0 {
                break;
            }
            removed += transaction!(self, |c| expiry::purge(c, &id, now, days, budget).await)?;
        }
        Ok(removed)
    }
}

#[async_trait]
impl InviteStore for PostgresStore {
    async fn create_invite(&self, invite: NewInvite) -> Result<Invite> {
        once!(self, |c| invites::create(c, &invite).await)
    }

    async fn invites(&self) -> Result<Vec<Invite>> {
        once!(self, |c| invites::list(c).await)
    }

    async fn revoke_invite(&self, invite_id: &str, at: i64) -> Result<Invite> {
        once!(self, |c| invites::revoke(c, invite_id, at).await)
    }
}

#[async_trait]
impl ApiKeyStore for PostgresStore {
    async fn create_api_key(&self, key: NewApiKey) -> Result<ApiKey> {
        once!(self, |c| api_keys::create(c, &key).await)
    }

    async fn api_keys(&self) -> Result<Vec<ApiKey>> {
        once!(self, |c| api_keys::list(c).await)
    }

    async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>> {
        once!(self, |c| api_keys::by_hash(c, key_hash).await)
    }

    async fn revoke_api_key(&self, key_id: &str, at: i64) -> Result<ApiKey> {
        once!(self, |c| api_keys::revoke(c, key_id, at).await)
    }
}

#[async_trait]
impl PushStore for PostgresStore {
    async fn put_push_subscription(&self, subscription: StoredPushSubscription) -> Result<PushSubscription> {
        transaction!(self, |c| push::put(c, &subscription).await)
    }

    async fn push_subscriptions(&self, user_id: &str) -> Result<Vec<PushSubscription>> {
        once!(self, |c| push::list(c, user_id).await)
    }

    async fn delete_push_subscription(&self, user_id: &str, subscription_id: &str) -> Result<()> {
        once!(self, |c| push::delete(c, user_id, subscription_id).await)
    }

    async fn forget_push_subscription(&self, subscription_id: &str) -> Result<()> {
        once!(self, |c| push::forget(c, subscription_id).await)
    }

    async fn set_muted(&self, conversation_id: &str, user_id: &str, muted_until: Option<i64>) -> Result<()> {
        transaction!(self, |c| push::set_muted(c, conversation_id, user_id, muted_until).await)
    }

    async fn claim_pushes(&self, claim: PushClaim) -> Result<Vec<DuePush>> {
        transaction!(self, |c| push::claim(c, &claim).await)
    }

    async fn finish_push(&self, done: PushDone) -> Result<()> {
        once!(self, |c| push::finish(c, &done).await)
    }
}

#[async_trait]
impl AttachmentStore for PostgresStore {
    async fn create_attachment(&self, attachment: StoredAttachment) -> Result<Attachment> {
        once!(self, |c| attachments::create(c, &attachment).await)
    }

    async fn attachment(&self, attachment_id: &str, viewer: &str) -> Result<Attachment> {
        once!(self, |c| attachments::for_viewer(c, attachment_id, viewer).await)
    }

    async fn collect_attachments(&self, now: i64, limit: u32) -> Result<Vec<String>> {
        transaction!(self, |c| attachments::collect(c, now, limit).await)
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
        transaction!(self, |c| markers::mark_delivered(c, conversation_id, user, up_to, at).await)
    }

    async fn mark_read(&self, conversation_id: &str, user: &str, up_to: u64, at: i64) -> Result<ReadMove> {
        transaction!(self, |c| markers::mark_read(c, conversation_id, user, up_to, at).await)
    }

    async fn messages_between(
        &self,
        conversation_id: &str,
        after: u64,
        up_to: u64,
    ) -> Result<Vec<MessageRef>> {
        once!(self, |c| messages::between(c, conversation_id, after, up_to).await)
    }

    async fn receipts(&self, conversation_id: &str, message_id: &str, viewer: &str) -> Result<Receipts> {
        snapshot!(self, |c| receipts::receipts(c, conversation_id, message_id, viewer).await)
    }
}

#[async_trait]
impl PresenceStore for PostgresStore {
    async fn touch_last_seen(&self, user: &str, at: i64) -> Result<()> {
        once!(self, |c| presence::touch_last_seen(c, user, at).await)
    }

    async fn last_seen(&self, users: &[String]) -> Result<Vec<(String, Option<i64>)>> {
        once!(self, |c| presence::last_seen(c, users).await)
    }

    async fn contacts_of(&self, user: &str, limit: u32) -> Result<Vec<String>> {
        once!(self, |c| presence::contacts_of(c, user, limit).await)
    }

    async fn contacts_among(&self, user: &str, users: &[String]) -> Result<Vec<String>> {
        once!(self, |c| presence::contacts_among(c, user, users).await)
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> Result<()> {
        once!(self, |c| c.simple_query("SELECT 1").await.db().map(|_| ()))
    }

    async fn setting_or_init(&self, key: &str, candidate: &str) -> Result<String> {
        transaction!(self, |c| settings::setting_or_init(c, key, candidate).await)
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
