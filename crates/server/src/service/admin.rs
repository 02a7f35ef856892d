//! What server administrators do (`/api/v1/admin/...`): list and search users, ban and unban,
//! work through reports, look at and close a user's sessions, read the server's counts.
//!
//! Administrators are configured by username (`--admin-users`); everyone else is refused with
//! `FORBIDDEN`. Deleting any message is the lifecycle service's delete with an administrator as
//! the actor (see `routes/admin.rs`).

use std::sync::Arc;
use std::time::Duration;

use confab_core::bus::{ClusterEvent, Revoked, SharedBus};
use confab_core::ids::now_millis;
use confab_core::store::SharedStore;
use confab_core::{validate, Error, Result};
use confab_proto::{
    AdminStats, AdminUsersResponse, Ban, BanRequest, Report, ReportStatus, ReportsResponse,
    ResolveReportRequest, UserSessionsResponse,
};

use super::moderation::BanCache;
use super::sessions::RevocationCache;
use crate::hub::Hub;
use crate::moderator::{Admins, Moderator};

pub(crate) struct Admin {
    store: SharedStore,
    moderator: Moderator,
    bus: SharedBus,
    hub: Arc<Hub>,
    bans: Arc<BanCache>,
    revocations: Arc<RevocationCache>,
    admins: Arc<Admins>,
    node_id: String,
    /// How long a revoked session must be remembered: no token this server issues lives longer.
    token_ttl: Duration,
}

/// What [`Admin`] works with.
pub(crate) struct AdminParts {
    pub(crate) store: SharedStore,
    pub(crate) bus: SharedBus,
    pub(crate) hub: Arc<Hub>,
    pub(crate) bans: Arc<BanCache>,
    pub(crate) revocations: Arc<RevocationCache>,
    pub(crate) admins: Arc<Admins>,
    pub(crate) node_id: String,
    pub(crate) token_ttl: Duration,
}

impl Admin {
    pub(crate) fn new(p: AdminParts) -> Admin {
        Admin {
            moderator: Moderator::new(p.store.clone(), p.admins.clone()),
            store: p.store,
            bus: p.bus,
            hub: p.hub,
            bans: p.bans,
            revocations: p.revocations,
            admins: p.admins,
            node_id: p.node_id,
            token_ttl: p.token_ttl,
        }
    }

    /// Whether `user_id` is a configured administrator.
    pub(crate) async fn is_admin(&self, user_id: &str) -> Result<bool> {
        Ok(self.store.user(user_id).await?.is_some_and(|u| self.admins.contains(&u.username)))
    }

    /// `FORBIDDEN` unless `user_id` is an administrator.
    pub(crate) async fn require(&self, user_id: &str) -> Result<()> {
        if self.is_admin(user_id).await? {
            Ok(())
        } else {
            Err(Error::Forbidden("only server administrators may do this".into()))
        }
    }

    /// Users whose username starts with `query`, after username `cursor`, with their bans.
    pub(crate) async fn users(
        &self,
        query: &str,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<AdminUsersResponse> {
        self.moderator.users(query, cursor, limit).await
    }

    /// Bans `target` on behalf of `actor` (`None`: the command line): refused for administrators
    /// (and so for oneself). Every node refuses the user from now on and closes their sockets.
    pub(crate) async fn ban(&self, actor: Option<&str>, target: &str, req: BanRequest) -> Result<Ban> {
        let ban = self.moderator.ban(actor, target, req).await?;
        self.changed(target, true);
        Ok(ban)
    }

    /// Lifts `target`'s ban, if any (`USER_NOT_FOUND` for no such user).
    pub(crate) async fn unban(&self, actor: Option<&str>, target: &str) -> Result<()> {
        self.moderator.unban(actor, target).await?;
        self.changed(target, false);
        Ok(())
    }

    /// Tells this node at once, and every node through the bus, that `user`'s ban changed.
    fn changed(&self, user: &str, banned: bool) {
        self.bans.invalidate(user);
        self.bus.broadcast(ClusterEvent::BanChanged { user_id: user.to_string(), banned });
    }

    /// Reports with `status`, after report `cursor`.
    pub(crate) async fn reports(
        &self,
        status: ReportStatus,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<ReportsResponse> {
        self.moderator.reports(status, cursor, limit).await
    }

    /// Resolves a report (the first resolution stands).
    pub(crate) async fn resolve(
        &self,
        actor: Option<&str>,
        report_id: &str,
        req: ResolveReportRequest,
    ) -> Result<Report> {
        self.moderator.resolve(actor, report_id, req).await
    }

    /// `user`'s presence across the cluster and their connections on this node.
    pub(crate) async fn sessions(&self, user: &str) -> Result<UserSessionsResponse> {
        if self.store.user(user).await?.is_none() {
            return Err(Error::UserNotFound(user.to_string()));
        }
        let presence = self.bus.presence_of(&[user.to_string()]).await?;
        Ok(UserSessionsResponse {
            user_id: user.to_string(),
            presence: presence.into_iter().next().unwrap_or(confab_proto::PresenceStatus::Offline),
            node_id: self.node_id.clone(),
            connections: self.hub.connections_of(user),
        })
    }

    /// Revokes every token `user` holds (their sockets close with `4003` on every node).
    pub(crate) async fn close_sessions(&self, actor: Option<&str>, user: &str) -> Result<()> {
        let before = self.moderator.revoke_sessions(actor, user).await?;
        self.announce_revoked(user, Revoked::IssuedBefore { before, keep: None });
        Ok(())
    }

    /// Revokes one of `user`'s tokens by its session id (as listed with their connections). The
    /// revocation is kept for the server's token lifetime, which no token it issues outlives.
    pub(crate) async fn close_session(
        &self,
        actor: Option<&str>,
        user: &str,
        session_id: &str,
    ) -> Result<()> {
        validate::client_id("sessionId", session_id)?;
        if self.store.user(user).await?.is_none() {
            return Err(Error::UserNotFound(user.to_string()));
        }
        let ttl = i64::try_from(self.token_ttl.as_millis()).unwrap_or(i64::MAX);
        self.store.revoke_session(user, session_id, now_millis().saturating_add(ttl)).await?;
        tracing::info!(user = %user, by = ?actor, "a session closed by an administrator");
        metrics::counter!("confab_sessions_revoked_total").increment(1);
        self.announce_revoked(user, Revoked::Session(session_id.to_string()));
        Ok(())
    }

    /// Tells this node at once, and every node through the bus, that `user`'s tokens `revoked`
    /// covers are revoked (already recorded in the store).
    fn announce_revoked(&self, user: &str, revoked: Revoked) {
        self.revocations.invalidate(user);
        self.bus.broadcast(ClusterEvent::SessionsRevoked { user_id: user.to_string(), revoked });
    }

    /// The server's counts, and this node's connections.
    pub(crate) async fn stats(&self) -> Result<AdminStats> {
        let s = self.moderator.stats().await?;
        Ok(AdminStats {
            users: s.users,
            conversations: s.conversations,
            messages: s.messages,
            open_reports: s.open_reports,
            active_bans: s.active_bans,
            live_connections: self.hub.connection_count() as u64,
            node_id: self.node_id.clone(),
        })
    }
}
