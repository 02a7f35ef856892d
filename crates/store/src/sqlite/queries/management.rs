//! Group management: renames, settings and roles. The single writer runs each change alone, so the
//! rows a rule decides on cannot change under it.

use confab_core::rules::management::{self, RoleRows, UpdateRows};
use confab_core::store::GroupUpdate;
use confab_core::Result;
use confab_proto::Role;
use rusqlite::{params, Connection};

use super::conversations::{admin_count, conversation, member};
use crate::sqlite::error::SqlResult;

pub(crate) fn update_group(conn: &Connection, id: &str, actor: &str, update: &GroupUpdate) -> Result<bool> {
    let rows = UpdateRows { conversation: conversation(conn, id)?, actor: member(conn, id, actor)? };
    let Some(changed) = management::update(rows, update)? else { return Ok(false) };
    conn.prepare_cached(
        "UPDATE conversations SET name = ?2, only_admins_can_post = ?3, allow_member_invites = ?4,
                                  retention_days = ?5
         WHERE conversation_id = ?1",
    )
    .and_then(|mut s| {
        s.execute(params![
            id,
            changed.name,
            changed.settings.only_admins_can_post,
            changed.settings.allow_member_invites,
            changed.settings.retention_days
        ])
    })
    .db()?;
    Ok(true)
}

pub(crate) fn set_role(conn: &Connection, id: &str, actor: &str, user: &str, role: Role) -> Result<bool> {
    let rows = RoleRows {
        conversation: conversation(conn, id)?,
        actor: member(conn, id, actor)?,
        target: member(conn, id, user)?,
        admins: admin_count(conn, id)?,
    };
    let Some(role) = management::set_role(rows, role)? else { return Ok(false) };
    conn.prepare_cached("UPDATE members SET role = ?1 WHERE conversation_id = ?2 AND user_id = ?3")
        .and_then(|mut s| s.execute(params![role.as_str(), id, user]))
        .db()?;
    Ok(true)
}
