//! [`ModerationStore`] for PostgreSQL: every write in its own transaction, with its log entry.

use async_trait::async_trait;
use confab_core::ids::now_millis;
use confab_core::moderation::{Change, ModerationStore, NewBan, NewReport, StoreStats};
use confab_core::Result;
use confab_proto::{AdminUser, Ban, Report, ReportReceipt, ReportStatus};

use super::error::PgResult;
use super::queries::moderation;
use super::PostgresStore;

#[async_trait]
impl ModerationStore for PostgresStore {
    async fn create_report(&self, report: NewReport) -> Result<(ReportReceipt, bool)> {
        transaction!(self, |c| moderation::create_report(c, &report).await)
    }

    async fn reports(&self, status: ReportStatus, after: Option<&str>, limit: u32) -> Result<Vec<Report>> {
        snapshot!(self, |c| moderation::reports(c, status, after, limit).await)
    }

    async fn resolve_report(
        &self,
        report_id: &str,
        resolved_by: Option<&str>,
        resolution: &str,
        at: i64,
    ) -> Result<Report> {
        transaction!(self, |c| moderation::resolve_report(c, report_id, resolved_by, resolution, at).await)
    }

    async fn ban(&self, ban: NewBan) -> Result<Ban> {
        transaction!(self, |c| moderation::ban(c, &ban).await)
    }

    async fn unban(&self, user: &str) -> Result<bool> {
        transaction!(self, |c| moderation::unban(c, user, now_millis()).await)
    }

    async fn ban_of(&self, user: &str, now: i64) -> Result<Option<Ban>> {
        once!(self, |c| moderation::ban_of(c, user, now).await)
    }

    async fn revoke_user_sessions(&self, user: &str, before: i64) -> Result<()> {
        transaction!(self, |c| moderation::revoke_user_sessions(c, user, before, now_millis()).await)
    }

    async fn changes(&self, after: u64, limit: u32) -> Result<Vec<Change>> {
        once!(self, |c| moderation::changes(c, after, limit).await)
    }

    async fn latest_change(&self) -> Result<u64> {
        once!(self, |c| moderation::latest_change(c).await)
    }

    async fn purge_changes(&self, before: i64) -> Result<u64> {
        once!(self, |c| moderation::purge_changes(c, before).await)
    }

    async fn admin_users(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
        now: i64,
    ) -> Result<Vec<AdminUser>> {
        once!(self, |c| moderation::admin_users(c, prefix, after, limit, now).await)
    }

    async fn stats(&self, now: i64) -> Result<StoreStats> {
        once!(self, |c| moderation::stats(c, now).await)
    }
}
