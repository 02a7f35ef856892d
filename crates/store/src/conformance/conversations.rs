//! Direct conversations and groups: who is in them, who may change that, and the admin role.

use confab_core::ids::{new_id, now_millis};
use confab_core::store::SharedStore;
use confab_core::Error;
use confab_proto::{GroupSettings, Role};

use super::{group, group_with, send, user};

pub async fn direct_conversations_are_idempotent(store: SharedStore) {
    let a = user(&store, "dana").await;
    let b = user(&store, "eve").await;
    let (first, created) = store.open_direct(&a, &b, new_id(), now_millis()).await.unwrap();
    assert!(created);
    let (again, created) = store.open_direct(&b, &a, new_id(), now_millis()).await.unwrap();
    assert_eq!((again.as_str(), created), (first.as_str(), false));
    let missing = store.open_direct(&a, "ghost", new_id(), now_millis()).await;
    assert!(matches!(missing, Err(Error::UserNotFound(_))));
    let outsider = user(&store, "mallory").await;
    assert!(matches!(store.conversation(&first, &outsider).await, Err(Error::Forbidden(_))));
    assert_eq!(store.conversation("nope", &a).await.unwrap_err(), Error::ConversationNotFound);
}

pub async fn group_roles_and_settings_are_enforced(store: SharedStore) {
    let admin = user(&store, "admin").await;
    let m1 = user(&store, "member1").await;
    let m2 = user(&store, "member2").await;
    let m3 = user(&store, "member3").await;
    let settings =
        GroupSettings { only_admins_can_post: true, allow_member_invites: false, retention_days: 0 };
    let g = group(&store, &admin, std::slice::from_ref(&m1), settings).await;
    let view = store.conversation(&g, &admin).await.unwrap();
    assert_eq!(view.member_count, 2);
    assert_eq!(view.participants[0].role, Role::Admin);
    assert!(matches!(send(&store, &g, &m1, "hi").await, Err(Error::Forbidden(_))));
    assert_eq!(send(&store, &g, &admin, "hi").await.unwrap(), 1);
    assert!(matches!(
        store.add_members(&g, &m1, std::slice::from_ref(&m2), 0, 5).await,
        Err(Error::Forbidden(_))
    ));
    let added = store.add_members(&g, &admin, &[m2.clone(), m1.clone()], 0, 5).await.unwrap();
    assert_eq!(added, std::slice::from_ref(&m2));
    assert!(matches!(store.remove_member(&g, &m1, &m2).await, Err(Error::Forbidden(_))));
    store.remove_member(&g, &m2, &m2).await.unwrap();
    assert!(matches!(store.remove_member(&g, &admin, &m3).await, Err(Error::NotFound(_))));
    // The last admin leaving promotes the longest-standing member.
    store.remove_member(&g, &admin, &admin).await.unwrap();
    let view = store.conversation(&g, &m1).await.unwrap();
    assert_eq!(view.member_count, 1);
    assert_eq!(view.participants[0].role, Role::Admin);
    assert_eq!(store.member_ids(&g).await.unwrap(), std::slice::from_ref(&m1));
    let too_many: Vec<String> = (0..5).map(|_| new_id()).collect();
    assert!(store.add_members(&g, &m1, &too_many, 0, 5).await.is_err());
}

pub async fn open_direct_needs_two_existing_users(store: SharedStore) {
    let a = user(&store, "ann").await;
    for (x, y) in [(a.as_str(), "ghost"), ("ghost", a.as_str())] {
        let missing = store.open_direct(x, y, new_id(), now_millis()).await;
        assert_eq!(missing.unwrap_err(), Error::UserNotFound("ghost".into()));
    }
    assert!(matches!(store.open_direct(&a, &a, new_id(), 0).await, Err(Error::InvalidRequest(_))));
    assert!(store.conversations_of(&a).await.unwrap().is_empty(), "refused openings create nothing");
    let b = user(&store, "ben").await;
    let (c, created) = store.open_direct(&a, &b, new_id(), now_millis()).await.unwrap();
    assert!(created);
    let again = store.open_direct(&b, "ghost", new_id(), now_millis()).await;
    assert_eq!(again.unwrap_err(), Error::UserNotFound("ghost".into()));
    let mine: Vec<String> =
        store.conversations_of(&a).await.unwrap().into_iter().map(|v| v.conversation_id).collect();
    assert_eq!(mine, [c]);
}

/// Participants as `viewer` sees them listed, with their roles.
async fn listed(store: &SharedStore, g: &str, viewer: &str) -> Vec<(String, Role)> {
    let view = store.conversation(g, viewer).await.unwrap();
    view.participants.into_iter().map(|p| (p.user_id, p.role)).collect()
}

pub async fn the_last_admin_leaving_promotes_the_longest_standing_member(store: SharedStore) {
    let admin = user(&store, "founder").await;
    let late = user(&store, "late").await;
    let early = user(&store, "early").await;
    let last = user(&store, "last").await;
    let g =
        group_with(&store, &admin, std::slice::from_ref(&late), GroupSettings::default(), 1_000, 10).await;
    // Joined before `late` although added after: seniority is join time, not insertion order.
    store.add_members(&g, &admin, std::slice::from_ref(&early), 500, 10).await.unwrap();
    store.add_members(&g, &admin, std::slice::from_ref(&last), 2_000, 10).await.unwrap();
    let m = |id: &String, role| (id.clone(), role);
    assert_eq!(
        listed(&store, &g, &late).await,
        [m(&admin, Role::Admin), m(&early, Role::Member), m(&late, Role::Member), m(&last, Role::Member)],
        "admins first, then by seniority"
    );
    store.remove_member(&g, &last, &last).await.unwrap();
    assert_eq!(
        listed(&store, &g, &late).await[0],
        m(&admin, Role::Admin),
        "a member leaving changes no role"
    );
    store.remove_member(&g, &admin, &admin).await.unwrap();
    assert_eq!(listed(&store, &g, &late).await, [m(&early, Role::Admin), m(&late, Role::Member)]);
    // The new admin has an admin's rights.
    store.remove_member(&g, &early, &late).await.unwrap();
    assert_eq!(store.conversation(&g, &early).await.unwrap().member_count, 1);
    // The last member leaving leaves nobody to promote, and nobody who can see the group.
    store.remove_member(&g, &early, &early).await.unwrap();
    assert!(store.member_ids(&g).await.unwrap().is_empty());
    assert!(matches!(store.conversation(&g, &early).await, Err(Error::Forbidden(_))));

    // Members who joined together succeed in user id order.
    let (p, q) = (user(&store, "pat").await, user(&store, "quin").await);
    let g = group_with(&store, &admin, &[p.clone(), q.clone()], GroupSettings::default(), 1_000, 10).await;
    store.remove_member(&g, &admin, &admin).await.unwrap();
    let heir = std::cmp::min(&p, &q);
    assert_eq!(listed(&store, &g, &p).await[0], m(heir, Role::Admin));
}

pub async fn groups_never_exceed_their_size_limit(store: SharedStore) {
    let a = user(&store, "gina").await;
    let b = user(&store, "hank").await;
    let c = user(&store, "iris").await;
    let d = user(&store, "jack").await;
    let e = user(&store, "kim").await;
    let settings = GroupSettings::default();
    // The creator counts once; repeats do not count.
    let g = group_with(&store, &a, &[b.clone(), c.clone(), b.clone(), a.clone()], settings, 1, 3).await;
    assert_eq!(store.conversation(&g, &a).await.unwrap().member_count, 3);
    let too_big = super::new_group(&a, &[b.clone(), c.clone(), d.clone()], settings, 1, 3);
    assert!(matches!(store.create_group(too_big).await, Err(Error::InvalidRequest(_))));
    let too_big = super::new_group(&a, &[b.clone(), c.clone(), d.clone(), "ghost".into()], settings, 1, 4);
    assert!(
        matches!(store.create_group(too_big).await, Err(Error::InvalidRequest(_))),
        "size before existence"
    );
    // Over the limit adds nobody; existing members do not count against it.
    let over = store.add_members(&g, &a, &[b.clone(), d.clone(), e.clone()], 5, 4).await;
    assert!(matches!(over, Err(Error::InvalidRequest(_))));
    assert_eq!(store.conversation(&g, &a).await.unwrap().member_count, 3);
    assert!(!store.member_ids(&g).await.unwrap().contains(&d));
    assert_eq!(
        store.add_members(&g, &a, &[b.clone(), d.clone()], 5, 4).await.unwrap(),
        std::slice::from_ref(&d)
    );
    assert!(matches!(
        store.add_members(&g, &a, std::slice::from_ref(&e), 6, 4).await,
        Err(Error::InvalidRequest(_))
    ));
    assert_eq!(store.conversation(&g, &d).await.unwrap().member_count, 4);
}

pub async fn membership_changes_name_existing_users_in_groups_only(store: SharedStore) {
    let a = user(&store, "lena").await;
    let b = user(&store, "marc").await;
    let c = user(&store, "nils").await;
    let missing = store.create_group(super::new_group(
        &a,
        &[b.clone(), "ghost".into()],
        GroupSettings::default(),
        1,
        5,
    ));
    assert_eq!(missing.await.unwrap_err(), Error::UserNotFound("ghost".into()));
    let invites =
        GroupSettings { only_admins_can_post: false, allow_member_invites: true, retention_days: 0 };
    let g = group(&store, &a, std::slice::from_ref(&b), invites).await;
    let ghost = store.add_members(&g, &b, &[c.clone(), "ghost".into()], 0, 5).await;
    assert_eq!(ghost.unwrap_err(), Error::UserNotFound("ghost".into()));
    assert_eq!(
        store.add_members(&g, &b, std::slice::from_ref(&c), 0, 5).await.unwrap(),
        std::slice::from_ref(&c),
        "invites allowed"
    );
    assert!(
        matches!(store.remove_member(&g, &b, &c).await, Err(Error::Forbidden(_))),
        "invites are not removals"
    );
    assert!(matches!(
        store.add_members("nope", &a, std::slice::from_ref(&c), 0, 5).await,
        Err(Error::ConversationNotFound)
    ));
    let (direct, _) = store.open_direct(&a, &b, new_id(), now_millis()).await.unwrap();
    assert!(matches!(
        store.add_members(&direct, &a, std::slice::from_ref(&c), 0, 5).await,
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(store.remove_member(&direct, &a, &a).await, Err(Error::Forbidden(_))));
    assert_eq!(send(&store, &direct, &b, "still here").await.unwrap(), 1);
}

pub async fn only_admins_post_where_the_group_says_so(store: SharedStore) {
    let admin = user(&store, "olaf").await;
    let m1 = user(&store, "paula").await;
    let m2 = user(&store, "quentin").await;
    let outsider = user(&store, "rolf").await;
    let settings =
        GroupSettings { only_admins_can_post: true, allow_member_invites: false, retention_days: 0 };
    let g = group(&store, &admin, &[m1.clone(), m2.clone()], settings).await;
    assert!(matches!(send(&store, &g, &m1, "hi").await, Err(Error::Forbidden(_))));
    assert!(matches!(send(&store, &g, &outsider, "hi").await, Err(Error::Forbidden(_))));
    assert_eq!(send(&store, &g, &admin, "news").await.unwrap(), 1);
    assert_eq!(send(&store, &g, &admin, "more").await.unwrap(), 2, "refused posts leave no gap");
    assert_eq!(send(&store, "nope", &admin, "hi").await.unwrap_err(), Error::ConversationNotFound);
    // Whoever inherits the admin role inherits the right to post.
    store.remove_member(&g, &admin, &admin).await.unwrap();
    let (heir, other) = if m1 < m2 { (&m1, &m2) } else { (&m2, &m1) };
    assert_eq!(send(&store, &g, heir, "mine now").await.unwrap(), 3);
    assert!(matches!(send(&store, &g, other, "me too").await, Err(Error::Forbidden(_))));
    assert!(
        matches!(send(&store, &g, &admin, "back?").await, Err(Error::Forbidden(_))),
        "former members never post"
    );
}
