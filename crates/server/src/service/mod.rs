//! The gateway's operations, each once, for both transports. Every rule and every multi-step
//! operation (store, then tell the right devices) lives here; REST routes and WebSocket handlers
//! only parse, call and reply. Nothing here knows about HTTP.
//!
//! - [`accounts`]: registration, login, token authentication, logout, password and profile
//!   changes, the user directory.
//! - [`sessions`]: this node's cache of revoked tokens, invalidated through the bus.
//! - [`moderation`]: this node's cache of bans, and the moderation log it follows.
//! - [`reports`]: members reporting messages.
//! - [`admin`]: what server administrators do (users, bans, reports, sessions, counts).
//! - [`throttle`]: login and registration throttles, decided before any password is hashed.
//! - [`conversations`]: direct conversations, groups, membership, group management,
//!   `conversation.updated`.
//! - [`blocks`]: blocking users, and this node's cache of blocks between pairs.
//! - [`messages`]: send, history, delivery and read markers with their receipts, sync.
//! - [`search`]: message search.
//! - [`attachments`]: uploads, downloads, thumbnails and the collection of unlinked files.
//! - [`lifecycle`]: edits, deletes for everyone and reactions, announced as `message.updated`.
//! - [`presence`]: who is online or away, who watches whom, throttled `presence.update`.
//! - [`push`]: push subscriptions, mutes, and the dispatcher that sends due pushes.
//! - [`typing`]: typing indicators (in memory only).
//! - [`apps`]: the server API's own parts (the system account, presence for applications, the
//!   acting admin).
//! - [`notify`]: member lists and publishing frames to users' devices, used by the others.

mod accounts;
mod admin;
mod apps;
mod attachments;
mod blocks;
mod conversations;
mod lifecycle;
mod messages;
mod moderation;
mod notify;
mod presence;
mod push;
mod reports;
mod search;
mod sessions;
mod throttle;
mod typing;

#[cfg(test)]
mod tests;

pub(crate) use accounts::{Accounts, Authenticated};
pub(crate) use admin::{Admin, AdminParts};
pub(crate) use apps::Apps;
pub(crate) use attachments::{Attachments, UploadHints};
pub(crate) use blocks::{BlockCache, Blocks};
pub(crate) use conversations::Conversations;
pub(crate) use lifecycle::{Lifecycle, Named};
pub(crate) use messages::{Messages, SendOptions, Via};
pub(crate) use moderation::{BanCache, LogFollower};
pub(crate) use notify::Notifier;
pub(crate) use presence::{Bulk, HeldUpdates, PresenceHub};
pub(crate) use push::Push;
pub(crate) use reports::Reports;
pub(crate) use search::SearchParams;
pub(crate) use sessions::RevocationCache;
pub(crate) use typing::TypingTracker;
