//! The gateway's operations, each once, for both transports. Every rule and every multi-step
//! operation (store, then tell the right devices) lives here; REST routes and WebSocket handlers
//! only parse, call and reply. Nothing here knows about HTTP.
//!
//! - [`accounts`]: registration, login, token authentication, logout, password and profile
//!   changes, the user directory.
//! - [`sessions`]: this node's cache of revoked tokens, invalidated through the bus.
//! - [`throttle`]: login and registration throttles, decided before any password is hashed.
//! - [`conversations`]: direct conversations, groups, membership, `conversation.updated`.
//! - [`messages`]: send, history, delivery and read markers with their receipts, sync.
//! - [`lifecycle`]: edits, deletes for everyone and reactions, announced as `message.updated`.
//! - [`presence`]: who is online or away, who watches whom, throttled `presence.update`.
//! - [`sync`]: the bounds on a sync request and its result.
//! - [`typing`]: typing indicators (in memory only).
//! - [`notify`]: member lists and publishing frames to users' devices, used by the others.

mod accounts;
mod conversations;
mod lifecycle;
mod messages;
mod notify;
mod presence;
mod sessions;
mod sync;
mod throttle;
mod typing;

#[cfg(test)]
mod tests;

pub(crate) use accounts::{Accounts, Authenticated};
pub(crate) use conversations::Conversations;
pub(crate) use lifecycle::{Lifecycle, Named};
pub(crate) use messages::{Messages, Via};
pub(crate) use notify::Notifier;
pub(crate) use presence::{Bulk, HeldUpdates, PresenceHub};
pub(crate) use sessions::RevocationCache;
pub(crate) use typing::TypingTracker;
