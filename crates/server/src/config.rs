//! Server settings. The `confab` binary fills them from flags, `CONFAB_*` environment variables
//! and an optional TOML file; tests build them directly.

use std::net::SocketAddr;
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
    /// HS256 secret for tokens. When `None`, one is generated on first run and kept in the store, so
    /// every restart (and, with a shared database, every node) uses the same one.
    pub jwt_secret: Option<String>,
    /// Lifetime of tokens this server issues.
    pub token_ttl: Duration,
    /// Interval clients are told to heartbeat at; a connection silent for 3 intervals is closed.
    pub heartbeat_interval: Duration,
    /// Quiet time after the last `typing.start` before the server sends `isTyping: false`.
    pub typing_timeout: Duration,
    /// Least time between two `presence.update` frames about one user.
    pub presence_throttle: Duration,
    pub limits: Limits,
    /// Serve the web client from this directory instead of the copy embedded in the binary
    /// (for working on the client without rebuilding).
    pub web_dir: Option<PathBuf>,
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
    /// Most connections the node accepts at once.
    pub max_connections: usize,
    /// Most users in the `presence.bulk` sent on connect.
    pub presence_bulk_cap: u32,
    /// Groups larger than this send read receipts only to the senders whose messages became read
    /// (and the reader's own devices), not to every member.
    pub receipt_fanout_limit: u32,
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
            presence_bulk_cap: 1_000,
            receipt_fanout_limit: 100,
            typing_fanout_limit: 100,
            presence_watch_cap: 2_000,
            max_sync_bytes: 512 * 1024,
            max_sync_conversations: 1_000,
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
            jwt_secret: None,
            token_ttl: Duration::from_secs(7 * 24 * 3600),
            heartbeat_interval: Duration::from_secs(30),
            typing_timeout: Duration::from_secs(5),
            presence_throttle: Duration::from_secs(1),
            limits: Limits::default(),
            web_dir: None,
        }
    }
}
