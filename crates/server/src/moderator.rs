//! Moderation as it reads and writes the store, with its rules applied: listing users and
//! reports, banning and unbanning, resolving reports, revoking a user's sessions, counting. The
//! administrators' API uses it and then tells the nodes over the bus; `confab admin` on the
//! command line uses it alone, and the nodes learn of its changes from the moderation log.

use std::collections::HashSet;
use std::sync::Arc;

use confab_core::ids::now_millis;
use confab_core::moderation::{NewBan, StoreStats};
use confab_core::rules::moderation;
use confab_core::store::SharedStore;
use confab_core::{validate, Error, Result};
use confab_proto::{
    AdminUsersResponse, Ban, BanRequest, Report, ReportStatus, ReportsResponse, ResolveReportRequest,
};

/// Default and largest page of the administrators' lists.
const PAGE_DEFAULT: u32 = 50;
const PAGE_MAX: u32 = 200;

fn page(limit: Option<u32>) -> u32 {
    limit.unwrap_or(PAGE_DEFAULT).clamp(1, PAGE_MAX)
}

/// The configured administrators, by normalized username.
#[derive(Debug, Default)]
pub struct Admins {
    usernames: HashSet<String>,
}

impl Admins {
    /// Checks and normalizes the configured usernames (`INVALID_REQUEST` naming a bad one).
    pub fn new(configured: &[String]) -> Result<Admins> {
        let mut usernames = HashSet::new();
        for raw in configured.iter().map(|u| u.trim()).filter(|u| !u.is_empty()) {
            let name = validate::username(raw)
                .map_err(|e| Error::InvalidRequest(format!("admin user `{raw}`: {e}")))?;
            usernames.insert(name);
        }
        Ok(Admins { usernames })
    }

    pub fn contains(&self, username: &str) -> bool {
        self.usernames.contains(username)
    }

    pub fn usernames(&self) -> impl Iterator<Item = &String> {
        self.usernames.iter()
    }
}

/// Moderation over one store. `actor` is the administrator's user id, `None` on the command line.
pub struct Moderator {
    store: SharedStore,
    admins: Arc<Admins>,
}

impl Moderator {
    pub fn new(store: SharedStore, admins: Arc<Admins>) -> Moderator {
        Moderator { store, admins }
    }

    /// Users whose username starts with `query`, after username `cursor`, with their bans.
    pub async fn users(
        &self,
        query: &str,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<AdminUsersResponse> {
        let limit = page(limit);
        let mut users = self.store.admin_users(query, cursor, limit, now_millis()).await?;
        for u in &mut users {
            u.admin = self.admins.contains(&u.user.username);
        }
        let next_cursor =
            if users.len() == limit as usize { users.last().map(|u| u.user.username.clone()) } else { None };
        Ok(AdminUsersResponse { users, next_cursor })
    }

    /// The user id of `user`: a username, or else a user id (`USER_NOT_FOUND` for neither).
    pub async fn resolve_user(&self, user: &str) -> Result<String> {
        if let Ok(name) = validate::username(user) {
            if let Some(found) = self.store.credentials(&name).await? {
                return Ok(found.user.user_id);
            }
        }
        match self.store.user(user).await? {
            Some(found) => Ok(found.user_id),
            None => Err(Error::UserNotFound(user.to_string())),
        }
    }

    /// Bans `target` (refused for administrators, and so for oneself); replaces a ban in force.
    pub async fn ban(&self, actor: Option<&str>, target: &str, req: BanRequest) -> Result<Ban> {
        let reason = moderation::text("reason", &req.reason)?;
        let now = now_millis();
        let until = moderation::ban_until(req.until, now)?;
        let user = self.store.user(target).await?.ok_or_else(|| Error::UserNotFound(target.to_string()))?;
        moderation::may_ban(actor, target, self.admins.contains(&user.username))?;
        let ban = self
            .store
            .ban(NewBan {
                user_id: target.to_string(),
                reason,
                until,
                banned_at: now,
                banned_by: actor.map(str::to_string),
            })
            .await?;
        metrics::counter!("confab_bans_total").increment(1);
        tracing::info!(user = %target, by = ?actor, until = ?until, "user banned");
        Ok(ban)
    }

    /// Lifts `target`'s ban, if any (`USER_NOT_FOUND` for no such user).
    pub async fn unban(&self, actor: Option<&str>, target: &str) -> Result<()> {
        if self.store.user(target).await?.is_none() {
            return Err(Error::UserNotFound(target.to_string()));
        }
        self.store.unban(target).await?;
        tracing::info!(user = %target, by = ?actor, "user unbanned");
        Ok(())
    }

    /// Reports with `status`, after report `cursor`.
    pub async fn reports(
        &self,
        status: ReportStatus,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<ReportsResponse> {
        let limit = page(limit);
        let reports = self.store.reports(status, cursor, limit).await?;
        let next_cursor =
            if reports.len() == limit as usize { reports.last().map(|r| r.report_id.clone()) } else { None };
        Ok(ReportsResponse { reports, next_cursor })
    }

    /// Resolves a report (the first resolution stands).
    pub async fn resolve(
        &self,
        actor: Option<&str>,
        report_id: &str,
        req: ResolveReportRequest,
    ) -> Result<Report> {
        let resolution = moderation::text("resolution", &req.resolution)?;
        validate::client_id("reportId", report_id).map_err(|_| Error::NotFound("no such report".into()))?;
        self.store.resolve_report(report_id, actor, &resolution, now_millis()).await
    }

    /// Revokes every token `user` holds until now; returns the cutoff.
    pub async fn revoke_sessions(&self, actor: Option<&str>, user: &str) -> Result<i64> {
        if self.store.user(user).await?.is_none() {
            return Err(Error::UserNotFound(user.to_string()));
        }
        // Tokens issued in this very millisecond are covered too.
        let before = now_millis() + 1;
        self.store.revoke_user_sessions(user, before).await?;
        metrics::counter!("confab_sessions_revoked_total").increment(1);
        tracing::info!(user = %user, by = ?actor, "sessions revoked by an administrator");
        Ok(before)
    }

    pub async fn stats(&self) -> Result<StoreStats> {
        self.store.stats(now_millis()).await
    }
}
