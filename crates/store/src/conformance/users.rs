//! Users, presence data and settings.

use confab_core::ids::new_id;
use confab_core::store::{NewUser, SharedStore};
use confab_core::Error;
use confab_proto::GroupSettings;

use super::{group, user};

pub async fn users_are_unique_and_searchable(store: SharedStore) {
    let alice = user(&store, "alice").await;
    user(&store, "alfred").await;
    user(&store, "bob").await;
    let dup = store
        .create_user(NewUser {
            user_id: new_id(),
            username: "alice".into(),
            display_name: "x".into(),
            password_hash: None,
            created_at: 0,
            invite: None,
        })
        .await;
    assert_eq!(dup.unwrap_err(), Error::UsernameTaken);
    let creds = store.credentials("alice").await.unwrap().expect("alice exists");
    assert_eq!(creds.user.user_id, alice);
    assert_eq!(creds.password_hash.as_deref(), Some("hash"));
    let found: Vec<_> = store.search_users("al", 10).await.unwrap().into_iter().map(|u| u.username).collect();
    assert_eq!(found, ["alfred", "alice"]);
    assert!(store.user("nobody").await.unwrap().is_none());
}

pub async fn presence_data(store: SharedStore) {
    let a = user(&store, "uma").await;
    let b = user(&store, "vic").await;
    let c = user(&store, "walt").await;
    let x = user(&store, "xena").await;
    store.open_direct(&a, &b, new_id(), 0).await.unwrap();
    group(&store, &a, &[b.clone(), c.clone()], GroupSettings::default()).await;
    let mut contacts = store.contacts_of(&a, 10).await.unwrap();
    contacts.sort();
    let mut expected = vec![b.clone(), c.clone()];
    expected.sort();
    assert_eq!(contacts, expected);
    assert_eq!(store.contacts_of(&a, 1).await.unwrap().len(), 1);
    let asked = [x.clone(), c.clone(), a.clone(), "ghost".into(), b.clone(), c.clone()];
    assert_eq!(
        store.contacts_among(&a, &asked).await.unwrap(),
        [c.clone(), b.clone()],
        "contacts only, each once, in the order asked; not the user, not strangers or unknown ids"
    );
    assert_eq!(store.contacts_among(&x, &[a.clone(), b.clone()]).await.unwrap(), Vec::<String>::new());
    assert_eq!(store.contacts_among(&a, &[]).await.unwrap(), Vec::<String>::new());
    // Leaving the last shared conversation ends the contact; another shared one keeps it.
    let g = group(&store, &a, std::slice::from_ref(&x), GroupSettings::default()).await;
    let just_a = std::slice::from_ref(&a);
    assert_eq!(store.contacts_among(&x, just_a).await.unwrap(), just_a);
    store.remove_member(&g, &x, &x).await.unwrap();
    assert_eq!(store.contacts_among(&x, just_a).await.unwrap(), Vec::<String>::new());
    store.touch_last_seen(&a, 500).await.unwrap();
    store.touch_last_seen(&a, 400).await.unwrap();
    let seen = store.last_seen(&[a.clone(), b.clone(), "ghost".into()]).await.unwrap();
    assert_eq!(seen, [(a.clone(), Some(500)), (b.clone(), None)]);
    let seen = store.last_seen(&[b.clone(), "ghost".into(), a.clone()]).await.unwrap();
    assert_eq!(seen, [(b.clone(), None), (a.clone(), Some(500))], "answers follow the request");
}

pub async fn last_seen_visibility_is_kept(store: SharedStore) {
    let a = user(&store, "alice").await;
    let b = user(&store, "bob").await;
    assert!(store.show_last_seen(&a).await.unwrap(), "shown unless turned off");
    let everyone = [a.clone(), b.clone(), "ghost".into()];
    assert_eq!(store.hiding_last_seen(&everyone).await.unwrap(), Vec::<String>::new());
    store.set_show_last_seen(&b, false).await.unwrap();
    assert!(!store.show_last_seen(&b).await.unwrap());
    assert!(store.show_last_seen(&a).await.unwrap(), "one user's setting only");
    assert_eq!(store.hiding_last_seen(&everyone).await.unwrap(), std::slice::from_ref(&b));
    assert_eq!(store.hiding_last_seen(&[]).await.unwrap(), Vec::<String>::new());
    store.set_show_last_seen(&b, true).await.unwrap();
    assert!(store.show_last_seen(&b).await.unwrap());
    assert_eq!(store.hiding_last_seen(&everyone).await.unwrap(), Vec::<String>::new());
    assert!(matches!(store.show_last_seen("ghost").await, Err(Error::UserNotFound(_))));
    assert!(matches!(store.set_show_last_seen("ghost", false).await, Err(Error::UserNotFound(_))));
}

pub async fn settings_keep_the_first_value(store: SharedStore) {
    assert_eq!(store.setting_or_init("secret", "one").await.unwrap(), "one");
    assert_eq!(store.setting_or_init("secret", "two").await.unwrap(), "one");
    store.ping().await.unwrap();
}
