//! Blocks and group management on the embedded store: writes through the single writer, reads on
//! a reader.

use async_trait::async_trait;
use confab_core::rules::blocks::Blocking;
use confab_core::store::{BlockStore, GroupAdminStore, GroupUpdate};
use confab_core::Result;
use confab_proto::{BlockedUser, Role};

use super::queries::{blocks, management};
use super::SqliteStore;

#[async_trait]
impl BlockStore for SqliteStore {
    async fn block_user(&self, blocker: &str, blocked: &str, at: i64) -> Result<bool> {
        let (blocker, blocked) = (blocker.to_string(), blocked.to_string());
        self.write(move |c| blocks::block(c, &blocker, &blocked, at)).await
    }

    async fn unblock_user(&self, blocker: &str, blocked: &str) -> Result<bool> {
        let (blocker, blocked) = (blocker.to_string(), blocked.to_string());
        self.write(move |c| blocks::unblock(c, &blocker, &blocked)).await
    }

    async fn blocks_of(&self, blocker: &str) -> Result<Vec<BlockedUser>> {
        let blocker = blocker.to_string();
        self.read(move |c| blocks::blocks_of(c, &blocker)).await
    }

    async fn blocking(&self, user: &str, peer: &str) -> Result<Blocking> {
        let (user, peer) = (user.to_string(), peer.to_string());
        self.read(move |c| blocks::blocking(c, &user, &peer)).await
    }
}

#[async_trait]
impl GroupAdminStore for SqliteStore {
    async fn update_group(&self, conversation_id: &str, actor: &str, update: &GroupUpdate) -> Result<bool> {
        let (id, actor, update) = (conversation_id.to_string(), actor.to_string(), update.clone());
        self.write(move |c| management::update_group(c, &id, &actor, &update)).await
    }

    async fn set_role(&self, conversation_id: &str, actor: &str, user: &str, role: Role) -> Result<bool> {
        let (id, actor, user) = (conversation_id.to_string(), actor.to_string(), user.to_string());
        self.write(move |c| management::set_role(c, &id, &actor, &user, role)).await
    }
}
