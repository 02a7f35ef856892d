//! Groups: who is in one at creation, who may add and remove members, how large one may grow, and
//! who becomes admin when the last admin leaves (a group with members always has an admin).

use confab_proto::{ConversationType, Role};

use crate::error::{Error, Result};
use crate::rows::{ConversationRow, MemberRow, NewConversation};
use crate::store::NewGroup;

use super::access;

fn too_large(max_group_size: u32) -> Error {
    Error::InvalidRequest(format!("a group has at most {max_group_size} members"))
}

/// A group whose size is within the limit but whose members are not yet known to exist.
#[derive(Debug, Clone)]
pub struct UncheckedGroup {
    new: NewConversation,
}

impl UncheckedGroup {
    /// Every member's user id, the creator first: look these up and pass the ones that exist to
    /// [`UncheckedGroup::with_users`].
    pub fn user_ids(&self) -> impl Iterator<Item = &str> {
        self.new.members.iter().map(|m| m.user_id.as_str())
    }

    /// The rows to insert, once every member is known to exist (`UserNotFound` otherwise).
    pub fn with_users(self, found: &[String]) -> Result<NewConversation> {
        super::users::require_existing(self.user_ids(), found)?;
        Ok(self.new)
    }
}

/// Creates a group: the creator as its admin, every other listed user once as a member, all with
/// nothing to receive or read yet. `InvalidRequest` when that is more than `max_group_size`.
pub fn create(group: &NewGroup) -> Result<UncheckedGroup> {
    let mut others: Vec<&str> =
        group.member_ids.iter().map(String::as_str).filter(|id| *id != group.creator_id).collect();
    others.sort_unstable();
    others.dedup();
    let size = others.len() + 1;
    if size > group.max_group_size as usize {
        return Err(too_large(group.max_group_size));
    }
    super::expiry::check_settings(&group.settings)?;
    let member = |user_id: &str, role| MemberRow {
        user_id: user_id.to_string(),
        role,
        joined_at: group.created_at,
        last_read_sequence: 0,
        last_delivered_sequence: 0,
        muted_until: None,
    };
    let mut members = vec![member(&group.creator_id, Role::Admin)];
    members.extend(others.into_iter().map(|id| member(id, Role::Member)));
    Ok(UncheckedGroup {
        new: NewConversation {
            conversation: ConversationRow {
                conversation_id: group.conversation_id.clone(),
                kind: ConversationType::Group,
                name: Some(group.name.clone()),
                settings: group.settings,
                created_at: group.created_at,
                last_sequence: 0,
                member_count: size as u32,
                purged_up_to: 0,
            },
            direct_key: None,
            members,
        },
    })
}

/// What adding members needs to know, read in one transaction that holds the conversation row.
#[derive(Debug, Clone, Default)]
pub struct AdditionRows {
    pub conversation: Option<ConversationRow>,
    pub actor: Option<MemberRow>,
    /// Those of the requested users who are already members.
    pub already_members: Vec<String>,
    /// Those of the requested users who exist.
    pub existing_users: Vec<String>,
}

/// Members to insert and the conversation's new member count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    pub added: Vec<MemberRow>,
    pub member_count: u32,
}

impl Admission {
    /// The ids actually added, in the order they were asked for.
    pub fn user_ids(&self) -> Vec<String> {
        self.added.iter().map(|m| m.user_id.clone()).collect()
    }
}

/// Adds `requested` on behalf of `rows.actor`: an admin, or any member when the group allows
/// invites; never to a direct conversation. Existing members and repeats are skipped; everyone
/// else must exist (`UserNotFound`), and the group may not grow past `max_group_size`
/// (`InvalidRequest`, nobody added). Newcomers start with every earlier message delivered and read:
/// they have nothing older to receive, so older messages neither count as unread for them nor wait
/// on their receipts.
pub fn add(rows: AdditionRows, requested: &[String], now: i64, max_group_size: u32) -> Result<Admission> {
    let m = access::membership(rows.conversation, rows.actor)?;
    if m.conversation.kind == ConversationType::Direct {
        return Err(Error::Forbidden("members cannot be added to a direct conversation".into()));
    }
    if !m.is_admin() && !m.conversation.settings.allow_member_invites {
        return Err(Error::Forbidden("only admins can add members to this group".into()));
    }
    let mut added: Vec<MemberRow> = Vec::new();
    for id in requested {
        if added.iter().any(|a| &a.user_id == id) || rows.already_members.contains(id) {
            continue;
        }
        super::users::require_existing([id.as_str()], &rows.existing_users)?;
        added.push(MemberRow {
            user_id: id.clone(),
            role: Role::Member,
            joined_at: now,
            last_read_sequence: m.conversation.last_sequence,
            last_delivered_sequence: m.conversation.last_sequence,
            muted_until: None,
        });
    }
    let member_count = m.conversation.member_count as usize + added.len();
    if member_count > max_group_size as usize {
        return Err(too_large(max_group_size));
    }
    Ok(Admission { added, member_count: member_count as u32 })
}

/// What removing a member needs to know, read in one transaction that holds the conversation row.
#[derive(Debug, Clone, Default)]
pub struct RemovalRows {
    pub conversation: Option<ConversationRow>,
    pub actor: Option<MemberRow>,
    pub target: Option<MemberRow>,
    /// How many admins the conversation has, the target included.
    pub admins: u32,
    /// The most senior members (by `joined_at`, then `user_id`): at least the first two, or all.
    pub seniors: Vec<MemberRow>,
}

/// A removal to write: delete `user_id`, set the member count, and promote `promote` to admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    pub user_id: String,
    pub member_count: u32,
    pub promote: Option<String>,
}

/// Removes `user` on behalf of `actor`: a member may leave, an admin may remove anyone; nobody
/// leaves a direct conversation. `NotFound` when `user` is not a member. When the last admin goes,
/// the longest-standing remaining member becomes admin.
pub fn remove(rows: RemovalRows, actor: &str, user: &str) -> Result<Removal> {
    let m = access::membership(rows.conversation, rows.actor)?;
    if m.conversation.kind == ConversationType::Direct {
        return Err(Error::Forbidden("members cannot leave or be removed from a direct conversation".into()));
    }
    if actor != user && !m.is_admin() {
        return Err(Error::Forbidden("only admins can remove other members".into()));
    }
    let target = rows
        .target
        .ok_or_else(|| Error::NotFound("that user is not a member of this conversation".into()))?;
    let admins_left = rows.admins.saturating_sub(u32::from(target.role == Role::Admin));
    let promote = if admins_left == 0 { successor(&rows.seniors, user) } else { None };
    Ok(Removal {
        user_id: target.user_id,
        member_count: m.conversation.member_count.saturating_sub(1),
        promote,
    })
}

/// The longest-standing member other than `leaving`: earliest `joined_at`, ties broken by user id.
pub fn successor(members: &[MemberRow], leaving: &str) -> Option<String> {
    members
        .iter()
        .filter(|m| m.user_id != leaving)
        .min_by(|a, b| (a.joined_at, &a.user_id).cmp(&(b.joined_at, &b.user_id)))
        .map(|m| m.user_id.clone())
}

#[cfg(test)]
mod tests {
    use confab_proto::GroupSettings;

    use super::*;
    use crate::rules::fixtures::{conversation, group, member};

    fn new_group(members: &[&str], max: u32) -> NewGroup {
        NewGroup {
            conversation_id: "g".into(),
            name: "team".into(),
            creator_id: "boss".into(),
            member_ids: members.iter().map(|s| s.to_string()).collect(),
            settings: GroupSettings::default(),
            created_at: 9,
            max_group_size: max,
        }
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_group_counts_the_creator_once_and_repeats_never() {
        let new = create(&new_group(&["b", "a", "boss", "b"], 3)).unwrap();
        assert_eq!(new.user_ids().collect::<Vec<_>>(), ["boss", "a", "b"]);
        let new = new.with_users(&ids(&["a", "b", "boss"])).unwrap();
        assert_eq!(new.conversation.member_count, 3);
        assert_eq!(new.members[0].role, Role::Admin);
        assert!(new.members[1..].iter().all(|m| m.role == Role::Member && m.joined_at == 9));
    }

    #[test]
    fn a_group_over_the_limit_is_refused_before_users_are_looked_up() {
        assert!(matches!(create(&new_group(&["a", "b", "c"], 3)), Err(Error::InvalidRequest(_))));
        let unchecked = create(&new_group(&["a", "b"], 3)).unwrap();
        assert_eq!(unchecked.with_users(&ids(&["boss", "b"])).unwrap_err(), Error::UserNotFound("a".into()));
    }

    fn addition(actor_role: Role, settings: GroupSettings) -> AdditionRows {
        AdditionRows {
            conversation: Some(conversation(ConversationType::Group, settings)),
            actor: Some(member("me", actor_role, 1)),
            already_members: ids(&["me", "old"]),
            existing_users: ids(&["me", "old", "x", "y"]),
        }
    }

    #[test]
    fn only_admins_add_unless_the_group_allows_invites() {
        let plain = GroupSettings::default();
        let open = GroupSettings { allow_member_invites: true, ..plain };
        assert!(matches!(add(addition(Role::Member, plain), &ids(&["x"]), 0, 9), Err(Error::Forbidden(_))));
        assert!(add(addition(Role::Member, open), &ids(&["x"]), 0, 9).is_ok());
        assert!(add(addition(Role::Admin, plain), &ids(&["x"]), 0, 9).is_ok());
        let direct = AdditionRows {
            conversation: Some(conversation(ConversationType::Direct, plain)),
            ..addition(Role::Member, open)
        };
        assert!(matches!(add(direct, &ids(&["x"]), 0, 9), Err(Error::Forbidden(_))));
        let outsider = AdditionRows { actor: None, ..addition(Role::Admin, plain) };
        assert!(matches!(add(outsider, &ids(&["x"]), 0, 9), Err(Error::Forbidden(_))));
    }

    #[test]
    fn additions_skip_members_and_repeats_and_start_caught_up() {
        let rows = addition(Role::Admin, GroupSettings::default());
        let admission = add(rows, &ids(&["y", "old", "x", "y"]), 50, 5).unwrap();
        assert_eq!(admission.user_ids(), ["y", "x"]);
        assert_eq!(admission.member_count, 5);
        let newcomer = &admission.added[0];
        assert_eq!(
            (newcomer.joined_at, newcomer.last_read_sequence, newcomer.last_delivered_sequence),
            (50, 7, 7)
        );
    }

    #[test]
    fn additions_respect_the_size_limit_and_existence() {
        let rows = || addition(Role::Admin, GroupSettings::default());
        assert!(matches!(add(rows(), &ids(&["x", "y"]), 0, 4), Err(Error::InvalidRequest(_))));
        assert_eq!(add(rows(), &ids(&["old"]), 0, 3).unwrap().member_count, 3, "nobody new, nothing counted");
        assert_eq!(
            add(rows(), &ids(&["x", "ghost"]), 0, 9).unwrap_err(),
            Error::UserNotFound("ghost".into())
        );
    }

    fn removal(actor: MemberRow, target: Option<MemberRow>, admins: u32) -> RemovalRows {
        RemovalRows {
            conversation: Some(group()),
            actor: Some(actor),
            target,
            admins,
            seniors: vec![member("first", Role::Admin, 1), member("second", Role::Member, 1)],
        }
    }

    #[test]
    fn members_leave_and_admins_remove() {
        let m = member("m", Role::Member, 3);
        let other = member("o", Role::Member, 4);
        let admin = member("first", Role::Admin, 1);
        let left = remove(removal(m.clone(), Some(m.clone()), 1), "m", "m").unwrap();
        assert_eq!((left.member_count, left.promote), (2, None));
        assert!(matches!(
            remove(removal(m.clone(), Some(other.clone()), 1), "m", "o"),
            Err(Error::Forbidden(_))
        ));
        assert!(remove(removal(admin.clone(), Some(other), 1), "first", "o").is_ok());
        assert!(matches!(remove(removal(admin, None, 1), "first", "ghost"), Err(Error::NotFound(_))));
        let direct = RemovalRows {
            conversation: Some(conversation(ConversationType::Direct, GroupSettings::default())),
            ..removal(m.clone(), Some(m), 0)
        };
        assert!(matches!(remove(direct, "m", "m"), Err(Error::Forbidden(_))));
    }

    #[test]
    fn the_last_admin_leaving_promotes_the_longest_standing_member() {
        let admin = member("first", Role::Admin, 1);
        let gone = remove(removal(admin.clone(), Some(admin.clone()), 1), "first", "first").unwrap();
        assert_eq!(gone.promote.as_deref(), Some("second"));
        let another_admin_stays = remove(removal(admin.clone(), Some(admin), 2), "first", "first").unwrap();
        assert_eq!(another_admin_stays.promote, None);
    }

    #[test]
    fn seniority_is_join_time_then_user_id() {
        let members =
            [member("b", Role::Member, 5), member("c", Role::Member, 2), member("a", Role::Member, 5)];
        assert_eq!(successor(&members, "x").as_deref(), Some("c"));
        assert_eq!(successor(&members, "c").as_deref(), Some("a"));
        assert_eq!(successor(&members[..1], "b"), None, "nobody left to promote");
    }
}
