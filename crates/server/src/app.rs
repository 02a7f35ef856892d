//! [`App`]: the gateway's services, built once per server and shared by the REST routes and the
//! WebSocket sessions. Transports parse a request, call one operation here and reply; the rules
//! live in [`crate::service`] and `confab_core`.

use std::sync::Arc;

use confab_core::bus::SharedBus;
use confab_core::store::SharedStore;
use confab_core::{Error, Result};
use tokio_util::sync::CancellationToken;

use crate::auth::TokenKeys;
use crate::config::ServerConfig;
use crate::fanout::{Dispatcher, SHARD_QUEUE};
use crate::hub::Hub;
use crate::log_fanout::LogFanout;
use crate::moderator::Admins;
use crate::node::NodeHandler;
use crate::outbox::CloseReason;
use crate::service::{
    Accounts, Admin, AdminParts, Apps, Attachments, Blocks, Conversations, Lifecycle, LogFollower, Messages,
    Notifier, PresenceHub, Push, Reports, TypingTracker,
};
use crate::webhooks::Webhooks;

/// How long moderation log entries are kept: far longer than any node takes to read them.
const MODERATION_LOG_KEPT_MS: i64 = 24 * 3600 * 1000;

pub(crate) struct App {
    /// Settings, fixed once the server runs; read by the transports (limits, intervals) and by
    /// [`crate::web`].
    pub config: ServerConfig,
    accounts: Accounts,
    admin: Admin,
    /// The server API's own parts.
    apps: Apps,
    reports: Reports,
    attachments: Attachments,
    push: Push,
    /// This node's reader of the moderation log.
    moderation_log: LogFollower,
    conversations: Conversations,
    messages: Messages,
    blocks: Blocks,
    lifecycle: Lifecycle,
    presence: Arc<PresenceHub>,
    typing: Arc<TypingTracker>,
    hub: Arc<Hub>,
    store: SharedStore,
    bus: SharedBus,
    /// Cancelled when the server starts shutting down.
    shutdown: CancellationToken,
}

impl App {
    /// Builds the services over `store` and `bus` and starts fan-out (so it must run inside a tokio
    /// runtime). `node` is the handler the bus delivers to; it learns the presence hub here (the
    /// hub needs the bus, which needed the handler first). `moderation_log_seen` is the newest
    /// moderation log version when the node started: the log is followed from there.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        config: ServerConfig,
        store: SharedStore,
        bus: SharedBus,
        node: &NodeHandler,
        jwt_secret: &str,
        node_id: &str,
        admins: Arc<Admins>,
        moderation_log_seen: u64,
        blobs: confab_media::BlobStore,
        push: Push,
        log: Option<LogFanout>,
    ) -> App {
        let limits = config.limits.clone();
        let notifier = Notifier::new(store.clone(), bus.clone(), node.members.clone());
        let shards = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let dispatcher =
            Dispatcher::start(shards, SHARD_QUEUE, store.clone(), bus.clone(), node.members.clone(), log);
        let presence = PresenceHub::new(
            store.clone(),
            bus.clone(),
            config.presence_throttle,
            limits.presence_bulk_cap,
            limits.presence_watch_cap,
        );
        node.attach_presence(presence.clone());
        let typing = TypingTracker::new(
            notifier.clone(),
            config.typing_timeout,
            limits.typing_fanout_limit,
            store.clone(),
            node.blocks.clone(),
        );
        let blocks = Blocks::new(store.clone(), bus.clone(), node.blocks.clone(), presence.clone());
        let webhooks = Webhooks::start(config.webhook.clone());
        App {
            apps: Apps::new(store.clone(), bus.clone()),
            accounts: Accounts::new(
                store.clone(),
                bus.clone(),
                node.revocations.clone(),
                node.bans.clone(),
                admins.clone(),
                match &config.jwks_url {
                    Some(url) => TokenKeys::new(jwt_secret, config.token_ttl)
                        .with_jwks(Arc::new(crate::jwks::Jwks::new(url))),
                    None => TokenKeys::new(jwt_secret, config.token_ttl),
                },
                &config.auth,
            )
            .with_webhooks(webhooks.clone()),
            admin: Admin::new(AdminParts {
                store: store.clone(),
                bus: bus.clone(),
                hub: node.hub.clone(),
                bans: node.bans.clone(),
                revocations: node.revocations.clone(),
                admins,
                node_id: node_id.to_string(),
                token_ttl: config.token_ttl,
            }),
            reports: Reports::new(store.clone(), config.moderation.reports_per_hour),
            attachments: Attachments::new(store.clone(), blobs, config.media.max_attachment_bytes),
            push,
            moderation_log: LogFollower::new(
                store.clone(),
                node.bans.clone(),
                node.revocations.clone(),
                node.hub.clone(),
                moderation_log_seen,
            ),
            conversations: Conversations::new(
                store.clone(),
                notifier.clone(),
                presence.clone(),
                limits.max_group_size,
                webhooks.clone(),
            ),
            messages: Messages::new(
                store.clone(),
                notifier.clone(),
                dispatcher,
                limits.clone(),
                typing.clone(),
                webhooks,
            ),
            blocks,
            lifecycle: Lifecycle::new(store.clone(), notifier.clone(), &limits),
            typing,
            presence,
            hub: node.hub.clone(),
            store,
            bus,
            shutdown: CancellationToken::new(),
            config,
        }
    }

    pub(crate) fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    pub(crate) fn apps(&self) -> &Apps {
        &self.apps
    }

    pub(crate) fn store(&self) -> &SharedStore {
        &self.store
    }

    pub(crate) fn admin(&self) -> &Admin {
        &self.admin
    }

    pub(crate) fn reports(&self) -> &Reports {
        &self.reports
    }

    pub(crate) fn attachments(&self) -> &Attachments {
        &self.attachments
    }

    pub(crate) fn push(&self) -> &Push {
        &self.push
    }

    pub(crate) fn conversations(&self) -> &Conversations {
        &self.conversations
    }

    pub(crate) fn messages(&self) -> &Messages {
        &self.messages
    }

    pub(crate) fn blocks(&self) -> &Blocks {
        &self.blocks
    }

    pub(crate) fn lifecycle(&self) -> &Lifecycle {
        &self.lifecycle
    }

    pub(crate) fn presence(&self) -> &Arc<PresenceHub> {
        &self.presence
    }

    pub(crate) fn typing(&self) -> &Arc<TypingTracker> {
        &self.typing
    }

    /// This node's WebSocket connections.
    pub(crate) fn connections(&self) -> &Hub {
        &self.hub
    }

    /// Cancelled once the server starts shutting down.
    pub(crate) fn shutdown_signal(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Prunes what grows with the number of users who ever did something: the send-rate limiters
    /// per user and per device (the gauge keeps its name, and counts both), presence throttles of
    /// users whose updates went out a while ago, and revoked sessions
    /// whose tokens expired anyway. Runs every `every` until shutdown starts.
    pub(crate) async fn housekeeping(self: Arc<Self>, every: std::time::Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = tick.tick() => {
                    let tracked = self.messages.prune_rate_limits() + self.lifecycle.prune_rate_limits();
                    metrics::gauge!("confab_rest_rate_limited_users").set(tracked as f64);
                    self.presence.prune_throttles();
                    if let Err(e) = self.accounts.purge_revoked_sessions().await {
                        tracing::warn!(error = %e, "expired revoked sessions not purged");
                    }
                    let day_ago = confab_core::ids::now_millis() - MODERATION_LOG_KEPT_MS;
                    if let Err(e) = self.store.purge_changes(day_ago).await {
                        tracing::warn!(error = %e, "old moderation log entries not purged");
                    }
                }
            }
        }
    }

    /// Sweeps expired and out-of-retention messages, then attachments no message links any more,
    /// until shutdown (see [`crate::sweeper`]).
    pub(crate) async fn sweep_expired(self: Arc<Self>) {
        let (store, config, shutdown) =
            (self.store.clone(), self.config.expiry.clone(), self.shutdown.clone());
        crate::sweeper::run(store, &self.lifecycle, &self.attachments, config, shutdown).await
    }

    /// Reads the moderation log every `every` until shutdown starts, applying what other
    /// processes changed (see [`crate::service::LogFollower`]).
    pub(crate) async fn follow_moderation_log(self: Arc<Self>, every: std::time::Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = tick.tick() => {
                    if let Err(e) = self.moderation_log.catch_up().await {
                        tracing::warn!(error = %e, "moderation log not read; will retry");
                    }
                }
            }
        }
    }

    /// Applies the moderation changes logged since the last read; returns how many.
    #[cfg(test)]
    pub(crate) async fn catch_up_moderation_log(&self) -> Result<usize> {
        self.moderation_log.catch_up().await
    }

    /// `/readyz`: not shutting down, and storage and bus answer. The log is not asked: without it
    /// large groups take the bus, so a broker outage must not take every node out of rotation.
    pub(crate) async fn ready(&self) -> Result<()> {
        if self.shutdown.is_cancelled() {
            return Err(Error::Unavailable("shutting down".into()));
        }
        self.store.ping().await?;
        self.bus.ping().await
    }

    /// First step of shutdown: stop taking work and ask every connection to close.
    pub(crate) fn begin_shutdown(&self) {
        self.shutdown.cancel();
        self.hub.close_all(CloseReason::Shutdown);
    }

    /// Last step of shutdown, once every session has ended: commit what the store has queued.
    pub(crate) async fn finish_shutdown(&self) {
        self.store.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::{Limits, ServerConfig};
    use crate::service::Via;
    use crate::testing::TestApp;

    #[tokio::test]
    async fn housekeeping_forgets_idle_rest_senders_and_stops_at_shutdown() {
        // A budget that is full again a millisecond after a send.
        let limits = Limits { messages_per_second: 1_000, message_burst: 1, ..Limits::default() };
        let t = TestApp::new(ServerConfig { limits, ..ServerConfig::default() });
        t.user("alice").await;
        t.user("bob").await;
        let opened = t.app.conversations().open_direct("alice", &["bob".to_string()]).await.unwrap();
        let id = opened.conversation.conversation_id;
        let content = serde_json::json!({"type": "text", "text": "hi"});
        t.app.messages().send("alice", &id, None, &content, Default::default(), Via::Rest).await.unwrap();
        let housekeeping = tokio::spawn(t.app.clone().housekeeping(Duration::from_millis(10)));
        tokio::time::timeout(Duration::from_secs(10), async {
            // The housekeeping task prunes too; this waits for the limiter to be empty.
            while t.app.messages().prune_rate_limits() > 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the idle sender is forgotten");
        t.app.begin_shutdown();
        tokio::time::timeout(Duration::from_secs(10), housekeeping)
            .await
            .expect("housekeeping stops at shutdown")
            .expect("housekeeping did not panic");
    }
}
