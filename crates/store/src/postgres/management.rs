//! Blocks and group management on PostgreSQL: each write in its own transaction, locking what its
//! decision depends on.

use async_trait::async_trait;
use confab_core::rules::blocks::Blocking;
use confab_core::store::{BlockStore, GroupAdminStore, GroupUpdate};
use confab_core::Result;
use confab_proto::{BlockedUser, Role};

use super::error::PgResult;
use super::queries::{blocks, management};
use super::PostgresStore;

#[async_trait]
impl BlockStore for PostgresStore {
    async fn block_user(&self, blocker: &str, blocked: &str, at: i64) -> Result<bool> {
        transaction!(self, |c| blocks::block(c, blocker, blocked, at).await)
    }

    async fn unblock_user(&self, blocker: &str, blocked: &str) -> Result<bool> {
        transaction!(self, |c| blocks::unblock(c, blocker, blocked).await)
    }

    async fn blocks_of(&self, blocker: &str) -> Result<Vec<BlockedUser>> {
        once!(self, |c| blocks::blocks_of(c, blocker).await)
    }

    async fn blocking(&self, user: &str, peer: &str) -> Result<Blocking> {
        once!(self, |c| blocks::blocking(c, user, peer).await)
    }
}

#[async_trait]
impl GroupAdminStore for PostgresStore {
    async fn update_group(&self, conversation_id: &str, actor: &str, update: &GroupUpdate) -> Result<bool> {
        transaction!(self, |c| management::update_group(c, conversation_id, actor, update).await)
    }

    async fn set_role(&self, conversation_id: &str, actor: &str, user: &str, role: Role) -> Result<bool> {
        transaction!(self, |c| management::set_role(c, conversation_id, actor, user, role).await)
    }
}
