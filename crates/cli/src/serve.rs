//! `confab serve`: settings from flags, then `CONFAB_*` environment variables, then an optional TOML
//! file (`--config`), then defaults.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use confab_proto::RegistrationMode;
use confab_server::config::{
    ApnsSettings, AuthLimits, ExpiryConfig, IpRange, MediaConfig, ModerationConfig, PushSettings,
};
use confab_server::webhooks::WebhookConfig;
use confab_server::{Server, ServerConfig};
use serde::Deserialize;

#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    /// TOML file with any of the settings below (kebab-case keys, e.g. `data-dir = "/var/lib/confab"`).
    #[arg(long, env = "CONFAB_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "CONFAB_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Directory of the embedded database [default: ./confab-data].
    #[arg(long, env = "CONFAB_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL URL (`postgres://…`): use PostgreSQL instead of the embedded store.
    #[arg(long, env = "CONFAB_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// PostgreSQL schema for Confab's tables (created if missing) [default: the search path].
    #[arg(long, env = "CONFAB_DATABASE_SCHEMA")]
    pub database_schema: Option<String>,
    /// Redis URL (`redis://…`): carry frames, presence and routing between nodes through Redis.
    #[arg(long, env = "CONFAB_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Prefix of every Redis key and channel [default: confab].
    #[arg(long, env = "CONFAB_REDIS_PREFIX")]
    pub redis_prefix: Option<String>,
    /// PEM certificates to trust for a `rediss://` Redis [default: the system's roots].
    #[arg(long, env = "CONFAB_REDIS_CA")]
    pub redis_ca: Option<PathBuf>,
    /// Durable log for large groups' fan-out: `nats://…` (NATS JetStream) or
    /// `kafka://host:port[,host:port…]` (a Kafka-protocol broker) [default: none, every
    /// conversation over the bus].
    #[arg(long, env = "CONFAB_LOG_URL", hide_env_values = true)]
    pub log_url: Option<String>,
    /// Names the log's stream and subjects, or topic [default: confab].
    #[arg(long, env = "CONFAB_LOG_PREFIX")]
    pub log_prefix: Option<String>,
    /// Conversations with at least this many members fan out through the log [default: 100].
    #[arg(long, env = "CONFAB_LOG_FANOUT_THRESHOLD")]
    pub log_fanout_threshold: Option<u32>,
    /// URL of the JWKS document with the public keys of the RS256/ES256 tokens your application
    /// mints (e.g. `https://auth.example.com/.well-known/jwks.json`) [default: HS256 tokens only].
    #[arg(long, env = "CONFAB_JWKS_URL")]
    pub jwks_url: Option<String>,
    /// HS256 secret for tokens; generated and stored on first run when unset.
    #[arg(long, env = "CONFAB_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// POST events (message.created, member.joined, member.left, user.registered) to this URL,
    /// signed with `--webhook-secret` [default: no webhooks].
    #[arg(long, env = "CONFAB_WEBHOOK_URL")]
    pub webhook_url: Option<String>,
    /// HMAC-SHA256 key of the webhooks' `Confab-Signature` (required with `--webhook-url`).
    #[arg(long, env = "CONFAB_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
    /// Where attachments are kept: `s3://bucket[/prefix]` for S3-compatible storage (endpoint,
    /// region and credentials from AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY), or `file:PATH` [default: `media` under the data dir].
    #[arg(long, env = "CONFAB_MEDIA_URL")]
    pub media_url: Option<String>,
    /// Largest attachment, in bytes [default: 52428800 (50 MiB)].
    #[arg(long, env = "CONFAB_MAX_ATTACHMENT_BYTES")]
    pub max_attachment_bytes: Option<u64>,
    /// Lifetime of issued tokens, in seconds [default: 604800].
    #[arg(long, env = "CONFAB_TOKEN_TTL_SECS")]
    pub token_ttl_secs: Option<u64>,
    /// Heartbeat interval told to clients, in ms; 3 silent intervals close a connection [default: 30000].
    #[arg(long, env = "CONFAB_HEARTBEAT_INTERVAL_MS")]
    pub heartbeat_interval_ms: Option<u64>,
    /// Largest message text in bytes [default: 16384].
    #[arg(long, env = "CONFAB_MAX_TEXT_BYTES")]
    pub max_text_bytes: Option<usize>,
    /// Largest WebSocket frame or REST body in bytes [default: 65536].
    #[arg(long, env = "CONFAB_MAX_FRAME_BYTES")]
    pub max_frame_bytes: Option<usize>,
    /// Largest group in members, up to 100000 [default: 1000].
    #[arg(long, env = "CONFAB_MAX_GROUP_SIZE")]
    pub max_group_size: Option<u32>,
    /// Sustained messages per second per device [default: 50].
    #[arg(long, env = "CONFAB_MESSAGES_PER_SECOND")]
    pub messages_per_second: Option<u32>,
    /// Message burst allowance per device [default: 100].
    #[arg(long, env = "CONFAB_MESSAGE_BURST")]
    pub message_burst: Option<u32>,
    /// Frames queued per connection before it is disconnected as too slow [default: 1024].
    #[arg(long, env = "CONFAB_OUTBOUND_QUEUE")]
    pub outbound_queue: Option<usize>,
    /// Most WebSocket connections this node accepts [default: 100000].
    #[arg(long, env = "CONFAB_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Most WebSocket connections one user may hold on this node [default: 32].
    #[arg(long, env = "CONFAB_MAX_CONNECTIONS_PER_USER")]
    pub max_connections_per_user: Option<usize>,
    /// Most HTTP connections not upgraded to a WebSocket, open at once; more get 503 [default: 4096].
    #[arg(long, env = "CONFAB_MAX_HTTP_CONNECTIONS")]
    pub max_http_connections: Option<usize>,
    /// Time a client has to send a request's headers, in ms [default: 10000].
    #[arg(long, env = "CONFAB_HTTP_HEADER_TIMEOUT_MS")]
    pub http_header_timeout_ms: Option<u64>,
    /// An HTTP connection moving no bytes for this long is closed, in ms [default: 60000].
    #[arg(long, env = "CONFAB_HTTP_IDLE_TIMEOUT_MS")]
    pub http_idle_timeout_ms: Option<u64>,
    /// Comma-separated origins allowed to open `/ws` besides the server's own; `*` allows all.
    #[arg(long, env = "CONFAB_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Option<Vec<String>>,
    /// Quiet time after the last `typing.start` before `isTyping: false`, in ms [default: 5000].
    #[arg(long, env = "CONFAB_TYPING_TIMEOUT_MS")]
    pub typing_timeout_ms: Option<u64>,
    /// Least time between two presence updates about one user, in ms [default: 1000].
    #[arg(long, env = "CONFAB_PRESENCE_THROTTLE_MS")]
    pub presence_throttle_ms: Option<u64>,
    /// Most users in the `presence.bulk` sent on connect [default: 1000].
    #[arg(long, env = "CONFAB_PRESENCE_BULK_CAP")]
    pub presence_bulk_cap: Option<u32>,
    /// Groups above this size send read receipts only to senders and the reader [default: 100].
    #[arg(long, env = "CONFAB_RECEIPT_FANOUT_LIMIT")]
    pub receipt_fanout_limit: Option<u32>,
    /// Message searches one user may run per minute on this node, a burst refilled evenly [default: 60].
    #[arg(long, env = "CONFAB_SEARCHES_PER_MINUTE")]
    pub searches_per_minute: Option<u32>,
    /// Longest one message search may take, in ms; past it the search answers `400` asking to
    /// narrow it. 0: no limit [default: 3000].
    #[arg(long, env = "CONFAB_SEARCH_TIMEOUT_MS")]
    pub search_timeout_ms: Option<u64>,
    /// Failed logins for one username before each further attempt waits 1 s, 2 s, 4 s, … [default: 5].
    #[arg(long, env = "CONFAB_LOGIN_FAILURES_PER_ACCOUNT")]
    pub login_failures_per_account: Option<u32>,
    /// Longest wait between login attempts for one username, in seconds [default: 300].
    #[arg(long, env = "CONFAB_LOGIN_BACKOFF_MAX_SECS")]
    pub login_backoff_max_secs: Option<u64>,
    /// Failed logins from one client address (IPv6: /64) per 5 minutes [default: 30].
    #[arg(long, env = "CONFAB_LOGIN_FAILURES_PER_ADDRESS")]
    pub login_failures_per_address: Option<u32>,
    /// Registrations from one client address (IPv6: /64) per hour [default: 10].
    #[arg(long, env = "CONFAB_REGISTRATIONS_PER_ADDRESS")]
    pub registrations_per_address: Option<u32>,
    /// Threads hashing passwords [default: half the cores, at least 1].
    #[arg(long, env = "CONFAB_HASH_WORKERS")]
    pub hash_workers: Option<usize>,
    /// Password hashes waiting for a thread before logins get 429 [default: 64].
    #[arg(long, env = "CONFAB_HASH_QUEUE")]
    pub hash_queue: Option<usize>,
    /// Reverse proxies (addresses or CIDR ranges, comma-separated) whose X-Forwarded-For names the
    /// client [default: none: the client is the connection's peer].
    #[arg(long, env = "CONFAB_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Option<Vec<IpRange>>,
    /// Messages per second per user, over all devices and REST [default: 2 × messages-per-second].
    #[arg(long, env = "CONFAB_USER_MESSAGES_PER_SECOND")]
    pub user_messages_per_second: Option<u32>,
    /// Message burst allowance per user [default: 2 × message-burst].
    #[arg(long, env = "CONFAB_USER_MESSAGE_BURST")]
    pub user_message_burst: Option<u32>,
    /// Largest sync result in bytes; the rest is paged with `hasMore` [default: 524288].
    #[arg(long, env = "CONFAB_MAX_SYNC_BYTES")]
    pub max_sync_bytes: Option<usize>,
    /// Most conversations listed in one sync request [default: 1000].
    #[arg(long, env = "CONFAB_MAX_SYNC_CONVERSATIONS")]
    pub max_sync_conversations: Option<usize>,
    /// Most users one connection watches for presence; 4 × this per user [default: 2000].
    #[arg(long, env = "CONFAB_PRESENCE_WATCH_CAP")]
    pub presence_watch_cap: Option<u32>,
    /// Groups above this size get no typing indicators [default: 100].
    #[arg(long, env = "CONFAB_TYPING_FANOUT_LIMIT")]
    pub typing_fanout_limit: Option<u32>,
    /// Server administrators: comma-separated usernames [default: none].
    #[arg(long, env = "CONFAB_ADMIN_USERS", value_delimiter = ',')]
    pub admin_users: Option<Vec<String>>,
    /// Reports one user may file per hour [default: 20].
    #[arg(long, env = "CONFAB_REPORTS_PER_HOUR")]
    pub reports_per_hour: Option<u32>,
    /// How often the moderation log is read (bans and revocations made by `confab admin`), in ms
    /// [default: 2000].
    #[arg(long, env = "CONFAB_MODERATION_POLL_MS")]
    pub moderation_poll_ms: Option<u64>,
    /// How long after sending a message its sender may edit it, in seconds [default: no limit].
    #[arg(long, env = "CONFAB_EDIT_WINDOW_SECS")]
    pub edit_window_secs: Option<u64>,
    /// Who may register: `open` (anyone), `closed` (no one), `invite` (with a code from
    /// `confab admin invite create`) [default: open].
    #[arg(long, env = "CONFAB_REGISTRATION", value_parser = parse_registration)]
    pub registration: Option<RegistrationMode>,
    /// Refuse to start when the database has migrations pending, instead of applying them (run
    /// `confab migrate` first).
    #[arg(long, env = "CONFAB_NO_MIGRATE")]
    pub no_migrate: bool,
    /// Messages older than this many days are removed; 0 keeps them forever [default: 0].
    #[arg(long, env = "CONFAB_RETENTION_DAYS")]
    pub retention_days: Option<u32>,
    /// How often expired and out-of-retention messages are swept, in ms [default: 10000].
    #[arg(long, env = "CONFAB_SWEEP_INTERVAL_MS")]
    pub sweep_interval_ms: Option<u64>,
    /// Serve the web client from this directory instead of the embedded copy (development).
    #[arg(long, env = "CONFAB_WEB_DIR")]
    pub web_dir: Option<PathBuf>,
    /// Log filter, e.g. `info` or `confab_server=debug` [default: info].
    #[arg(long, env = "CONFAB_LOG")]
    pub log: Option<String>,
    /// Log lines as `text` (for people) or `json` (one object per line, for log collectors)
    /// [default: text].
    #[arg(long, env = "CONFAB_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Also serve `GET /metrics` on this address, and no longer on `--listen` [default: none].
    #[arg(long, env = "CONFAB_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Serve HTTPS and WSS with this PEM certificate chain (with `--tls-key`); read again on
    /// `SIGHUP` [default: plain HTTP].
    #[arg(long, env = "CONFAB_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of `--tls-cert`.
    #[arg(long, env = "CONFAB_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// At most one push per device and conversation in this window, carrying the count since
    /// the last, in milliseconds [default: 3000].
    #[arg(long, env = "CONFAB_PUSH_COALESCE_MS")]
    pub push_coalesce_ms: Option<u64>,
    /// How much of a message leaves the server in a push: `none` (a count only), `sender`
    /// (names, no text) or `full` (a preview of the text) [default: none].
    #[arg(long, env = "CONFAB_PUSH_PREVIEW", value_parser = parse_preview)]
    pub push_preview: Option<confab_push::Preview>,
    /// Turns Web Push (browsers) off; it is on by default and needs no account anywhere.
    #[arg(long, env = "CONFAB_DISABLE_WEB_PUSH")]
    pub disable_web_push: bool,
    /// The VAPID private key (base64url of 32 bytes) [default: generated once, kept in the store].
    #[arg(long, env = "CONFAB_VAPID_PRIVATE_KEY")]
    pub vapid_private_key: Option<String>,
    /// The VAPID contact push services may write to: `mailto:…` or `https://…`
    /// [default: mailto:postmaster@localhost].
    #[arg(long, env = "CONFAB_VAPID_SUBJECT")]
    pub vapid_subject: Option<String>,
    /// A Google service-account JSON file: turns FCM on.
    #[arg(long, env = "CONFAB_FCM_CREDENTIALS")]
    pub fcm_credentials: Option<PathBuf>,
    /// FCM's API base URL [default: https://fcm.googleapis.com].
    #[arg(long, env = "CONFAB_FCM_BASE_URL")]
    pub fcm_base_url: Option<String>,
    /// An APNs token key (`.p8`): turns APNs on, with `--apns-key-id`, `--apns-team-id` and
    /// `--apns-topic`.
    #[arg(long, env = "CONFAB_APNS_KEY", requires_all = ["apns_key_id", "apns_team_id", "apns_topic"])]
    pub apns_key: Option<PathBuf>,
    #[arg(long, env = "CONFAB_APNS_KEY_ID")]
    pub apns_key_id: Option<String>,
    #[arg(long, env = "CONFAB_APNS_TEAM_ID")]
    pub apns_team_id: Option<String>,
    /// The app's bundle id.
    #[arg(long, env = "CONFAB_APNS_TOPIC")]
    pub apns_topic: Option<String>,
    /// `production` or `sandbox` (development builds of the app) [default: production].
    #[arg(long, env = "CONFAB_APNS_ENVIRONMENT")]
    pub apns_environment: Option<String>,
    /// APNs' base URL, overriding the environment's.
    #[arg(long, env = "CONFAB_APNS_BASE_URL")]
    pub apns_base_url: Option<String>,
    /// Where `webhook` push subscriptions are delivered (the application's own backend).
    #[arg(long, env = "CONFAB_PUSH_WEBHOOK_URL")]
    pub push_webhook_url: Option<String>,
    /// The HMAC-SHA256 key of the push webhook's `Confab-Signature`.
    #[arg(long, env = "CONFAB_PUSH_WEBHOOK_SECRET")]
    pub push_webhook_secret: Option<String>,
    /// Lets Web Push endpoints reach loopback, private and link-local addresses (tests only).
    #[arg(long, env = "CONFAB_PUSH_ALLOW_PRIVATE_ENDPOINTS")]
    pub push_allow_private_endpoints: bool,
    /// PEM certificates trusted for push services besides the system's roots.
    #[arg(long, env = "CONFAB_PUSH_CA_FILE")]
    pub push_ca_file: Option<PathBuf>,
    /// How long a node holds a claimed push before another node may send it, in milliseconds
    /// [default: 120000].
    #[arg(long, env = "CONFAB_PUSH_LEASE_MS")]
    pub push_lease_ms: Option<u64>,
}

/// How log lines are written.
#[derive(clap::ValueEnum, Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines, coloured only at a terminal.
    #[default]
    Text,
    /// One JSON object per line, the event's fields at the top level.
    Json,
}

/// The same settings, read from the TOML file.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    database_schema: Option<String>,
    redis_url: Option<String>,
    redis_prefix: Option<String>,
    redis_ca: Option<PathBuf>,
    log_url: Option<String>,
    log_prefix: Option<String>,
    log_fanout_threshold: Option<u32>,
    jwt_secret: Option<String>,
    jwks_url: Option<String>,
    webhook_url: Option<String>,
    webhook_secret: Option<String>,
    push_coalesce_ms: Option<u64>,
    #[serde(default, deserialize_with = "preview_from_file")]
    push_preview: Option<confab_push::Preview>,
    disable_web_push: Option<bool>,
    vapid_private_key: Option<String>,
    vapid_subject: Option<String>,
    fcm_credentials: Option<PathBuf>,
    fcm_base_url: Option<String>,
    apns_key: Option<PathBuf>,
    apns_key_id: Option<String>,
    apns_team_id: Option<String>,
    apns_topic: Option<String>,
    apns_environment: Option<String>,
    apns_base_url: Option<String>,
    push_webhook_url: Option<String>,
    push_webhook_secret: Option<String>,
    push_ca_file: Option<PathBuf>,
    push_lease_ms: Option<u64>,
    media_url: Option<String>,
    max_attachment_bytes: Option<u64>,
    token_ttl_secs: Option<u64>,
    heartbeat_interval_ms: Option<u64>,
    max_text_bytes: Option<usize>,
    max_frame_bytes: Option<usize>,
    max_group_size: Option<u32>,
    messages_per_second: Option<u32>,
    message_burst: Option<u32>,
    outbound_queue: Option<usize>,
    max_connections: Option<usize>,
    max_connections_per_user: Option<usize>,
    max_http_connections: Option<usize>,
    http_header_timeout_ms: Option<u64>,
    http_idle_timeout_ms: Option<u64>,
    allowed_origins: Option<Vec<String>>,
    typing_timeout_ms: Option<u64>,
    presence_throttle_ms: Option<u64>,
    presence_bulk_cap: Option<u32>,
    receipt_fanout_limit: Option<u32>,
    searches_per_minute: Option<u32>,
    search_timeout_ms: Option<u64>,
    login_failures_per_account: Option<u32>,
    login_backoff_max_secs: Option<u64>,
    login_failures_per_address: Option<u32>,
    registrations_per_address: Option<u32>,
    hash_workers: Option<usize>,
    hash_queue: Option<usize>,
    trusted_proxies: Option<Vec<IpRange>>,
    user_messages_per_second: Option<u32>,
    user_message_burst: Option<u32>,
    max_sync_bytes: Option<usize>,
    max_sync_conversations: Option<usize>,
    presence_watch_cap: Option<u32>,
    typing_fanout_limit: Option<u32>,
    admin_users: Option<Vec<String>>,
    reports_per_hour: Option<u32>,
    moderation_poll_ms: Option<u64>,
    edit_window_secs: Option<u64>,
    retention_days: Option<u32>,
    sweep_interval_ms: Option<u64>,
    registration: Option<RegistrationMode>,
    web_dir: Option<PathBuf>,
    log: Option<String>,
    log_format: Option<LogFormat>,
    metrics_listen: Option<SocketAddr>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
}

/// Where the store is and who administers, as `confab admin` needs them.
type StoreAndAdmins = (Option<PathBuf>, Option<String>, Option<String>, Option<Vec<String>>);

impl FileConfig {
    /// The data directory, database URL and schema, and administrators.
    pub(crate) fn store_and_admins(self) -> StoreAndAdmins {
        (self.data_dir, self.database_url, self.database_schema, self.admin_users)
    }
}

pub(crate) fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn parse_preview(s: &str) -> Result<confab_push::Preview, String> {
    confab_push::Preview::parse(s.trim()).ok_or_else(|| format!("`{s}`: expected none, sender or full"))
}

fn preview_from_file<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<confab_push::Preview>, D::Error> {
    let raw = String::deserialize(d)?;
    parse_preview(&raw).map(Some).map_err(serde::de::Error::custom)
}

fn parse_registration(s: &str) -> Result<RegistrationMode, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "open" => Ok(RegistrationMode::Open),
        "closed" => Ok(RegistrationMode::Closed),
        "invite" => Ok(RegistrationMode::Invite),
        other => Err(format!("`{other}`: expected open, closed or invite")),
    }
}

/// Flags and environment (already merged by clap) over the file over the defaults.
/// The push settings of `args` over `file` (taken out of both).
fn push_settings(args: &mut ServeArgs, file: &mut FileConfig) -> PushSettings {
    let d = PushSettings::default();
    let apns_key = args.apns_key.take().or(file.apns_key.take());
    PushSettings {
        coalesce: args
            .push_coalesce_ms
            .or(file.push_coalesce_ms)
            .map(Duration::from_millis)
            .unwrap_or(d.coalesce),
        preview: args.push_preview.or(file.push_preview).unwrap_or(d.preview),
        web_push: !(args.disable_web_push || file.disable_web_push.unwrap_or(false)),
        vapid_private_key: args.vapid_private_key.take().or(file.vapid_private_key.take()),
        vapid_subject: args.vapid_subject.take().or(file.vapid_subject.take()).unwrap_or(d.vapid_subject),
        fcm_credentials: args.fcm_credentials.take().or(file.fcm_credentials.take()),
        fcm_base_url: args.fcm_base_url.take().or(file.fcm_base_url.take()),
        apns: apns_key.map(|key| ApnsSettings {
            key,
            key_id: args.apns_key_id.take().or(file.apns_key_id.take()).unwrap_or_default(),
            team_id: args.apns_team_id.take().or(file.apns_team_id.take()).unwrap_or_default(),
            topic: args.apns_topic.take().or(file.apns_topic.take()).unwrap_or_default(),
            sandbox: args.apns_environment.take().or(file.apns_environment.take()).as_deref()
                == Some("sandbox"),
            base_url: args.apns_base_url.take().or(file.apns_base_url.take()),
        }),
        webhook_url: args.push_webhook_url.take().or(file.push_webhook_url.take()),
        webhook_secret: args.push_webhook_secret.take().or(file.push_webhook_secret.take()),
        allow_private_endpoints: args.push_allow_private_endpoints,
        ca_file: args.push_ca_file.take().or(file.push_ca_file.take()),
        lease: args.push_lease_ms.or(file.push_lease_ms).map(Duration::from_millis).unwrap_or(d.lease),
    }
}

fn resolve(mut args: ServeArgs, mut file: FileConfig) -> (ServerConfig, String) {
    let d = ServerConfig::default();
    let l = d.limits.clone();
    let a = d.auth.clone();
    let m = d.moderation.clone();
    let e = d.expiry.clone();
    let push = push_settings(&mut args, &mut file);
    let config = ServerConfig {
        listen: args.listen.or(file.listen).unwrap_or(d.listen),
        data_dir: args.data_dir.or(file.data_dir).unwrap_or(d.data_dir),
        database_url: args.database_url.or(file.database_url),
        database_schema: args.database_schema.or(file.database_schema),
        redis_url: args.redis_url.or(file.redis_url),
        redis_prefix: args.redis_prefix.or(file.redis_prefix).unwrap_or(d.redis_prefix),
        redis_ca: args.redis_ca.or(file.redis_ca),
        log_url: args.log_url.or(file.log_url),
        log_prefix: args.log_prefix.or(file.log_prefix).unwrap_or(d.log_prefix),
        log_fanout_threshold: args
            .log_fanout_threshold
            .or(file.log_fanout_threshold)
            .unwrap_or(d.log_fanout_threshold),
        jwt_secret: args.jwt_secret.or(file.jwt_secret).or(d.jwt_secret),
        jwks_url: args.jwks_url.or(file.jwks_url),
        webhook: args.webhook_url.or(file.webhook_url).map(|url| {
            WebhookConfig::new(url, args.webhook_secret.or(file.webhook_secret).unwrap_or_default())
        }),
        media: MediaConfig {
            url: args.media_url.or(file.media_url),
            s3_overrides: Vec::new(),
            max_attachment_bytes: args
                .max_attachment_bytes
                .or(file.max_attachment_bytes)
                .unwrap_or(d.media.max_attachment_bytes),
        },
        token_ttl: args
            .token_ttl_secs
            .or(file.token_ttl_secs)
            .map(Duration::from_secs)
            .unwrap_or(d.token_ttl),
        heartbeat_interval: args
            .heartbeat_interval_ms
            .or(file.heartbeat_interval_ms)
            .map(Duration::from_millis)
            .unwrap_or(d.heartbeat_interval),
        typing_timeout: args
            .typing_timeout_ms
            .or(file.typing_timeout_ms)
            .map(Duration::from_millis)
            .unwrap_or(d.typing_timeout),
        presence_throttle: args
            .presence_throttle_ms
            .or(file.presence_throttle_ms)
            .map(Duration::from_millis)
            .unwrap_or(d.presence_throttle),
        http_header_timeout: args
            .http_header_timeout_ms
            .or(file.http_header_timeout_ms)
            .map(Duration::from_millis)
            .unwrap_or(d.http_header_timeout),
        http_idle_timeout: args
            .http_idle_timeout_ms
            .or(file.http_idle_timeout_ms)
            .map(Duration::from_millis)
            .unwrap_or(d.http_idle_timeout),
        allowed_origins: args
            .allowed_origins
            .or(file.allowed_origins)
            .map(|list| list.into_iter().map(|o| o.trim().to_string()).filter(|o| !o.is_empty()).collect())
            .unwrap_or(d.allowed_origins),
        limits: confab_server::Limits {
            max_text_bytes: args.max_text_bytes.or(file.max_text_bytes).unwrap_or(l.max_text_bytes),
            max_frame_bytes: args.max_frame_bytes.or(file.max_frame_bytes).unwrap_or(l.max_frame_bytes),
            max_group_size: args.max_group_size.or(file.max_group_size).unwrap_or(l.max_group_size),
            messages_per_second: args
                .messages_per_second
                .or(file.messages_per_second)
                .unwrap_or(l.messages_per_second),
            message_burst: args.message_burst.or(file.message_burst).unwrap_or(l.message_burst),
            outbound_queue: args.outbound_queue.or(file.outbound_queue).unwrap_or(l.outbound_queue),
            max_connections: args.max_connections.or(file.max_connections).unwrap_or(l.max_connections),
            max_connections_per_user: args
                .max_connections_per_user
                .or(file.max_connections_per_user)
                .unwrap_or(l.max_connections_per_user),
            max_http_connections: args
                .max_http_connections
                .or(file.max_http_connections)
                .unwrap_or(l.max_http_connections),
            presence_bulk_cap: args
                .presence_bulk_cap
                .or(file.presence_bulk_cap)
                .unwrap_or(l.presence_bulk_cap),
            receipt_fanout_limit: args
                .receipt_fanout_limit
                .or(file.receipt_fanout_limit)
                .unwrap_or(l.receipt_fanout_limit),
            searches_per_minute: args
                .searches_per_minute
                .or(file.searches_per_minute)
                .unwrap_or(l.searches_per_minute),
            search_timeout_ms: match args.search_timeout_ms.or(file.search_timeout_ms) {
                Some(0) => None,
                Some(ms) => Some(ms),
                None => l.search_timeout_ms,
            },
            user_messages_per_second: args
                .user_messages_per_second
                .or(file.user_messages_per_second)
                .or(l.user_messages_per_second),
            user_message_burst: args.user_message_burst.or(file.user_message_burst).or(l.user_message_burst),
            max_sync_bytes: args.max_sync_bytes.or(file.max_sync_bytes).unwrap_or(l.max_sync_bytes),
            max_sync_conversations: args
                .max_sync_conversations
                .or(file.max_sync_conversations)
                .unwrap_or(l.max_sync_conversations),
            presence_watch_cap: args
                .presence_watch_cap
                .or(file.presence_watch_cap)
                .unwrap_or(l.presence_watch_cap),
            typing_fanout_limit: args
                .typing_fanout_limit
                .or(file.typing_fanout_limit)
                .unwrap_or(l.typing_fanout_limit),
            edit_window_secs: args.edit_window_secs.or(file.edit_window_secs).or(l.edit_window_secs),
            ..l
        },
        web_dir: args.web_dir.or(file.web_dir),
        metrics_listen: args.metrics_listen.or(file.metrics_listen),
        tls: match (args.tls_cert.or(file.tls_cert), args.tls_key.or(file.tls_key)) {
            (Some(cert), Some(key)) => Some(confab_server::tls::TlsFiles { cert, key }),
            _ => None,
        },
        auth: AuthLimits {
            login_failures_per_account: args
                .login_failures_per_account
                .or(file.login_failures_per_account)
                .unwrap_or(a.login_failures_per_account),
            login_backoff_max: args
                .login_backoff_max_secs
                .or(file.login_backoff_max_secs)
                .map(Duration::from_secs)
                .unwrap_or(a.login_backoff_max),
            login_failures_per_address: args
                .login_failures_per_address
                .or(file.login_failures_per_address)
                .unwrap_or(a.login_failures_per_address),
            registrations_per_address: args
                .registrations_per_address
                .or(file.registrations_per_address)
                .unwrap_or(a.registrations_per_address),
            hash_workers: args.hash_workers.or(file.hash_workers).unwrap_or(a.hash_workers),
            hash_queue: args.hash_queue.or(file.hash_queue).unwrap_or(a.hash_queue),
            trusted_proxies: args.trusted_proxies.or(file.trusted_proxies).unwrap_or(a.trusted_proxies),
            registration: args.registration.or(file.registration).unwrap_or(a.registration),
        },
        moderation: ModerationConfig {
            admin_users: args.admin_users.or(file.admin_users).unwrap_or(m.admin_users),
            reports_per_hour: args.reports_per_hour.or(file.reports_per_hour).unwrap_or(m.reports_per_hour),
            log_poll: args
                .moderation_poll_ms
                .or(file.moderation_poll_ms)
                .map(Duration::from_millis)
                .unwrap_or(m.log_poll),
        },
        no_migrate: args.no_migrate,
        push,
        expiry: ExpiryConfig {
            retention_days: args.retention_days.or(file.retention_days).unwrap_or(e.retention_days),
            sweep_interval: args
                .sweep_interval_ms
                .or(file.sweep_interval_ms)
                .map(Duration::from_millis)
                .unwrap_or(e.sweep_interval),
            ..e
        },
    };
    let log = args.log.or(file.log).unwrap_or_else(|| "info".to_string());
    (config, log)
}

pub fn run(mut args: ServeArgs) -> anyhow::Result<()> {
    confab_server::failpoints::configure_from_env().map_err(anyhow::Error::msg)?;
    let file = match args.config.take() {
        Some(path) => read_file(&path)?,
        None => FileConfig::default(),
    };
    let log_format = args.log_format.or(file.log_format).unwrap_or_default();
    let (mut config, log) = resolve(args, file);
    if config.media.max_attachment_bytes == 0 {
        anyhow::bail!("--max-attachment-bytes must be positive");
    }
    if let Some(apns) = &config.push.apns {
        if apns.key_id.is_empty() || apns.team_id.is_empty() || apns.topic.is_empty() {
            anyhow::bail!("--apns-key needs --apns-key-id, --apns-team-id and --apns-topic");
        }
    }
    if config.push.lease < Duration::from_secs(1) {
        anyhow::bail!("--push-lease-ms must be at least 1000");
    }
    if let Some(webhook) = &config.webhook {
        if !(webhook.url.starts_with("http://") || webhook.url.starts_with("https://")) {
            anyhow::bail!("--webhook-url must be an http:// or https:// URL");
        }
        if webhook.secret.is_empty() {
            anyhow::bail!(
                "--webhook-url needs --webhook-secret (the HMAC key receivers check signatures with)"
            );
        }
    }
    let filter = tracing_subscriber::EnvFilter::try_new(&log).context("invalid log filter")?;
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match log_format {
        LogFormat::Text => {
            logs.with_ansi(colour_logs(std::io::stderr().is_terminal(), std::env::var_os("NO_COLOR"))).init()
        }
        LogFormat::Json => logs.json().flatten_event(true).with_current_span(true).init(),
    }
    match raise_fd_limit() {
        Ok(limit) => {
            if let Some(warning) = config.limits.fit_to_fd_limit(limit) {
                tracing::warn!("{warning}");
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the open-file limit; connection limits left as configured")
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let server = Server::bind(config).await?;
        let addr = server.local_addr();
        let scheme = if server.certificate().is_some() { "https" } else { "http" };
        // Scripts and tests read the bound address (useful with port 0) from this line.
        println!("confab listening on {scheme}://{addr}");
        if let Some(certificate) = server.certificate() {
            tokio::spawn(reload_on_hangup(certificate));
        }
        println!("{}", server.startup());
        tracing::info!(%addr, "listening");
        server.run(shutdown_signal()).await?;
        anyhow::Ok(())
    })
}

/// Colours only for a person at a terminal who has not asked for none (<https://no-color.org>:
/// any non-empty `NO_COLOR`); log files and pipes get plain text.
fn colour_logs(terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Raises the soft open-file limit to the hard one (every WebSocket holds a descriptor) and returns
/// the limit now in force.
#[cfg(unix)]
fn raise_fd_limit() -> std::io::Result<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `getrlimit` writes into the struct we own and reads nothing else.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
        // SAFETY: `setrlimit` only reads the struct we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit = raised;
        } else {
            tracing::warn!(error = %std::io::Error::last_os_error(), "cannot raise the open-file limit");
        }
    }
    Ok(if limit.rlim_cur == libc::RLIM_INFINITY { u64::MAX } else { limit.rlim_cur })
}

#[cfg(not(unix))]
fn raise_fd_limit() -> std::io::Result<u64> {
    Ok(u64::MAX)
}

/// Reads the certificate files again on every `SIGHUP` (after a renewal); a failed reload keeps the
/// certificate in use and says why.
async fn reload_on_hangup(certificate: std::sync::Arc<confab_server::tls::TlsCertificate>) {
    #[cfg(unix)]
    {
        let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP: the TLS certificate is read at start only");
            return;
        };
        while hangups.recv().await.is_some() {
            match certificate.reload() {
                Ok(()) => tracing::info!("TLS certificate reloaded"),
                Err(e) => tracing::error!(error = %e, "TLS certificate not reloaded; the previous one stays"),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = certificate;
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_the_file_which_beats_defaults() {
        let file: FileConfig = toml::from_str(
            "listen = \"127.0.0.1:9000\"\ndata-dir = \"/tmp/x\"\nheartbeat-interval-ms = 500\nmax-group-size = 50",
        )
        .unwrap();
        let args = ServeArgs { listen: Some("127.0.0.1:9100".parse().unwrap()), ..Default::default() };
        let (config, log) = resolve(args, file);
        assert_eq!(config.listen.port(), 9100);
        assert_eq!(config.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(config.heartbeat_interval, Duration::from_millis(500));
        assert_eq!(config.limits.max_group_size, 50);
        assert_eq!(config.limits.max_text_bytes, 16 * 1024);
        assert_eq!(log, "info");
    }

    #[test]
    fn log_format_and_metrics_listener_come_from_flags_or_file() {
        let file: FileConfig =
            toml::from_str("log-format = \"json\"\nmetrics-listen = \"127.0.0.1:9101\"").unwrap();
        assert_eq!(file.log_format, Some(LogFormat::Json));
        let args =
            ServeArgs { metrics_listen: Some("127.0.0.1:9102".parse().unwrap()), ..Default::default() };
        let (config, _) = resolve(args, file);
        assert_eq!(config.metrics_listen, Some("127.0.0.1:9102".parse().unwrap()));
        assert!(toml::from_str::<FileConfig>("log-format = \"xml\"").is_err());
    }

    #[test]
    fn auth_limits_and_trusted_proxies_come_from_flags_or_file() {
        let file: FileConfig =
            toml::from_str("trusted-proxies = [\"10.0.0.0/8\", \"::1\"]\nhash-queue = 5").unwrap();
        let args = ServeArgs { registrations_per_address: Some(1000), ..Default::default() };
        let (config, _) = resolve(args, file);
        assert_eq!(config.auth.trusted_proxies, vec!["10.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()]);
        assert_eq!(config.auth.hash_queue, 5);
        assert_eq!(config.auth.registrations_per_address, 1000);
        assert_eq!(config.auth.login_failures_per_account, 5);
        assert!(toml::from_str::<FileConfig>("trusted-proxies = [\"10.0.0.0/99\"]").is_err());
    }

    #[test]
    fn logs_are_coloured_only_at_a_terminal_without_no_color() {
        assert!(colour_logs(true, None));
        assert!(colour_logs(true, Some("".into())), "an empty NO_COLOR asks for nothing");
        assert!(!colour_logs(true, Some("1".into())));
        assert!(!colour_logs(false, None));
    }

    #[test]
    fn administrators_come_from_flags_or_file() {
        let file: FileConfig =
            toml::from_str("admin-users = [\"root\"]\nreports-per-hour = 3\nmoderation-poll-ms = 250")
                .unwrap();
        let (config, _) = resolve(ServeArgs::default(), file);
        assert_eq!(config.moderation.admin_users, ["root"]);
        assert_eq!(config.moderation.reports_per_hour, 3);
        assert_eq!(config.moderation.log_poll, Duration::from_millis(250));
        let args = ServeArgs { admin_users: Some(vec!["ann".into(), "bob".into()]), ..Default::default() };
        let (config, _) = resolve(args, FileConfig::default());
        assert_eq!(config.moderation.admin_users, ["ann", "bob"]);
        assert_eq!(config.moderation.reports_per_hour, 20);
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        assert!(toml::from_str::<FileConfig>("listen-port = 1").is_err());
    }
}
