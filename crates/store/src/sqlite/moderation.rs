//! [`ModerationStore`] for the embedded store: reads on the reader pool, writes (each with its log
//! entry) through the writer.

use async_trait::async_trait;
use confab_core::ids::now_millis;
use confab_core::moderation::{Change, ModerationStore, NewBan, NewReport, StoreStats};
use confab_core::Result;
use confab_proto::{AdminUser, Ban, Report, ReportReceipt, ReportStatus};

use super::queries::moderation;
use super::SqliteStore;

#[async_trait]
impl ModerationStore for SqliteStore {
    async fn create_report(&self, report: NewReport) -> Result<(ReportReceipt, bool)> {
        self.write(move |c| moderation::create_report(c, &report)).await
    }

    async fn reports(&self, status: ReportStatus, after: Option<&str>, limit: u32) -> Result<Vec<Report>> {
        let after = after.map(str::to_string);
        self.read_snapshot(move |c| moderation::reports(c, status, after.as_deref(), limit)).await
    }

    async fn resolve_report(
        &self,
        report_id: &str,
        resolved_by: Option<&str>,
        resolution: &str,
        at: i64,
    ) -> Result<Report> {
        let (id, by, resolution) =
            (report_id.to_string(), resolved_by.map(str::to_string), resolution.to_string());
        self.write(move |c| moderation::resolve_report(c, &id, by.as_deref(), &resolution, at)).await
    }

    async fn ban(&self, ban: NewBan) -> Result<Ban> {
        self.write(move |c| moderation::ban(c, &ban)).await
    }

    async fn unban(&self, user: &str) -> Result<bool> {
        let user = user.to_string();
        self.write(move |c| moderation::unban(c, &user, now_millis())).await
    }

    async fn ban_of(&self, user: &str, now: i64) -> Result<Option<Ban>> {
        let user = user.to_string();
        self.read(move |c| moderation::ban_of(c, &user, now)).await
    }

    async fn revoke_user_sessions(&self, user: &str, before: i64) -> Result<()> {
        let user = user.to_string();
        self.write(move |c| moderation::revoke_user_sessions(c, &user, before, now_millis())).await
    }

    async fn changes(&self, after: u64, limit: u32) -> Result<Vec<Change>> {
        self.read(move |c| moderation::changes(c, after, limit)).await
    }

    async fn latest_change(&self) -> Result<u64> {
        self.read(moderation::latest_change).await
    }

    async fn purge_changes(&self, before: i64) -> Result<u64> {
        self.write(move |c| moderation::purge_changes(c, before)).await
    }

    async fn admin_users(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
        now: i64,
    ) -> Result<Vec<AdminUser>> {
        let (prefix, after) = (prefix.to_string(), after.map(str::to_string));
        self.read(move |c| moderation::admin_users(c, &prefix, after.as_deref(), limit, now)).await
    }

    async fn stats(&self, now: i64) -> Result<StoreStats> {
        self.read_snapshot(move |c| moderation::stats(c, now)).await
    }
}
