//! Confab wire protocol, version 1: every REST body and WebSocket frame, defined once and shared by
//! the server, the Rust client, the load generator and the tests.
//!
//! Field names are `camelCase` on the wire; times are milliseconds since the Unix epoch; IDs are
//! opaque strings. The contract itself is written up in `docs/protocol.md`.
//!
//! # Layout
//! - [`error`]: the error body and its codes, with their HTTP statuses.
//! - [`rest`]: request and response bodies of the REST API.
//! - [`model`]: the objects both transports carry (users, conversations, messages).
//! - [`attachments`]: uploaded files.
//! - [`blocks`]: the bodies of blocking users.
//! - [`push`]: push subscriptions, their payload, and muting a conversation.
//! - [`groups`]: the bodies of group management (rename, settings, roles).
//! - [`frames`]: WebSocket frames, client → server and server → client.
//! - [`admin`]: reports of messages and the server administrators' API.
//! - [`server_api`]: the server API of application backends (API keys).

pub mod admin;
pub mod attachments;
pub mod blocks;
pub mod error;
pub mod frames;
pub mod groups;
pub mod model;
pub mod push;
pub mod rest;
pub mod server_api;

pub use admin::*;
pub use attachments::*;
pub use blocks::*;
pub use error::{ErrorBody, ErrorCode};
pub use frames::{ClientEnvelope, ClientFrame, ServerEnvelope, ServerFrame};
pub use groups::*;
pub use model::*;
pub use push::*;
pub use rest::*;
pub use server_api::*;
