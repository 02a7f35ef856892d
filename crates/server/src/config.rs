//! Server settings. The `confab` binary fills them from flags, `CONFAB_*` environment variables
//! and an optional TOML file; tests build them directly.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// Where the embedded database lives (unused with `database_url`).
    pub data_dir: PathBuf,
    /// `postgres://…`/`postgresql://…` selects PostgreSQL, `sqlite:PATH` an embedded file elsewhere
    /// than `data_dir`; any other URL is a startup error.
    pub database_url: Option<String>,
    /// PostgreSQL schema for Confab's tables (created if missing); the default search path otherwise.
    pub database_schema: Option<String>,
    /// `redis://…` selects the Redis bus (cluster mode) instead of the in-process one; any other
    /// URL is a startup error.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key and channel, so several clusters can share one Redis.
    pub redis_prefix: String,
    /// PEM certificates to trust for a `rediss://` Redis instead of the system's roots.
    pub redis_ca: Option<PathBuf>,
    /// `nats://…` (NATS JetStream) or `kafka://…` (a Kafka-protocol broker) selects a durable log
    /// for large groups' fan-out; `None`: every conversation fans out over the bus. Any other URL
    /// is a startup error.
    pub log_url: Option<String>,
    /// Names the log's stream and subjects (or topic), so several clusters can share one broker.
    pub log_prefix: String,
    /// Conversations with at least this many members fan out through the log (when there is one).
    pub log_fanout_threshold: u32,
    /// HS256 secret for tokens. When `None`, one is generated on first run and kept in the store, so
    /// every restart (and, with a shared database, every node) uses the same one.
    pub jwt_secret: Option<String>,
    /// Where the application publishes the public keys (JWKS) of the RS256/ES256 tokens it mints;
    /// `None` accepts HS256 tokens only.
    pub jwks_url: Option<String>,
    /// Lifetime of tokens this server issues.
    pub token_ttl: Duration,
    /// Interval clients are told to heartbeat at; a connection silent for 3 intervals is closed.
    pub heartbeat_interval: Duration,
    /// Quiet time after the last `typing.start` before the server sends `isTyping: false`.
    pub typing_timeout: Duration,
    /// Least time between two `presence.update` frames about one user.
    pub presence_throttle: Duration,
    /// Time a client has to send a request's headers (on a new connection, and between requests on
    /// a kept-alive one) before the connection is closed.
    pub http_header_timeout: Duration,
    /// An HTTP connection (not yet upgraded to a WebSocket) with no bytes read or written for this
    /// long is closed, whatever it is in the middle of.
    pub http_idle_timeout: Duration,
    /// `Origin`s allowed to open `/ws`, as `scheme://host[:port]`. Empty: the server's own origin
    /// (the request's `Host`) only; `*` allows every origin. Requests without `Origin` (non-browser
    /// clients) are always allowed.
    pub allowed_origins: Vec<String>,
    pub limits: Limits,
    /// Serve the web client from this directory instead of the copy embedded in the binary
    /// (for working on the client without rebuilding).
    pub web_dir: Option<PathBuf>,
    /// Login and registration throttles and the password hashing pool.
    pub auth: AuthLimits,
    /// Server administrators, reports and bans.
    pub moderation: ModerationConfig,
    /// A second listener serving only `GET /metrics`; when set, the main listener no longer serves
    /// it, so metrics can stay on a private interface.
    pub metrics_listen: Option<SocketAddr>,
    /// Serve HTTPS and WSS with this certificate and key (see [`crate::tls`]); plain HTTP when
    /// `None`.
    pub tls: Option<crate::tls::TlsFiles>,
    /// Disappearing messages and retention.
    pub expiry: ExpiryConfig,
    /// Refuse to start on a database with migrations pending (`confab migrate` applies them).
    pub no_migrate: bool,
    /// Where events are POSTed for the application (see [`crate::webhooks`]); none when `None`.
    pub webhook: Option<crate::webhooks::WebhookConfig>,
    /// Where attachments' bytes are kept, and how large one may be.
    pub media: MediaConfig,
    /// Push notifications for devices with no live connection.
    pub push: PushSettings,
}

/// Push notifications: the providers, how much content leaves the server, coalescing.
#[derive(Debug, Clone)]
pub struct PushSettings {
    /// At most one push per device and conversation in this window (`--push-coalesce-ms`).
    pub coalesce: Duration,
    /// How much of a message a push carries (`--push-preview none|sender|full`).
    pub preview: confab_push::Preview,
    /// Web Push to browsers (needs no account with anyone: on unless turned off).
    pub web_push: bool,
    /// The VAPID private key (base64url, 32 bytes); `None`: generated once and kept in the store.
    pub vapid_private_key: Option<String>,
    /// The VAPID contact (`mailto:` or `https:` URL) push services may write to.
    pub vapid_subject: String,
    /// A Google service-account JSON file for FCM (`--fcm-credentials`).
    pub fcm_credentials: Option<PathBuf>,
    /// FCM's API base URL, for tests and proxies.
    pub fcm_base_url: Option<String>,
    pub apns: Option<ApnsSettings>,
    /// The operator's push webhook and its signing secret.
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<String>,
    /// Lets Web Push endpoints reach loopback, private and link-local addresses (tests only).
    pub allow_private_endpoints: bool,
    /// PEM certificates trusted for push services besides the system's roots.
    pub ca_file: Option<PathBuf>,
    /// How long a node holds a push it claimed before another may send it (it sends within this,
    /// retries included; a node that died holding one delays it this long).
    pub lease: Duration,
}

impl Default for PushSettings {
    fn default() -> Self {
        PushSettings {
            coalesce: Duration::from_millis(3000),
            preview: confab_push::Preview::default(),
            web_push: true,
            vapid_private_key: None,
            vapid_subject: "mailto:postmaster@localhost".into(),
            fcm_credentials: None,
            fcm_base_url: None,
            apns: None,
            webhook_url: None,
            webhook_secret: None,
            allow_private_endpoints: false,
            ca_file: None,
            lease: Duration::from_secs(120),
        }
    }
}

/// APNs with a token (`.p8`) key.
#[derive(Debug, Clone)]
pub struct ApnsSettings {
    pub key: PathBuf,
    pub key_id: String,
    pub team_id: String,
    /// The app's bundle id.
    pub topic: String,
    /// The development environment rather than production.
    pub sandbox: bool,
    /// The API's base URL, for tests.
    pub base_url: Option<String>,
}

/// Attachments' storage and size limit.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// `None`: a `media` directory under `data_dir`; `s3://bucket[/prefix]` for S3-compatible
    /// storage (configured from the standard AWS variables); `file:PATH` for another directory.
    pub url: Option<String>,
    /// S3 settings on top of the AWS variables, as `object_store` names them (`endpoint`,
    /// `region`, `allow_http`, …); tests point them at a local server.
    pub s3_overrides: Vec<(String, String)>,
    /// Largest attachment, in bytes (`--max-attachment-bytes`).
    pub max_attachment_bytes: u64,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig { url: None, s3_overrides: Vec::new(), max_attachment_bytes: 50 * 1024 * 1024 }
    }
}

/// The sweeper that erases expired messages and removes those past their retention.
#[derive(Debug, Clone)]
pub struct ExpiryConfig {
    /// Messages older than this many days are removed (0: kept forever); a group's own
    /// `retentionDays` may shorten it.
    pub retention_days: u32,
    /// How often the sweeper runs: expired content is gone from storage within this (plus the
    /// time to sweep what is due).
    pub sweep_interval: Duration,
    /// Messages per sweep transaction: small, so an append waits for one batch at most.
    pub sweep_batch: u32,
}

impl Default for ExpiryConfig {
    fn default() -> Self {
        ExpiryConfig { retention_days: 0, sweep_interval: Duration::from_secs(10), sweep_batch: 200 }
    }
}

/// Who administers the server, and the limits of reporting and moderation.
#[derive(Debug, Clone)]
pub struct ModerationConfig {
    /// Usernames of the server administrators (`--admin-users`); checked and lower-cased like
    /// usernames when the server starts.
    pub admin_users: Vec<String>,
    /// Reports one user may file per hour, as a burst that refills evenly (per node).
    pub reports_per_hour: u32,
    /// How often each node reads the moderation log, where bans, unbans and revocations written by
    /// another process (`confab admin`) appear: the longest they take to take effect.
    pub log_poll: Duration,
}

impl Default for ModerationConfig {
    fn default() -> Self {
        ModerationConfig { admin_users: Vec::new(), reports_per_hour: 20, log_poll: Duration::from_secs(2) }
    }
}

/// What keeps password guessing and hashing floods in check (see `docs/security.md`). Counters
/// live in each node's memory: a cluster of N nodes allows N times as much.
#[derive(Debug, Clone)]
pub struct AuthLimits {
    /// Failed logins for one username (existing or not) before each further attempt waits
    /// 1 s, 2 s, 4 s, … A successful login clears them.
    pub login_failures_per_account: u32,
    /// Longest wait between attempts for one username.
    pub login_backoff_max: Duration,
    /// Failed logins from one address (IPv6: one /64) per 5 minutes, as a burst that refills
    /// evenly. Successful logins do not count.
    pub login_failures_per_address: u32,
    /// Registration attempts from one address (IPv6: one /64) per hour, as a burst that refills
    /// evenly.
    pub registrations_per_address: u32,
    /// Threads hashing passwords, apart from the async runtime's. Fewer than the cores, so a login
    /// flood never takes the CPU message handling needs.
    pub hash_workers: usize,
    /// Hashes waiting for a thread; when full, logins and registrations get `429 RATE_LIMITED`.
    pub hash_queue: usize,
    /// Reverse proxies whose `X-Forwarded-For` is believed (addresses or CIDR ranges). Empty: the
    /// client address is the connection's peer.
    pub trusted_proxies: Vec<IpRange>,
    /// Who may register: anyone, no one, or whoever has an invite code.
    pub registration: confab_proto::RegistrationMode,
}

impl Default for AuthLimits {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        AuthLimits {
            login_failures_per_account: 5,
            login_backoff_max: Duration::from_secs(300),
            login_failures_per_address: 30,
            registrations_per_address: 10,
            hash_workers: (cpus / 2).max(1),
            hash_queue: 64,
            trusted_proxies: Vec::new(),
            registration: confab_proto::RegistrationMode::Open,
        }
    }
}

/// An address or a CIDR range of addresses, as `10.0.0.1`, `10.0.0.0/8` or `fd00::/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl IpRange {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u32::from(net).into(), self.prefix, 32)
                    == masked(u32::from(ip).into(), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(net), self.prefix, 128) == masked(u128::from(ip), self.prefix, 128)
            }
            _ => false,
        }
    }
}

/// IPv4-mapped IPv6 addresses as the IPv4 address they are.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

fn masked(bits: u128, prefix: u8, width: u8) -> u128 {
    let host_bits = u32::from(width - prefix.min(width));
    if host_bits >= 128 {
        0
    } else {
        (bits >> host_bits) << host_bits
    }
}

impl<'de> serde::Deserialize<'de> for IpRange {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for IpRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s.trim(), None),
        };
        let network = canonical(addr.parse::<IpAddr>().map_err(|e| format!("`{s}`: {e}"))?);
        let width = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= width)
                .ok_or_else(|| format!("`{s}`: the prefix length must be 0-{width}"))?,
            None => width,
        };
        Ok(IpRange { network, prefix })
    }
}

/// Limits from the protocol, all configurable.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest message text, in bytes.
    pub max_text_bytes: usize,
    /// Largest WebSocket frame or REST body, in bytes.
    pub max_frame_bytes: usize,
    /// Largest group, in members.
    pub max_group_size: u32,
    /// Sustained messages per second per device, over all of that device's connections on a node.
    pub messages_per_second: u32,
    /// Burst allowance on top of the sustained rate.
    pub message_burst: u32,
    /// Sustained messages per second per user, over all of their devices and REST, on a node;
    /// `None`: twice `messages_per_second`, so a user's two devices can each send at full rate.
    pub user_messages_per_second: Option<u32>,
    /// Burst allowance on top of the per-user rate; `None`: twice `message_burst`.
    pub user_message_burst: Option<u32>,
    /// Frames queued for one connection before it counts as too slow and is disconnected.
    pub outbound_queue: usize,
    /// Unanswered requests per connection (mostly sends awaiting their commit) before the server
    /// stops reading it.
    pub max_inflight_sends: usize,
    /// Most WebSocket connections the node accepts at once.
    pub max_connections: usize,
    /// Most WebSocket connections one user may hold on this node.
    pub max_connections_per_user: usize,
    /// Most HTTP connections not (yet) upgraded to a WebSocket, open at once; more are answered
    /// `503` and closed.
    pub max_http_connections: usize,
    /// Most users in the `presence.bulk` sent on connect.
    pub presence_bulk_cap: u32,
    /// Groups larger than this send read receipts only to the senders whose messages became read
    /// (and the reader's own devices), not to every member.
    pub receipt_fanout_limit: u32,
    /// Message searches per minute per user on a node, as a burst refilled evenly: each is a
    /// query of the store that can read many rows.
    pub searches_per_minute: u32,
    /// How long one message search may take, in milliseconds (`None`: as long as it needs). A
    /// search past it answers `400 INVALID_REQUEST` asking to narrow it, and frees its storage
    /// connection: the widest queries can otherwise hold one for a second or more.
    pub search_timeout_ms: Option<u64>,
    /// Groups larger than this get no `typing.update` at all: one typist would otherwise cost a
    /// frame per member per second.
    pub typing_fanout_limit: u32,
    /// Most users one connection watches for presence (contacts on connect plus subscriptions);
    /// a user's connections on one node together watch at most 4 × this.
    pub presence_watch_cap: u32,
    /// Largest sync result, in bytes of JSON: beyond it messages wait for the next sync
    /// (`hasMore`) and unlisted conversations for the next one too. Kept well below the largest
    /// frame the WebSocket writer takes (16 × `max_frame_bytes`).
    pub max_sync_bytes: usize,
    /// Most cursors (`conversations` entries) in one sync request.
    pub max_sync_conversations: usize,
    /// How long after sending a message its sender may still edit it, in seconds; `None`: always.
    pub edit_window_secs: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_text_bytes: 16 * 1024,
            max_frame_bytes: 64 * 1024,
            max_group_size: 1_000,
            messages_per_second: 50,
            message_burst: 100,
            user_messages_per_second: None,
            user_message_burst: None,
            outbound_queue: 1024,
            max_inflight_sends: 256,
            max_connections: 100_000,
            max_connections_per_user: 32,
            max_http_connections: 4_096,
            presence_bulk_cap: 1_000,
            receipt_fanout_limit: 100,
            searches_per_minute: 60,
            search_timeout_ms: Some(3_000),
            typing_fanout_limit: 100,
            presence_watch_cap: 2_000,
            max_sync_bytes: 512 * 1024,
            max_sync_conversations: 1_000,
            edit_window_secs: None,
        }
    }
}

/// Largest group size the server accepts as a setting.
pub const MAX_GROUP_SIZE_LIMIT: u32 = 100_000;

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./confab-data"),
            database_url: None,
            database_schema: None,
            redis_url: None,
            redis_prefix: "confab".to_string(),
            redis_ca: None,
            log_url: None,
            log_prefix: "confab".to_string(),
            log_fanout_threshold: 100,
            jwt_secret: None,
            jwks_url: None,
            token_ttl: Duration::from_secs(7 * 24 * 3600),
            heartbeat_interval: Duration::from_secs(30),
            typing_timeout: Duration::from_secs(5),
            presence_throttle: Duration::from_secs(1),
            http_header_timeout: Duration::from_secs(10),
            http_idle_timeout: Duration::from_secs(60),
            allowed_origins: Vec::new(),
            limits: Limits::default(),
            web_dir: None,
            auth: AuthLimits::default(),
            moderation: ModerationConfig::default(),
            expiry: ExpiryConfig::default(),
            no_migrate: false,
            webhook: None,
            media: MediaConfig::default(),
            push: PushSettings::default(),
            metrics_listen: None,
            tls: None,
        }
    }
}

/// File descriptors kept out of the connection budget: the store and its pool, the bus, the
/// listener, logs, the web directory.
pub const RESERVED_FDS: usize = 256;

impl Limits {
    /// Fits the connection limits to a process that may hold `fd_limit` open files: WebSocket
    /// connections, HTTP connections and [`RESERVED_FDS`] must all fit. `max_connections` is lowered
    /// first, then `max_http_connections` (never below 1 each). Returns what was lowered, for the
    /// startup log; `None` when everything fitted.
    pub fn fit_to_fd_limit(&mut self, fd_limit: u64) -> Option<String> {
        let budget = usize::try_from(fd_limit).unwrap_or(usize::MAX).saturating_sub(RESERVED_FDS).max(2);
        let wanted = self.max_connections.saturating_add(self.max_http_connections);
        if wanted <= budget {
            return None;
        }
        let before = (self.max_connections, self.max_http_connections);
        self.max_http_connections = self.max_http_connections.min(budget / 4).max(1);
        self.max_connections = self.max_connections.min(budget - self.max_http_connections).max(1);
        Some(format!(
            "the open-file limit is {fd_limit}: max connections lowered from {} to {}, max HTTP \
             connections from {} to {} ({RESERVED_FDS} descriptors kept for storage, bus and listener); \
             raise `ulimit -n` (LimitNOFILE) to serve more",
            before.0, self.max_connections, before.1, self.max_http_connections
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_limits_fit_the_file_limit() {
        let mut limits = Limits::default();
        assert!(limits.fit_to_fd_limit(1 << 20).is_none());
        assert_eq!(limits.max_connections, 100_000);
        let warning = limits.fit_to_fd_limit(20_000).expect("lowered");
        assert!(warning.contains("20000"), "{warning}");
        assert_eq!(limits.max_http_connections, 4_096);
        assert_eq!(limits.max_connections + limits.max_http_connections + RESERVED_FDS, 20_000);
        let mut tiny = Limits::default();
        tiny.fit_to_fd_limit(1_024);
        assert!(tiny.max_connections + tiny.max_http_connections + RESERVED_FDS <= 1_024);
        assert!(tiny.max_http_connections >= 1 && tiny.max_connections >= 1);
    }

    #[test]
    fn ip_ranges() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let lan: IpRange = "10.1.0.0/16".parse().unwrap();
        assert!(lan.contains(ip("10.1.200.3")));
        assert!(lan.contains(ip("::ffff:10.1.0.9")));
        assert!(!lan.contains(ip("10.2.0.1")));
        let one: IpRange = "127.0.0.1".parse().unwrap();
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let v6: IpRange = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")) && !v6.contains(ip("10.0.0.1")));
        let all: IpRange = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")));
        assert!("10.0.0.0/33".parse::<IpRange>().is_err());
        assert!("not-an-ip".parse::<IpRange>().is_err());
    }
}
