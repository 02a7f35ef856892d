//! Group management: renames, settings and roles, who may change them, and the last admin.

use confab_core::ids::{new_id, now_millis};
use confab_core::store::{GroupUpdate, SharedStore};
use confab_core::Error;
use confab_proto::{GroupSettings, Role};
use serde_json::json;

use super::{group, send, user};

fn settings(v: serde_json::Value) -> GroupUpdate {
    GroupUpdate { name: None, settings: v.as_object().cloned() }
}

fn renamed(name: &str) -> GroupUpdate {
    GroupUpdate { name: Some(name.into()), settings: None }
}

pub async fn admins_rename_groups_and_change_their_settings(store: SharedStore) {
    let admin = user(&store, "chair").await;
    let m = user(&store, "seat").await;
    let outsider = user(&store, "passerby").await;
    let g = group(&store, &admin, std::slice::from_ref(&m), GroupSettings::default()).await;
    assert!(store.update_group(&g, &admin, &renamed("Book club")).await.unwrap());
    assert!(!store.update_group(&g, &admin, &renamed("Book club")).await.unwrap(), "the same name");
    let view = store.conversation(&g, &m).await.unwrap();
    assert_eq!((view.name.as_deref(), view.settings), (Some("Book club"), GroupSettings::default()));
    let quiet = settings(json!({"onlyAdminsCanPost": true, "notASetting": 3}));
    assert!(store.update_group(&g, &admin, &quiet).await.unwrap());
    let view = store.conversation(&g, &admin).await.unwrap();
    assert_eq!(
        view.settings,
        GroupSettings { only_admins_can_post: true, allow_member_invites: false, retention_days: 0 }
    );
    assert_eq!(view.name.as_deref(), Some("Book club"), "what is absent is unchanged");
    assert!(matches!(send(&store, &g, &m, "hi").await, Err(Error::Forbidden(_))), "takes effect at once");
    let both = GroupUpdate { name: Some("Readers".into()), ..settings(json!({"allowMemberInvites": true})) };
    assert!(store.update_group(&g, &admin, &both).await.unwrap());
    let view = store.conversation(&g, &m).await.unwrap();
    assert_eq!(view.name.as_deref(), Some("Readers"));
    assert_eq!(
        view.settings,
        GroupSettings { only_admins_can_post: true, allow_member_invites: true, retention_days: 0 }
    );
    // Refusals change nothing.
    assert!(matches!(store.update_group(&g, &m, &renamed("Mine")).await, Err(Error::Forbidden(_))));
    assert!(matches!(store.update_group(&g, &outsider, &renamed("Mine")).await, Err(Error::Forbidden(_))));
    assert_eq!(
        store.update_group("nope", &admin, &renamed("x")).await.unwrap_err(),
        Error::ConversationNotFound
    );
    let wrong = settings(json!({"onlyAdminsCanPost": "no", "allowMemberInvites": false}));
    assert!(matches!(store.update_group(&g, &admin, &wrong).await, Err(Error::InvalidRequest(_))));
    let (direct, _) = store.open_direct(&admin, &m, new_id(), now_millis()).await.unwrap();
    assert!(matches!(
        store.update_group(&direct, &admin, &renamed("Us")).await,
        Err(Error::InvalidRequest(_))
    ));
    let view = store.conversation(&g, &m).await.unwrap();
    assert_eq!(view.name.as_deref(), Some("Readers"));
    assert_eq!(
        view.settings,
        GroupSettings { only_admins_can_post: true, allow_member_invites: true, retention_days: 0 }
    );
}

/// Roles as `viewer` sees them listed.
async fn roles(store: &SharedStore, g: &str, viewer: &str) -> Vec<(String, Role)> {
    let view = store.conversation(g, viewer).await.unwrap();
    view.participants.into_iter().map(|p| (p.user_id, p.role)).collect()
}

pub async fn admins_promote_and_demote_members(store: SharedStore) {
    let admin = user(&store, "captain").await;
    let m = user(&store, "mate").await;
    let other = user(&store, "deckhand").await;
    let outsider = user(&store, "stowaway").await;
    let g = group(&store, &admin, &[m.clone(), other.clone()], GroupSettings::default()).await;
    assert!(matches!(store.set_role(&g, &m, &m, Role::Admin).await, Err(Error::Forbidden(_))));
    assert!(store.set_role(&g, &admin, &m, Role::Admin).await.unwrap());
    assert!(!store.set_role(&g, &admin, &m, Role::Admin).await.unwrap(), "already an admin");
    assert!(roles(&store, &g, &other).await.contains(&(m.clone(), Role::Admin)));
    // The new admin may now manage the group, and demote the one who promoted them.
    assert!(store.update_group(&g, &m, &renamed("Crew")).await.unwrap());
    assert!(store.set_role(&g, &m, &admin, Role::Member).await.unwrap());
    assert!(matches!(store.set_role(&g, &admin, &other, Role::Admin).await, Err(Error::Forbidden(_))));
    assert!(matches!(store.set_role(&g, &m, &outsider, Role::Admin).await, Err(Error::NotFound(_))));
    assert!(matches!(store.set_role(&g, &outsider, &m, Role::Member).await, Err(Error::Forbidden(_))));
    assert_eq!(store.set_role("nope", &m, &m, Role::Member).await.unwrap_err(), Error::ConversationNotFound);
    // The last admin cannot step down.
    assert!(matches!(store.set_role(&g, &m, &m, Role::Member).await, Err(Error::InvalidRequest(_))));
    let listed = roles(&store, &g, &m).await;
    assert_eq!(
        listed.iter().filter(|(_, r)| *r == Role::Admin).collect::<Vec<_>>(),
        [&(m.clone(), Role::Admin)]
    );
    let (direct, _) = store.open_direct(&admin, &m, new_id(), now_millis()).await.unwrap();
    assert!(matches!(store.set_role(&direct, &admin, &m, Role::Admin).await, Err(Error::InvalidRequest(_))));
}

pub async fn concurrent_step_downs_leave_an_admin(store: SharedStore) {
    for round in 0..8 {
        let a = user(&store, &format!("first{round}")).await;
        let b = user(&store, &format!("second{round}")).await;
        let g = group(&store, &a, std::slice::from_ref(&b), GroupSettings::default()).await;
        store.set_role(&g, &a, &b, Role::Admin).await.unwrap();
        // Both step down at once, or each demotes the other: one of the two must be refused.
        let (x, y) = if round % 2 == 0 {
            tokio::join!(store.set_role(&g, &a, &a, Role::Member), store.set_role(&g, &b, &b, Role::Member))
        } else {
            tokio::join!(store.set_role(&g, &a, &b, Role::Member), store.set_role(&g, &b, &a, Role::Member))
        };
        let done = [&x, &y].iter().filter(|r| matches!(r, Ok(true))).count();
        assert_eq!(done, 1, "round {round}: {x:?} {y:?}");
        let admins = roles(&store, &g, &a).await.into_iter().filter(|(_, r)| *r == Role::Admin).count();
        assert_eq!(admins, 1, "round {round}");
    }
}
