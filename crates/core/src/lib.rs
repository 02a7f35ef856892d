//! Confab's domain: the rules every transport and every backend obeys, and the boundaries (traits)
//! that backends implement. No I/O lives here.
//!
//! # Layout
//! - [`error`]: the domain error, which the gateway maps once to protocol error codes.
//! - [`validate`]: input rules (usernames, passwords, message content, limits).
//! - [`store`]: the `Store` boundary, split by entity, with the guarantees each method gives.
//! - [`moderation`]: the part of that boundary that keeps reports, bans and the log of
//!   moderation changes nodes poll.
//! - [`attachments`]: its part for uploaded files and the messages linking them.
//! - [`push`]: its part for push subscriptions, mutes and pending pushes.
//! - [`lifecycle`]: its part for changes to stored messages (edits, deletes, reactions).
//! - [`rules`]: the decisions behind it (permissions, group size, admin succession, paging,
//!   markers, views), pure functions every store adapter delegates to.
//! - [`rows`]: the plain rows adapters read from and write to their tables for those rules.
//! - [`bus`]: the `Bus` boundary that carries frames to the connections of users, local or remote.
//! - [`log`]: the `Log` boundary, a durable log on a broker that carries large groups' messages
//!   to every node.
//! - [`sync`]: the bounds on a sync request and its result.
//! - [`ids`]: identifier and clock helpers.

pub mod attachments;
pub mod bus;
pub mod error;
pub mod ids;
pub mod lifecycle;
pub mod log;
pub mod moderation;
pub mod push;
pub mod rows;
pub mod rules;
pub mod store;
pub mod sync;
pub mod validate;

pub use error::{Error, Result};
