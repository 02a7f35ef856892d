//! Revoked sessions, cutoffs, and the profile and password changes that go with them.

use confab_core::store::{Revocations, SessionCutoff, SharedStore};
use confab_core::Error;

use super::user;

pub async fn sessions_are_revoked_one_by_one_until_they_expire(store: SharedStore) {
    let alice = user(&store, "alice").await;
    let bob = user(&store, "bob").await;
    assert_eq!(store.revocations(&alice, 1_000).await.unwrap(), Revocations::default());
    store.revoke_session(&alice, "s1", 5_000).await.unwrap();
    store.revoke_session(&alice, "s1", 5_000).await.unwrap();
    store.revoke_session(&alice, "s2", 2_000).await.unwrap();
    let mut revoked = store.revocations(&alice, 1_000).await.unwrap().sessions;
    revoked.sort();
    assert_eq!(revoked, ["s1", "s2"], "idempotent, one record per session");
    assert_eq!(store.revocations(&alice, 3_000).await.unwrap().sessions, ["s1"], "s2 expired");
    assert!(store.revocations(&bob, 1_000).await.unwrap().sessions.is_empty(), "per user");
    assert_eq!(store.purge_revoked_sessions(3_000).await.unwrap(), 1);
    assert_eq!(store.purge_revoked_sessions(3_000).await.unwrap(), 0);
    assert_eq!(store.revocations(&alice, 1_000).await.unwrap().sessions, ["s1"], "only s2 was purged");
}

pub async fn cutoffs_never_move_backwards(store: SharedStore) {
    let alice = user(&store, "alice").await;
    store.revoke_sessions_before(&alice, 100, None).await.unwrap();
    let cutoff =
        |before, kept: Option<&str>| Some(SessionCutoff { before, kept_session: kept.map(String::from) });
    assert_eq!(store.revocations(&alice, 0).await.unwrap().cutoff, cutoff(100, None));
    store.revoke_sessions_before(&alice, 200, Some("kept")).await.unwrap();
    assert_eq!(store.revocations(&alice, 0).await.unwrap().cutoff, cutoff(200, Some("kept")));
    store.revoke_sessions_before(&alice, 150, None).await.unwrap();
    assert_eq!(
        store.revocations(&alice, 0).await.unwrap().cutoff,
        cutoff(200, Some("kept")),
        "earlier: ignored"
    );
    store.revoke_sessions_before(&alice, 200, None).await.unwrap();
    assert_eq!(store.revocations(&alice, 0).await.unwrap().cutoff, cutoff(200, None), "equal: replaces");
}

pub async fn password_and_display_name_changes(store: SharedStore) {
    let alice = user(&store, "alice").await;
    let renamed = store.set_display_name(&alice, "Alice Liddell").await.unwrap();
    assert_eq!((renamed.user_id.as_str(), renamed.display_name.as_str()), (alice.as_str(), "Alice Liddell"));
    assert_eq!(store.user(&alice).await.unwrap().unwrap().display_name, "Alice Liddell");
    assert!(matches!(store.set_display_name("nobody", "X").await, Err(Error::UserNotFound(_))));

    store.set_password(&alice, "new-hash", 500, Some("mine")).await.unwrap();
    let creds = store.credentials("alice").await.unwrap().unwrap();
    assert_eq!(creds.password_hash.as_deref(), Some("new-hash"));
    let cutoff = store.revocations(&alice, 0).await.unwrap().cutoff.unwrap();
    assert_eq!((cutoff.before, cutoff.kept_session.as_deref()), (500, Some("mine")));
    assert!(matches!(store.set_password("nobody", "h", 600, None).await, Err(Error::UserNotFound(_))));
    assert!(
        store.revocations("nobody", 0).await.unwrap().cutoff.is_none(),
        "a failed change revokes nothing"
    );
}
