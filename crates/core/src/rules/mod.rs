//! The decisions behind the [`Store`](crate::store::Store) boundary, made once for every backend.
//! An adapter reads rows ([`crate::rows`]), passes them to a rule here, and writes back what the
//! rule returns; it never decides who may do what, how big a group may grow, who inherits the admin
//! role, or where a page ends. Each rule is a pure function, tested beside its code.
//!
//! # Layout
//! - [`access`]: who may see a conversation and its messages.
//! - [`attachments`]: who may link and read uploaded files, and when one is garbage.
//! - [`users`]: users a change names must exist; the normalized search prefix.
//! - [`direct`]: opening the one direct conversation of two users.
//! - [`groups`]: creating groups, adding and removing members, the size limit, admin succession.
//! - [`management`]: renaming groups, changing their settings, promoting and demoting members.
//! - [`blocks`]: blocking users, and what a block stops in direct conversations.
//! - [`posting`]: whether a message may be appended, and resends answered idempotently.
//! - [`history`]: the messages a page holds, whether more exist, and the viewer's own statuses.
//! - [`markers`]: how delivered and read markers move.
//! - [`views`]: a conversation and an offline catch-up as one member sees them.
//! - [`receipts`]: who received and read a message, and when.
//! - [`presence`]: the order `lastSeen` answers come back in.
//! - [`push`]: muting a conversation, and when a device's next push is due.
//! - [`search`]: message search queries, their order, cursor and snippets.
//! - [`sessions`]: which tokens a revocation covers.
//! - [`moderation`]: which message a report names, report and ban texts, who may be banned and
//!   whether a ban is in force.
//! - [`lifecycle`]: edits, deletes for everyone and reactions: who may, and what changes.
//! - [`reactions`]: emoji rules and the reaction summary a message carries.
//! - [`updates`]: the update sequence as sync pages it.
//! - [`expiry`]: disappearing messages, retention and the oldest sequence still stored.

pub mod access;
pub mod attachments;
pub mod blocks;
pub mod direct;
pub mod expiry;
pub mod groups;
pub mod history;
pub mod lifecycle;
pub mod management;
pub mod markers;
pub mod moderation;
pub mod posting;
pub mod presence;
pub mod push;
pub mod reactions;
pub mod receipts;
pub mod search;
pub mod sessions;
pub mod updates;
pub mod users;
pub mod views;

#[cfg(test)]
pub(crate) mod fixtures {
    use confab_proto::{ConversationType, GroupSettings, Role};

    use crate::rows::{ConversationRow, MemberRow};

    pub fn conversation(kind: ConversationType, settings: GroupSettings) -> ConversationRow {
        ConversationRow {
            conversation_id: "c".into(),
            kind,
            name: None,
            settings,
            created_at: 10,
            last_sequence: 7,
            member_count: 3,
            purged_up_to: 0,
        }
    }

    pub fn group() -> ConversationRow {
        conversation(ConversationType::Group, GroupSettings::default())
    }

    pub fn member(user_id: &str, role: Role, joined_at: i64) -> MemberRow {
        MemberRow {
            user_id: user_id.into(),
            role,
            joined_at,
            last_read_sequence: 0,
            last_delivered_sequence: 0,
            muted_until: None,
        }
    }
}
