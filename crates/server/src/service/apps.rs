//! What the server API does besides the other services' operations: the system account, presence
//! across the cluster as an application sees it, and which admin acts when the application names
//! none.

use confab_core::bus::SharedBus;
use confab_core::ids::now_millis;
use confab_core::rules::posting::{SYSTEM_DISPLAY_NAME, SYSTEM_USERNAME, SYSTEM_USER_ID};
use confab_core::store::{NewUser, SharedStore};
use confab_core::{validate, Error, Result};
use confab_proto::{Presence, Role, ServerPresenceResponse};
use tokio::sync::OnceCell;

/// Users one presence request may ask about.
pub(crate) const MAX_PRESENCE_USERS: usize = 100;

pub(crate) struct Apps {
    store: SharedStore,
    bus: SharedBus,
    /// Set once the system account is known to exist.
    system_account: OnceCell<()>,
}

impl Apps {
    pub(crate) fn new(store: SharedStore, bus: SharedBus) -> Apps {
        Apps { store, bus, system_account: OnceCell::new() }
    }

    /// The system account's user id, the account made on first use (by any node: a second
    /// creation finds it taken and the account there).
    pub(crate) async fn system_account(&self) -> Result<&'static str> {
        self.system_account
            .get_or_try_init(|| async {
                if self.store.user(SYSTEM_USER_ID).await?.is_some() {
                    return Ok(());
                }
                let made = self
                    .store
                    .create_user(NewUser {
                        user_id: SYSTEM_USER_ID.to_string(),
                        username: SYSTEM_USERNAME.to_string(),
                        display_name: SYSTEM_DISPLAY_NAME.to_string(),
                        password_hash: None,
                        created_at: now_millis(),
                        invite: None,
                    })
                    .await;
                match made {
                    Ok(_) => Ok(()),
                    Err(Error::UsernameTaken) if self.store.user(SYSTEM_USER_ID).await?.is_some() => Ok(()),
                    Err(e) => Err(e),
                }
            })
            .await?;
        Ok(SYSTEM_USER_ID)
    }

    /// A member who may manage `conversation_id` for the application: `actor` when named (the
    /// group's rules then apply to them), otherwise one of its admins.
    pub(crate) async fn actor(&self, conversation_id: &str, actor: Option<String>) -> Result<String> {
        validate::client_id("conversationId", conversation_id)?;
        if let Some(actor) = actor {
            validate::client_id("actorId", &actor)?;
            return Ok(actor);
        }
        let members = self.store.member_ids(conversation_id).await?;
        let viewer = members.first().ok_or(Error::ConversationNotFound)?;
        let view = self.store.conversation(conversation_id, viewer).await?;
        view.participants.into_iter().find(|p| p.role == Role::Admin).map(|p| p.user_id).ok_or_else(|| {
            Error::InvalidRequest("no admin of this conversation is listed: name an `actorId`".into())
        })
    }

    /// Presence of the listed users that exist, in the order listed (unknown ids are left out):
    /// online anywhere in the cluster or not, and when they were last seen.
    pub(crate) async fn presence(&self, user_ids: &[String]) -> Result<ServerPresenceResponse> {
        if user_ids.is_empty() || user_ids.len() > MAX_PRESENCE_USERS {
            return Err(Error::InvalidRequest(format!("`userIds` lists 1 to {MAX_PRESENCE_USERS} users")));
        }
        for id in user_ids {
            validate::client_id("userIds", id)?;
        }
        let seen = self.store.last_seen(user_ids).await?;
        let existing: Vec<String> = seen.iter().map(|(user, _)| user.clone()).collect();
        let statuses = self.bus.presence_of(&existing).await?;
        let presences = seen
            .into_iter()
            .zip(statuses)
            .map(|((user_id, last_seen), status)| Presence { user_id, status, last_seen })
            .collect();
        Ok(ServerPresenceResponse { presences })
    }
}
