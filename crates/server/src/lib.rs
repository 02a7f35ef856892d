//! Confab's gateway: the axum HTTP + WebSocket server around the chat service.
//!
//! # Layout
//! - [`config`]: server settings and limits.
//! - [`app`]: the services of one server, built once and shared by both transports.
//! - [`service`]: the operations themselves (accounts, conversations, messages, presence, typing,
//!   reports, administration); every rule lives there once.
//! - [`moderator`]: moderation as it reads and writes the store (also used by `confab admin`).
//! - [`invites`]: invite codes for registration by invite only (made by `confab admin invite`).
//! - [`api_keys`]: API keys of application backends (made by `confab admin api-key`), for the
//!   server API; [`webhooks`]: events POSTed to the application, signed and retried.
//! - [`auth`]: password hashing and JWTs.
//! - [`hub`]: this node's connections and their bounded outbound queues.
//! - [`node`]: what the bus brings to this node (frames, membership changes, presence).
//! - [`fanout`]: committed messages → members' devices, in sequence order; [`ordering`]: each
//!   node hands a conversation's frames to its connections in that order, filling gaps from the
//!   store.
//! - [`listen`]: the HTTP connection loop: header and idle timeouts, a cap on connections, a
//!   bounded drain at shutdown.
//! - [`openapi`]: the OpenAPI 3.1 document of the REST API, from the protocol types.
//! - [`routes`]: the REST API and operations endpoints; [`ws`]: the WebSocket gateway.
//! - [`web`]: the embedded browser client.
//! - [`startup`]: the summary printed when the server starts.
//! - [`sweeper`]: disappearing messages and retention, erased and removed in small batches, and the
//!   collection of attachments no message links.
//! - [`api_error`]: domain errors → protocol error responses, in one place.
//! - [`metrics`]: the Prometheus series, registered at zero on start; [`access`]: the access log
//!   and HTTP request metrics.
//! - [`state`]: what every request handler is given.

mod access;
mod api_error;
pub mod api_keys;
mod app;
mod auth;
pub mod config;
pub mod failpoints;
mod fanout;
mod hub;
pub mod invites;
pub mod jwks;
mod listen;
mod log_fanout;
mod metrics;
pub mod moderator;
mod node;
pub mod openapi;
mod ordering;
mod outbox;
mod routes;
mod service;
mod startup;
mod state;
mod sweeper;
#[cfg(test)]
mod testing;
pub mod tls;
mod web;
pub mod webhooks;
mod ws;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use confab_bus::BusLocation;
use confab_core::bus::SharedBus;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

pub use config::{Limits, ServerConfig};
pub use startup::{SecretSource, Startup};

use crate::app::App;
use crate::fanout::MemberCache;
use crate::hub::Hub;
use crate::log_fanout::LogFanout;
use crate::node::NodeHandler;
use crate::state::AppState;

/// How often idle per-user state (REST rate limiters) is pruned.
const HOUSEKEEPING_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// Settings key of the generated JWT secret.
const JWT_SECRET_KEY: &str = "jwt_secret";

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("storage: {0}")]
    Store(#[from] confab_core::Error),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
}

fn random_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A bound, ready-to-run server.
pub struct Server {
    listener: TcpListener,
    /// The `--metrics-listen` listener, when configured.
    metrics_listener: Option<TcpListener>,
    state: AppState,
    startup: Startup,
    /// The certificate when serving HTTPS, and the acceptor using it.
    tls: Option<tokio_rustls::TlsAcceptor>,
    certificate: Option<Arc<tls::TlsCertificate>>,
}

impl Server {
    /// Opens storage, settles the JWT secret, joins the bus, builds the services and binds the
    /// listener. Must run inside a tokio runtime.
    pub async fn bind(config: ServerConfig) -> Result<Server, StartError> {
        if config.limits.max_group_size == 0 || config.limits.max_group_size > config::MAX_GROUP_SIZE_LIMIT {
            return Err(StartError::Config(format!(
                "max group size must be 1..={}",
                config::MAX_GROUP_SIZE_LIMIT
            )));
        }
        if config.heartbeat_interval.is_zero() {
            return Err(StartError::Config("heartbeat interval must be positive".into()));
        }
        if config.http_header_timeout.is_zero() || config.http_idle_timeout.is_zero() {
            return Err(StartError::Config("HTTP header and idle timeouts must be positive".into()));
        }
        if config.expiry.sweep_interval.is_zero() {
            return Err(StartError::Config("the sweep interval must be positive".into()));
        }
        if config.expiry.retention_days > confab_core::rules::expiry::MAX_RETENTION_DAYS {
            return Err(StartError::Config(format!(
                "retention days must be at most {}",
                confab_core::rules::expiry::MAX_RETENTION_DAYS
            )));
        }
        if config.moderation.log_poll.is_zero() {
            return Err(StartError::Config("the moderation log poll interval must be positive".into()));
        }
        if config.limits.max_connections_per_user == 0 || config.limits.max_http_connections == 0 {
            return Err(StartError::Config(
                "max connections per user and max HTTP connections must be positive".into(),
            ));
        }
        // Both URLs are checked before anything is opened.
        let location = confab_store::StoreLocation::resolve(
            config.database_url.as_deref(),
            config.database_schema.as_deref(),
            &config.data_dir,
        )
        .map_err(|e| StartError::Config(e.to_string()))?;
        let mut bus_location = BusLocation::resolve(config.redis_url.as_deref(), &config.redis_prefix)
            .map_err(|e| StartError::Config(e.to_string()))?;
        if let BusLocation::Redis { ca, .. } = &mut bus_location {
            ca.clone_from(&config.redis_ca);
        }
        let log_location = confab_log::LogLocation::resolve(config.log_url.as_deref(), &config.log_prefix)
            .map_err(|e| StartError::Config(e.to_string()))?;
        if log_location.is_some() && config.log_fanout_threshold == 0 {
            return Err(StartError::Config("the log fan-out threshold must be at least 1".into()));
        }
        let admins = Arc::new(
            moderator::Admins::new(&config.moderation.admin_users)
                .map_err(|e| StartError::Config(e.to_string()))?,
        );
        let migrations = if config.no_migrate {
            confab_store::schema::Migrations::RequireCurrent
        } else {
            confab_store::schema::Migrations::Apply
        };
        let store = confab_store::open_with(&location, migrations).await?;
        for name in admins.usernames() {
            if store.credentials(name).await?.is_none() {
                tracing::warn!(
                    admin = %name,
                    "no account has this administrator's username yet: whoever registers it first \
                     becomes an administrator"
                );
            }
        }
        let blobs = confab_media::BlobStore::open(
            config.media.url.as_deref(),
            &config.data_dir,
            &config.media.s3_overrides,
        )
        .map_err(|e| StartError::Config(e.to_string()))?;
        tracing::info!(media = blobs.description(), "attachments stored");
        let moderation_log_seen = store.latest_change().await?;
        let (secret, secret_source) = match &config.jwt_secret {
            Some(secret) if !secret.is_empty() => (secret.clone(), SecretSource::Configured),
            _ => {
                let candidate = random_secret();
                let secret = store.setting_or_init(JWT_SECRET_KEY, &candidate).await?;
                let source = if secret == candidate { SecretSource::Generated } else { SecretSource::Stored };
                (secret, source)
            }
        };
        // Read before anything listens: unusable files stop the start with their reason.
        let certificate = config.tls.clone().map(tls::TlsCertificate::load).transpose()?;
        let tls = certificate.as_ref().map(|c| c.acceptor()).transpose()?;
        let listener = bind_listener(config.listen)
            .map_err(|source| StartError::Listen { addr: config.listen, source })?;
        let metrics_listener = match config.metrics_listen {
            Some(addr) => {
                Some(TcpListener::bind(addr).await.map_err(|source| StartError::Listen { addr, source })?)
            }
            None => None,
        };
        let hub = Arc::new(Hub::new());
        let members = Arc::new(MemberCache::default());
        let handler = Arc::new(NodeHandler {
            hub: hub.clone(),
            members: members.clone(),
            presence: OnceLock::new(),
            revocations: Default::default(),
            blocks: Default::default(),
            bans: Default::default(),
            ordering: ordering::Ordering::new(hub.clone(), store.clone(), members.clone(), ordering::HOLD),
        });
        let node_id = confab_core::ids::new_id();
        if let BusLocation::Redis { prefix, .. } = &bus_location {
            tracing::info!(node = %node_id, %prefix, "joining the cluster over Redis");
        }
        let bus: SharedBus = confab_bus::open(&bus_location, &node_id, handler.clone()).await?;
        hub.announce_devices_to(bus.clone());
        let log = match &log_location {
            Some(location) => {
                let log = confab_log::open(location).await?;
                // Tailing starts before anything is accepted, so no large group's message
                // committed from here on is missed by this node.
                let tail = log.tail().await?;
                tokio::spawn(log_fanout::follow(
                    tail,
                    store.clone(),
                    members.clone(),
                    handler.ordering.clone(),
                    hub.clone(),
                ));
                tracing::info!(
                    threshold = config.log_fanout_threshold,
                    "large groups fan out through the log"
                );
                Some(LogFanout::new(log, config.log_fanout_threshold as usize))
            }
            None => None,
        };
        let max_connections = config.limits.max_connections;
        let startup = Startup {
            local_addr: listener.local_addr().unwrap_or(config.listen),
            data_dir: config.data_dir.clone(),
            storage: location.to_string(),
            bus: bus_location.to_string(),
            log: log_location
                .as_ref()
                .map(|l| format!("{l} (groups of {} members or more)", config.log_fanout_threshold)),
            secret: secret_source,
            metrics_addr: metrics_listener.as_ref().and_then(|l| l.local_addr().ok()),
            tls: tls.is_some(),
        };
        let log_poll = config.moderation.log_poll;
        let push = service::Push::start(config.push.clone(), store.clone(), bus.clone(), &node_id)
            .await
            .map_err(|e| StartError::Config(e.to_string()))?;
        let app = App::new(
            config,
            store,
            bus,
            &handler,
            &secret,
            &node_id,
            admins,
            moderation_log_seen,
            blobs,
            push.clone(),
            log,
        );
        let app = Arc::new(app);
        tokio::spawn(push.run(app.shutdown_signal().clone()));
        tokio::spawn(app.clone().housekeeping(HOUSEKEEPING_INTERVAL));
        tokio::spawn(app.clone().follow_moderation_log(log_poll));
        tokio::spawn(app.clone().sweep_expired());
        let state = AppState {
            app,
            sessions: TaskTracker::new(),
            connection_slots: Arc::new(Semaphore::new(max_connections)),
            user_slots: Arc::default(),
            metrics: metrics::handle(),
        };
        Ok(Server { listener, metrics_listener, state, startup, tls, certificate })
    }

    /// What to tell the person who started the server.
    pub fn startup(&self) -> &Startup {
        &self.startup
    }

    /// The certificate being served, to [`tls::TlsCertificate::reload`] it (on `SIGHUP`); `None`
    /// without TLS.
    pub fn certificate(&self) -> Option<Arc<tls::TlsCertificate>> {
        self.certificate.clone()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| self.state.app.config.listen)
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests and sends
    /// finish, closes every WebSocket with a close frame and commits what the store has queued.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let Server { listener, metrics_listener, state, tls, .. } = self;
        let app = state.app.clone();
        let sessions = state.sessions.clone();
        let metrics_router = routes::metrics_router(state.clone());
        let router = routes::router(state);
        let stop = app.shutdown_signal().clone();
        let signal = stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = shutdown => tracing::info!("shutting down"),
                _ = signal.cancelled() => {}
            }
            signal.cancel();
        });
        let config = &app.config;
        let settings = listen::HttpSettings {
            header_timeout: config.http_header_timeout,
            idle_timeout: config.http_idle_timeout,
            max_connections: config.limits.max_http_connections,
        };
        // The separate metrics address is for the operator's network: plain HTTP.
        let metrics_server = metrics_listener
            .map(|l| tokio::spawn(listen::serve(l, metrics_router, settings.clone(), None, stop.clone())));
        listen::serve(listener, router, settings, tls, stop).await;
        if let Some(metrics_server) = metrics_server {
            let _ = metrics_server.await;
        }
        app.begin_shutdown();
        sessions.close();
        sessions.wait().await;
        app.finish_shutdown().await;
        Ok(())
    }
}

/// Pending handshakes the listening socket queues before the kernel drops new ones (it also caps
/// this at `net.core.somaxconn`, 4096 by default). `TcpListener::bind` asks for 128, which a burst
/// of reconnecting clients (a node restart) overflows at once.
const LISTEN_BACKLOG: u32 = 4096;

/// The API listener: bound as `TcpListener::bind` would (address reuse, non-blocking), with a
/// backlog for reconnect bursts.
fn bind_listener(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket =
        if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}
