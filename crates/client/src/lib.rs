//! Confab's Rust client SDK: the REST API ([`Client`]) and a WebSocket connection ([`Connection`]),
//! both speaking the shared protocol types of `confab_proto`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), confab_client::ClientError> {
//! use confab_client::{Client, Connection};
//! let anon = Client::new("http://127.0.0.1:8080");
//! let auth = anon.register("alice", "correct horse", None).await?;
//! let alice = anon.with_token(&auth.token);
//! let mut ws = Connection::connect("http://127.0.0.1:8080", &auth.token, "laptop").await?;
//! # let _ = (alice, &mut ws); Ok(()) }
//! ```
//!
//! `https://` and `wss://` work the same way, against the system's roots; [`Roots`] adds a private
//! CA or a self-signed certificate ([`Client::with_roots`], [`Connection::connect_with_roots`]).
//!
//! # Layout
//! - [`rest`]: [`Client`], one method per endpoint.
//! - [`manage`]: more [`Client`] methods: blocking users, managing groups.
//! - [`push`]: more [`Client`] methods: push subscriptions and muting conversations.
//! - [`attachments`]: more of [`Client`]: uploads with progress, downloads, thumbnails.
//! - [`ws`]: [`Connection`], frames in and out, with helpers to await a particular frame.
//! - [`admin`]: more of [`Client`]: reporting messages, and the server administrators' API.
//! - [`server_api`]: more of [`Client`]: the server API of application backends (API keys).
//! - [`search`]: [`MessageSearch`], a message search built up and sent from [`Client::search`].
//! - [`tls`]: [`Roots`], certificates trusted besides the system's.
//! - [`timeline`]: [`Timeline`], the client's copy of its conversations, kept current from
//!   `message.new`, `message.updated` and sync (with the update sequence).

pub mod admin;
pub mod attachments;
pub mod manage;
pub mod push;
pub mod rest;
pub mod search;
pub mod server_api;
pub mod timeline;
pub mod tls;
pub mod ws;

use confab_proto::ErrorBody;

pub use rest::Client;
pub use search::MessageSearch;
pub use timeline::Timeline;
pub use tls::Roots;
pub use ws::Connection;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with a protocol error.
    #[error("{status} {}: {}", .body.error, .body.message)]
    Api { status: u16, body: ErrorBody },
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
    #[error("websocket: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    /// The server said something this client cannot read.
    #[error("protocol: {0}")]
    Protocol(String),
    #[error("timed out waiting for {0}")]
    Timeout(String),
    /// The server closed the WebSocket (with its close code, when it sent one).
    #[error("connection closed (code {0:?})")]
    Closed(Option<u16>),
    /// Certificates given to trust could not be used.
    #[error("tls: {0}")]
    Tls(String),
}

impl ClientError {
    /// The protocol error code, when the server sent one.
    pub fn code(&self) -> Option<confab_proto::ErrorCode> {
        match self {
            ClientError::Api { body, .. } => Some(body.error),
            _ => None,
        }
    }
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;
