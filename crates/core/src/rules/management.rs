//! Group management: renaming a group, changing its settings, and members' roles. Only a group's
//! admins manage it; a direct conversation has no name, settings or roles to manage; and a group
//! always keeps an admin, so its last admin cannot step down.

use confab_proto::{ConversationType, GroupSettings, Role};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::rows::{ConversationRow, MemberRow};
use crate::store::GroupUpdate;

use super::access::{self, Membership};

/// What a group update needs to know, read in one transaction that holds the conversation row.
#[derive(Debug, Clone, Default)]
pub struct UpdateRows {
    pub conversation: Option<ConversationRow>,
    pub actor: Option<MemberRow>,
}

/// What a role change needs to know, read in one transaction that holds the conversation row.
#[derive(Debug, Clone, Default)]
pub struct RoleRows {
    pub conversation: Option<ConversationRow>,
    pub actor: Option<MemberRow>,
    pub target: Option<MemberRow>,
    /// How many admins the group has, the target included.
    pub admins: u32,
}

/// The actor's membership, when they may manage the conversation: `ConversationNotFound` /
/// `Forbidden` as for every member-only operation, `InvalidRequest` for a direct conversation,
/// `Forbidden` for a member who is not an admin.
fn managed_by(conversation: Option<ConversationRow>, actor: Option<MemberRow>) -> Result<Membership> {
    let m = access::membership(conversation, actor)?;
    if m.conversation.kind == ConversationType::Direct {
        return Err(Error::InvalidRequest(
            "a direct conversation has no name, settings or roles to change".into(),
        ));
    }
    if !m.is_admin() {
        return Err(Error::Forbidden("only admins can manage this group".into()));
    }
    Ok(m)
}

/// Merges `patch` over `current`: each key of the patch that names a setting replaces it, keys that
/// name none are ignored (as when a group is created), and the result must still be valid settings
/// (`InvalidRequest` otherwise, e.g. a string where a boolean belongs). Works on the settings' JSON
/// form, so every setting, including ones added later, can be changed without touching this rule.
pub fn patch_settings(current: GroupSettings, patch: &Map<String, Value>) -> Result<GroupSettings> {
    let internal = |e: serde_json::Error| Error::Internal(format!("group settings encoding: {e}"));
    let mut merged = match serde_json::to_value(current).map_err(internal)? {
        Value::Object(map) => map,
        other => return Err(Error::Internal(format!("group settings are not an object: {other}"))),
    };
    for (key, value) in patch {
        if let Some(slot) = merged.get_mut(key) {
            *slot = value.clone();
        }
    }
    let settings = serde_json::from_value(Value::Object(merged))
        .map_err(|e| Error::InvalidRequest(format!("invalid settings: {e}")))?;
    super::expiry::check_settings(&settings)?;
    Ok(settings)
}

/// Renames a group and/or changes its settings on behalf of `rows.actor` (an admin). `Some(row)`:
/// the conversation row to write; `None`: nothing changes (the same name, the same settings).
pub fn update(rows: UpdateRows, update: &GroupUpdate) -> Result<Option<ConversationRow>> {
    let m = managed_by(rows.conversation, rows.actor)?;
    let mut changed = m.conversation.clone();
    if let Some(name) = &update.name {
        changed.name = Some(name.clone());
    }
    if let Some(patch) = &update.settings {
        changed.settings = patch_settings(changed.settings, patch)?;
    }
    Ok((changed != m.conversation).then_some(changed))
}

/// Gives a member `role` on behalf of `rows.actor` (an admin; an admin may also step down).
/// `NotFound` when the target is not a member. `Some(role)`: the role to write; `None`: the
/// member has it already. The last admin cannot step down (`InvalidRequest`): a group always has
/// an admin, and a group's admins are its only managers.
pub fn set_role(rows: RoleRows, role: Role) -> Result<Option<Role>> {
    managed_by(rows.conversation, rows.actor)?;
    let target = rows
        .target
        .ok_or_else(|| Error::NotFound("that user is not a member of this conversation".into()))?;
    if target.role == role {
        return Ok(None);
    }
    if target.role == Role::Admin && rows.admins <= 1 {
        return Err(Error::InvalidRequest(
            "the last admin cannot step down; make another member admin first".into(),
        ));
    }
    Ok(Some(role))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::rules::fixtures::{conversation, group, member};

    fn patch(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("an object")
    }

    fn rows(role: Role) -> UpdateRows {
        UpdateRows { conversation: Some(group()), actor: Some(member("me", role, 1)) }
    }

    fn renamed(name: &str) -> GroupUpdate {
        GroupUpdate { name: Some(name.into()), settings: None }
    }

    #[test]
    fn settings_merge_key_by_key_and_ignore_unknown_keys() {
        let current =
            GroupSettings { only_admins_can_post: true, allow_member_invites: false, retention_days: 0 };
        let merged = patch_settings(current, &patch(json!({"allowMemberInvites": true, "colour": "red"})));
        assert_eq!(
            merged,
            Ok(GroupSettings { only_admins_can_post: true, allow_member_invites: true, retention_days: 0 })
        );
        assert_eq!(patch_settings(current, &Map::new()), Ok(current));
        let wrong = patch_settings(current, &patch(json!({"onlyAdminsCanPost": "yes"})));
        assert!(matches!(wrong, Err(Error::InvalidRequest(m)) if m.contains("invalid settings")));
    }

    #[test]
    fn every_setting_can_be_patched() {
        // Each key the settings are written with is taken from a patch: a setting added to
        // `GroupSettings` is patchable without changing the rule.
        let flipped =
            GroupSettings { only_admins_can_post: true, allow_member_invites: true, retention_days: 0 };
        let all = serde_json::to_value(flipped).unwrap();
        assert_eq!(patch_settings(GroupSettings::default(), all.as_object().unwrap()), Ok(flipped));
    }

    #[test]
    fn admins_rename_and_change_settings() {
        let row = update(rows(Role::Admin), &renamed("Night owls")).unwrap().expect("a change");
        assert_eq!(row.name.as_deref(), Some("Night owls"));
        let settings = GroupUpdate { name: None, settings: Some(patch(json!({"onlyAdminsCanPost": true}))) };
        let row = update(rows(Role::Admin), &settings).unwrap().expect("a change");
        assert!(row.settings.only_admins_can_post);
        assert_eq!(row.name, group().name, "what is absent is unchanged");
    }

    #[test]
    fn nothing_new_is_no_change() {
        let same =
            GroupUpdate { name: group().name, settings: Some(patch(json!({"allowMemberInvites": false}))) };
        assert_eq!(update(rows(Role::Admin), &same).unwrap(), None);
        assert_eq!(update(rows(Role::Admin), &GroupUpdate::default()).unwrap(), None);
    }

    #[test]
    fn only_admins_of_groups_manage_them() {
        assert!(matches!(update(rows(Role::Member), &renamed("x")), Err(Error::Forbidden(_))));
        let outsider = UpdateRows { actor: None, ..rows(Role::Admin) };
        assert!(matches!(update(outsider, &renamed("x")), Err(Error::Forbidden(_))));
        let missing = UpdateRows { conversation: None, actor: None };
        assert_eq!(update(missing, &renamed("x")).unwrap_err(), Error::ConversationNotFound);
        let direct = UpdateRows {
            conversation: Some(conversation(ConversationType::Direct, GroupSettings::default())),
            actor: Some(member("me", Role::Member, 1)),
        };
        assert!(matches!(update(direct, &renamed("x")), Err(Error::InvalidRequest(_))));
    }

    fn role_rows(actor: Role, target: Option<Role>, admins: u32) -> RoleRows {
        RoleRows {
            conversation: Some(group()),
            actor: Some(member("me", actor, 1)),
            target: target.map(|r| member("them", r, 2)),
            admins,
        }
    }

    #[test]
    fn admins_promote_and_demote() {
        assert_eq!(
            set_role(role_rows(Role::Admin, Some(Role::Member), 1), Role::Admin),
            Ok(Some(Role::Admin))
        );
        assert_eq!(
            set_role(role_rows(Role::Admin, Some(Role::Admin), 2), Role::Member),
            Ok(Some(Role::Member))
        );
        assert_eq!(set_role(role_rows(Role::Admin, Some(Role::Admin), 2), Role::Admin), Ok(None));
        assert_eq!(set_role(role_rows(Role::Admin, Some(Role::Member), 1), Role::Member), Ok(None));
        assert!(matches!(
            set_role(role_rows(Role::Member, Some(Role::Member), 1), Role::Admin),
            Err(Error::Forbidden(_))
        ));
        assert!(matches!(set_role(role_rows(Role::Admin, None, 1), Role::Admin), Err(Error::NotFound(_))));
    }

    #[test]
    fn the_last_admin_cannot_step_down() {
        let last = RoleRows { target: Some(member("me", Role::Admin, 1)), ..role_rows(Role::Admin, None, 1) };
        assert!(matches!(set_role(last, Role::Member), Err(Error::InvalidRequest(_))));
        let one_of_two =
            RoleRows { target: Some(member("me", Role::Admin, 1)), ..role_rows(Role::Admin, None, 2) };
        assert_eq!(set_role(one_of_two, Role::Member), Ok(Some(Role::Member)));
    }
}
