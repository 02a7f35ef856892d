//! Group management: renames, settings and roles. Each change locks the conversation row first, so
//! concurrent changes from several nodes (two admins stepping down at once) see each other's
//! effects instead of racing past the last-admin rule.

use confab_core::rules::management::{self, RoleRows, UpdateRows};
use confab_core::store::GroupUpdate;
use confab_core::Result;
use confab_proto::Role;
use deadpool_postgres::GenericClient;

use super::conversations::{admin_count, conversation_locked, member};
use crate::postgres::error::PgResult;

pub(crate) async fn update_group<C: GenericClient>(
    c: &C,
    id: &str,
    actor: &str,
    update: &GroupUpdate,
) -> Result<bool> {
    let conversation = conversation_locked(c, id).await?;
    let rows = UpdateRows { conversation, actor: member(c, id, actor).await? };
    let Some(changed) = management::update(rows, update)? else { return Ok(false) };
    c.execute(
        "UPDATE conversations SET name = $2, only_admins_can_post = $3, allow_member_invites = $4,
                                  retention_days = $5
         WHERE conversation_id = $1",
        &[
            &id,
            &changed.name,
            &changed.settings.only_admins_can_post,
            &changed.settings.allow_member_invites,
            &super::retention(changed.settings.retention_days),
        ],
    )
    .await
    .db()?;
    Ok(true)
}

pub(crate) async fn set_role<C: GenericClient>(
    c: &C,
    id: &str,
    actor: &str,
    user: &str,
    role: Role,
) -> Result<bool> {
    let conversation = conversation_locked(c, id).await?;
    let (actor, target, admins) =
        tokio::try_join!(member(c, id, actor), member(c, id, user), admin_count(c, id))?;
    let Some(role) = management::set_role(RoleRows { conversation, actor, target, admins }, role)? else {
        return Ok(false);
    };
    c.execute(
        "UPDATE members SET role = $1 WHERE conversation_id = $2 AND user_id = $3",
        &[&role.as_str(), &id, &user],
    )
    .await
    .db()?;
    Ok(true)
}
