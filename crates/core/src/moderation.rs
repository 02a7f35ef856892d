//! The moderation part of the storage boundary: reports of messages, bans, and the log of
//! moderation changes that lets every process writing to one store (nodes, and `confab admin`
//! on the command line) tell the nodes what changed without the bus.
//!
//! Guarantees every adapter gives, besides those of [`crate::store`]:
//! - One report per reporter and message: reporting it again returns the first report.
//! - A user has at most one ban; banning again replaces it. A ban whose `until` has passed is no
//!   longer in force, and is answered as if it did not exist.
//! - Every ban, unban and [`ModerationStore::revoke_user_sessions`] appends one entry to the
//!   moderation log in the same transaction, and log versions are assigned in commit order: a
//!   reader that has seen version `v` finds every later change with [`ModerationStore::changes`].

use async_trait::async_trait;
use confab_proto::{AdminUser, Ban, Report, ReportReceipt, ReportStatus};

use crate::error::Result;

/// A report to file: `reporter` means the message they name by `message_id` (in `conversation`
/// only, when given), which [`crate::rules::moderation::reported_message`] picks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReport {
    pub report_id: String,
    pub reporter: String,
    pub message_id: String,
    pub conversation: Option<String>,
    /// Already checked by [`crate::rules::moderation::reason`].
    pub reason: String,
    pub created_at: i64,
}

/// A ban to record (replacing the user's current one, if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBan {
    pub user_id: String,
    pub reason: String,
    pub until: Option<i64>,
    pub banned_at: i64,
    /// The administrator's user id; `None` from the command line.
    pub banned_by: Option<String>,
}

/// What a moderation log entry says changed about its user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Banned, or the ban replaced.
    Ban,
    Unban,
    /// Every token issued before some moment was revoked.
    Sessions,
}

impl ChangeKind {
    /// The spelling stored in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Ban => "ban",
            ChangeKind::Unban => "unban",
            ChangeKind::Sessions => "sessions",
        }
    }

    pub fn parse(s: &str) -> Option<ChangeKind> {
        match s {
            "ban" => Some(ChangeKind::Ban),
            "unban" => Some(ChangeKind::Unban),
            "sessions" => Some(ChangeKind::Sessions),
            _ => None,
        }
    }
}

/// One moderation log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub version: u64,
    pub user_id: String,
    pub kind: ChangeKind,
}

/// Counts for the administrators' dashboard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub users: u64,
    pub conversations: u64,
    /// The sum of every conversation's last sequence number: messages ever sent.
    pub messages: u64,
    pub open_reports: u64,
    pub active_bans: u64,
}

#[async_trait]
pub trait ModerationStore: Send + Sync {
    /// Files a report, or finds the reporter's earlier report of the same message (`false`). The
    /// message is picked by [`crate::rules::moderation::reported_message`]: `MessageNotFound`
    /// unless it is another member's message in a conversation the reporter is in.
    async fn create_report(&self, report: NewReport) -> Result<(ReportReceipt, bool)>;
    /// Reports with `status`, each with its message in its current state: open ones oldest
    /// first, resolved ones newest first, starting after report `after` (a `reportId` of the
    /// previous page; unknown: from the start).
    async fn reports(&self, status: ReportStatus, after: Option<&str>, limit: u32) -> Result<Vec<Report>>;
    /// Resolves an open report; an already resolved one is returned as it is (the first
    /// resolution stands). `NotFound` when there is no such report.
    async fn resolve_report(
        &self,
        report_id: &str,
        resolved_by: Option<&str>,
        resolution: &str,
        at: i64,
    ) -> Result<Report>;
    /// Records a ban and logs it. `UserNotFound` when there is no such user.
    async fn ban(&self, ban: NewBan) -> Result<Ban>;
    /// Lifts `user`'s ban and logs it; whether there was one (in force or expired).
    async fn unban(&self, user: &str) -> Result<bool>;
    /// `user`'s ban in force at `now`, if any.
    async fn ban_of(&self, user: &str, now: i64) -> Result<Option<Ban>>;
    /// Revokes every token of `user` issued before `before` (as
    /// [`crate::store::SessionStore::revoke_sessions_before`] with nothing kept) and logs it, so
    /// nodes that did not hear of it on the bus close the user's sockets too.
    async fn revoke_user_sessions(&self, user: &str, before: i64) -> Result<()>;
    /// Log entries after version `after`, oldest first, at most `limit`.
    async fn changes(&self, after: u64, limit: u32) -> Result<Vec<Change>>;
    /// The newest log version (0 before the first change).
    async fn latest_change(&self) -> Result<u64>;
    /// Forgets log entries written before `before` (ms); returns how many.
    async fn purge_changes(&self, before: i64) -> Result<u64>;
    /// Users whose username starts with `prefix` (normalized) and sorts after `after`, ordered by
    /// username, with their ban in force at `now`. `admin` is left `false`: who administers is
    /// configuration, not storage.
    async fn admin_users(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
        now: i64,
    ) -> Result<Vec<AdminUser>>;
    async fn stats(&self, now: i64) -> Result<StoreStats>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_kinds_read_back() {
        for kind in [ChangeKind::Ban, ChangeKind::Unban, ChangeKind::Sessions] {
            assert_eq!(ChangeKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(ChangeKind::parse("other"), None);
    }
}
