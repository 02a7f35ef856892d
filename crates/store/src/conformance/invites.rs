//! Invite codes and API keys. Invite codes: each registration takes one use in the same transaction as the new user, and an
//! invite that is used up, expired, revoked or unknown lets nobody in.

use confab_core::ids::{new_id, now_millis};
use confab_core::store::{InviteRedemption, NewApiKey, NewInvite, NewUser, SharedStore};
use confab_core::Error;

async fn invite(
    store: &SharedStore,
    hash: &str,
    uses: u32,
    expires_at: Option<i64>,
    created_at: i64,
) -> String {
    let id = new_id();
    let new = NewInvite { invite_id: id.clone(), code_hash: hash.into(), uses, expires_at, created_at };
    let stored = store.create_invite(new).await.expect("create invite");
    assert_eq!((stored.uses, stored.uses_left, stored.revoked_at), (uses, uses, None));
    id
}

async fn register(store: &SharedStore, name: &str, hash: &str, at: i64) -> Result<(), Error> {
    store
        .create_user(NewUser {
            user_id: new_id(),
            username: name.into(),
            display_name: name.into(),
            password_hash: Some("hash".into()),
            created_at: at,
            invite: Some(InviteRedemption { code_hash: hash.into(), at }),
        })
        .await
        .map(|_| ())
}

pub async fn invites_let_in_as_many_as_they_allow_until_they_expire_or_are_revoked(store: SharedStore) {
    let now = now_millis();
    let two = invite(&store, "h-two", 2, Some(now + 60_000), now).await;
    register(&store, "inv_a", "h-two", now).await.unwrap();
    // A taken username takes no use.
    assert!(matches!(register(&store, "inv_a", "h-two", now).await, Err(Error::UsernameTaken)));
    register(&store, "inv_b", "h-two", now).await.unwrap();
    assert!(matches!(register(&store, "inv_c", "h-two", now).await, Err(Error::Forbidden(_))));
    assert!(store.credentials("inv_c").await.unwrap().is_none(), "a refused registration writes nothing");

    invite(&store, "h-late", 5, Some(now + 1_000), now + 1).await;
    assert!(
        matches!(register(&store, "inv_d", "h-late", now + 1_000).await, Err(Error::Forbidden(_))),
        "expired"
    );
    assert!(matches!(register(&store, "inv_d", "h-unknown", now).await, Err(Error::Forbidden(_))));
    let open = invite(&store, "h-open", 5, None, now + 2).await;
    let revoked = store.revoke_invite(&open, now + 3).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(now + 3));
    assert_eq!(
        store.revoke_invite(&open, now + 9).await.unwrap().revoked_at,
        Some(now + 3),
        "the first time stays"
    );
    assert!(matches!(register(&store, "inv_d", "h-open", now).await, Err(Error::Forbidden(_))));
    assert!(matches!(store.revoke_invite("nope", now).await, Err(Error::NotFound(_))));

    let listed = store.invites().await.unwrap();
    assert_eq!(
        listed.iter().map(|i| i.invite_id.as_str()).collect::<Vec<_>>()[2],
        two.as_str(),
        "newest first"
    );
    assert_eq!(listed[2].uses_left, 0);
}

pub async fn concurrent_registrations_take_the_last_uses_once(store: SharedStore) {
    let now = now_millis();
    invite(&store, "h-three", 3, None, now).await;
    let attempts = (0..10).map(|i| {
        let store = store.clone();
        tokio::spawn(async move { register(&store, &format!("race_{i}"), "h-three", now).await })
    });
    let mut admitted = 0;
    for a in attempts {
        match a.await.unwrap() {
            Ok(()) => admitted += 1,
            Err(Error::Forbidden(_)) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(admitted, 3);
    assert_eq!(store.invites().await.unwrap()[0].uses_left, 0);
}

/// API keys are found by their hash, listed newest first, and revoked once (the first time stays).
pub async fn api_keys_are_found_by_hash_listed_and_revoked(store: SharedStore) {
    let now = now_millis();
    let key = |id: &str, hash: &str, at: i64| NewApiKey {
        key_id: id.into(),
        name: format!("app {id}"),
        key_hash: hash.into(),
        created_at: at,
    };
    let first = store.create_api_key(key("k1", "hash-1", now)).await.unwrap();
    assert_eq!((first.name.as_str(), first.revoked_at), ("app k1", None));
    store.create_api_key(key("k2", "hash-2", now + 1)).await.unwrap();
    assert!(store.create_api_key(key("k3", "hash-1", now + 2)).await.is_err(), "a hash is stored once");
    let listed: Vec<String> = store.api_keys().await.unwrap().into_iter().map(|k| k.key_id).collect();
    assert_eq!(listed, ["k2", "k1"]);
    assert_eq!(store.api_key_by_hash("hash-2").await.unwrap().map(|k| k.key_id).as_deref(), Some("k2"));
    assert_eq!(store.api_key_by_hash("hash-9").await.unwrap(), None);

    assert_eq!(store.revoke_api_key("k1", now + 5).await.unwrap().revoked_at, Some(now + 5));
    assert_eq!(
        store.revoke_api_key("k1", now + 9).await.unwrap().revoked_at,
        Some(now + 5),
        "first time stays"
    );
    assert_eq!(store.api_key_by_hash("hash-1").await.unwrap().and_then(|k| k.revoked_at), Some(now + 5));
    assert!(matches!(store.revoke_api_key("nope", now).await, Err(Error::NotFound(_))));
}
