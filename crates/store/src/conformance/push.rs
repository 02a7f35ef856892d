//! Push notifications: subscriptions, mutes, and pending pushes (who gets one, coalescing, one
//! claimant at a time, leases that run out).

use confab_core::ids::{new_id, now_millis};
use confab_core::lifecycle::{Actor, ChangeKind, MessageChange, MessageTarget};
use confab_core::push::{DuePush, PushClaim, PushDone, StoredPushSubscription};
use confab_core::rules::push::MUTED_FOREVER;
use confab_core::store::{NewMessage, SharedStore};
use confab_core::Error;
use confab_proto::{Content, GroupSettings, PushKind, PushSubscription};

use super::{group, send, user};

const WINDOW: i64 = 3000;
const LEASE: i64 = 30_000;

pub(crate) async fn subscribe(
    store: &SharedStore,
    user: &str,
    device: &str,
    kind: PushKind,
) -> PushSubscription {
    let webpush = kind == PushKind::WebPush;
    store
        .put_push_subscription(StoredPushSubscription {
            subscription: PushSubscription {
                subscription_id: new_id(),
                device_id: device.to_string(),
                kind,
                created_at: now_millis(),
            },
            user_id: user.to_string(),
            endpoint: webpush.then(|| format!("https://push.example/{device}")),
            p256dh: webpush.then(|| "BPk".into()),
            auth: webpush.then(|| "YXV0aA".into()),
            token: (kind == PushKind::Fcm || kind == PushKind::Apns).then(|| format!("tok-{device}")),
        })
        .await
        .expect("subscribe")
}

fn claim_at(node: &str, now: i64) -> PushClaim {
    PushClaim { node: node.into(), now, lease_ms: LEASE, coalesce_ms: WINDOW, limit: 100 }
}

fn done(node: &str, push: &DuePush, sent: bool, now: i64) -> PushDone {
    PushDone {
        node: node.into(),
        user_id: push.user_id.clone(),
        device_id: push.device_id.clone(),
        conversation_id: push.conversation_id.clone(),
        count: push.count,
        sent,
        now,
        coalesce_ms: WINDOW,
    }
}

fn targets(pushes: &[DuePush]) -> Vec<(String, String, u32)> {
    let mut t: Vec<_> = pushes.iter().map(|p| (p.user_id.clone(), p.device_id.clone(), p.count)).collect();
    t.sort();
    t
}

pub async fn push_subscriptions_are_one_per_device_and_kind_and_private(store: SharedStore) {
    let (ann, ben) = (user(&store, "ann").await, user(&store, "ben").await);
    let first = subscribe(&store, &ann, "phone", PushKind::Fcm).await;
    let web = subscribe(&store, &ann, "laptop", PushKind::WebPush).await;
    let again = subscribe(&store, &ann, "phone", PushKind::Fcm).await;
    let listed = store.push_subscriptions(&ann).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|s| s.subscription_id.as_str()).collect();
    assert_eq!(ids.len(), 2, "a new subscription of a device and kind replaces the old: {ids:?}");
    assert!(ids.contains(&web.subscription_id.as_str()) && ids.contains(&again.subscription_id.as_str()));
    assert!(!ids.contains(&first.subscription_id.as_str()));
    assert!(store.push_subscriptions(&ben).await.unwrap().is_empty());
    // Nobody deletes another's subscription, and deleting twice finds nothing.
    let err = store.delete_push_subscription(&ben, &web.subscription_id).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    store.delete_push_subscription(&ann, &web.subscription_id).await.unwrap();
    assert!(matches!(
        store.delete_push_subscription(&ann, &web.subscription_id).await,
        Err(Error::NotFound(_))
    ));
    store.forget_push_subscription(&again.subscription_id).await.unwrap();
    store.forget_push_subscription(&again.subscription_id).await.unwrap();
    assert!(store.push_subscriptions(&ann).await.unwrap().is_empty());
    // A user holds a bounded number, however many devices they claim; replacing one is fine.
    let cap = confab_core::rules::push::MAX_SUBSCRIPTIONS_PER_USER;
    for i in 0..cap {
        subscribe(&store, &ben, &format!("d{i}"), PushKind::Webhook).await;
    }
    subscribe(&store, &ben, "d0", PushKind::Webhook).await;
    let over = StoredPushSubscription {
        subscription: PushSubscription {
            subscription_id: new_id(),
            device_id: "one-too-many".into(),
            kind: PushKind::Webhook,
            created_at: now_millis(),
        },
        user_id: ben.clone(),
        endpoint: None,
        p256dh: None,
        auth: None,
        token: None,
    };
    let err = store.put_push_subscription(over).await.unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
    assert_eq!(store.push_subscriptions(&ben).await.unwrap().len(), cap as usize);
}

pub async fn messages_are_pushed_to_other_members_subscribed_devices(store: SharedStore) {
    let (ann, ben, cat) = (user(&store, "ann").await, user(&store, "ben").await, user(&store, "cat").await);
    subscribe(&store, &ann, "ann-phone", PushKind::Apns).await;
    subscribe(&store, &ben, "ben-phone", PushKind::Fcm).await;
    subscribe(&store, &ben, "ben-laptop", PushKind::WebPush).await;
    subscribe(&store, &ben, "ben-laptop", PushKind::Webhook).await;
    let g = group(&store, &ann, &[ben.clone(), cat.clone()], GroupSettings::default()).await;
    let seq = send(&store, &g, &ann, "hello").await.unwrap();
    let now = now_millis();
    let pushes = store.claim_pushes(claim_at("n1", now)).await.unwrap();
    // Never the sender's own devices; cat has none; one push per device, whatever its kinds.
    assert_eq!(
        targets(&pushes),
        vec![(ben.clone(), "ben-laptop".into(), 1), (ben.clone(), "ben-phone".into(), 1)]
    );
    let laptop = pushes.iter().find(|p| p.device_id == "ben-laptop").unwrap();
    let kinds: Vec<PushKind> = laptop.subscriptions.iter().map(|s| s.kind()).collect();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert!(kinds.contains(&PushKind::WebPush) && kinds.contains(&PushKind::Webhook));
    let web = laptop.subscriptions.iter().find(|s| s.kind() == PushKind::WebPush).unwrap();
    assert_eq!(web.endpoint.as_deref(), Some("https://push.example/ben-laptop"));
    assert_eq!((laptop.sequence_number, laptop.sender_id.as_str()), (seq, ann.as_str()));
    assert_eq!((laptop.sender_name.as_str(), laptop.text.as_deref()), ("ANN", Some("hello")));
    assert_eq!(laptop.group_name.as_deref(), Some("team"));
    assert_eq!(laptop.unread, 1);
    // Claimed pushes are nobody else's until their lease runs out.
    assert!(store.claim_pushes(claim_at("n2", now)).await.unwrap().is_empty());
}

pub async fn pushes_coalesce_per_device_and_conversation(store: SharedStore) {
    let (ann, ben) = (user(&store, "ann").await, user(&store, "ben").await);
    subscribe(&store, &ben, "ben-phone", PushKind::Fcm).await;
    let (g, _) = store.open_direct(&ann, &ben, new_id(), now_millis()).await.unwrap();
    send(&store, &g, &ann, "one").await.unwrap();
    let t0 = now_millis();
    let first = store.claim_pushes(claim_at("n1", t0)).await.unwrap();
    assert_eq!(targets(&first), vec![(ben.clone(), "ben-phone".into(), 1)], "the first goes at once");
    assert_eq!(first[0].group_name, None, "a direct conversation has no group name");
    store.finish_push(done("n1", &first[0], true, t0)).await.unwrap();
    for t in ["two", "three", "four"] {
        send(&store, &g, &ann, t).await.unwrap();
    }
    // Within the window after the last push nothing is due; at its end one push carries all three.
    assert!(store.claim_pushes(claim_at("n1", t0 + 1)).await.unwrap().is_empty());
    assert!(store.claim_pushes(claim_at("n1", t0 + WINDOW - 1)).await.unwrap().is_empty());
    let batch = store.claim_pushes(claim_at("n1", t0 + WINDOW)).await.unwrap();
    assert_eq!(targets(&batch), vec![(ben.clone(), "ben-phone".into(), 3)]);
    assert_eq!(batch[0].text.as_deref(), Some("four"), "the newest message of the batch");
    store.finish_push(done("n1", &batch[0], true, t0 + WINDOW)).await.unwrap();
    // After a quiet window, the next message goes at once again.
    send(&store, &g, &ann, "later").await.unwrap();
    let later = t0 + 3 * WINDOW;
    let again = store.claim_pushes(claim_at("n1", later)).await.unwrap();
    assert_eq!(targets(&again), vec![(ben.clone(), "ben-phone".into(), 1)]);
    // A device that was live is not pushed: the push ends without starting a window.
    store.finish_push(done("n1", &again[0], false, later)).await.unwrap();
    send(&store, &g, &ann, "next").await.unwrap();
    assert_eq!(targets(&store.claim_pushes(claim_at("n1", later + 1)).await.unwrap()).len(), 1);
}

pub async fn muted_members_and_deleted_messages_are_not_pushed(store: SharedStore) {
    let (ann, ben, cat) = (user(&store, "ann").await, user(&store, "ben").await, user(&store, "cat").await);
    subscribe(&store, &ben, "ben-phone", PushKind::Fcm).await;
    subscribe(&store, &cat, "cat-phone", PushKind::Apns).await;
    let g = group(&store, &ann, &[ben.clone(), cat.clone()], GroupSettings::default()).await;
    let now = now_millis();
    store.set_muted(&g, &ben, Some(MUTED_FOREVER)).await.unwrap();
    store.set_muted(&g, &cat, Some(now + 60_000)).await.unwrap();
    let view = store.conversation(&g, &ben).await.unwrap();
    assert_eq!((view.muted, view.muted_until), (true, None));
    let view = store.conversation(&g, &cat).await.unwrap();
    assert_eq!((view.muted, view.muted_until), (true, Some(now + 60_000)));
    assert!(!store.conversation(&g, &ann).await.unwrap().muted);
    send(&store, &g, &ann, "quiet").await.unwrap();
    assert!(store.claim_pushes(claim_at("n1", now)).await.unwrap().is_empty(), "both muted");
    // Cat's mute ends by itself; Ben unmutes.
    send(&store, &g, &ann, "after cat's mute").await.unwrap();
    let pushes = store.claim_pushes(claim_at("n1", now + 60_000)).await.unwrap();
    assert_eq!(targets(&pushes), vec![(cat.clone(), "cat-phone".into(), 1)]);
    store.finish_push(done("n1", &pushes[0], true, now + 60_000)).await.unwrap();
    store.set_muted(&g, &ben, None).await.unwrap();
    assert!(!store.conversation(&g, &ben).await.unwrap().muted);
    // A message deleted before it was pushed is not pushed.
    let oops = NewMessage::new("oops".into(), g.clone(), ann.clone(), Content::Text { text: "oops".into() });
    store.append(oops, None).await.unwrap();
    let change = MessageChange {
        conversation_id: g.clone(),
        target: MessageTarget::id("oops"),
        actor: Actor::User(ann.clone()),
        kind: ChangeKind::Delete,
        at: now_millis(),
    };
    store.change_message(change).await.unwrap();
    assert!(store.claim_pushes(claim_at("n1", now + 120_000)).await.unwrap().is_empty());
    // Only members mute.
    let outsider = user(&store, "dan").await;
    assert!(store.set_muted(&g, &outsider, Some(MUTED_FOREVER)).await.is_err());
}

pub async fn a_claim_whose_lease_ran_out_goes_to_another_node(store: SharedStore) {
    let (ann, ben) = (user(&store, "ann").await, user(&store, "ben").await);
    subscribe(&store, &ben, "ben-phone", PushKind::Fcm).await;
    let g = group(&store, &ann, std::slice::from_ref(&ben), GroupSettings::default()).await;
    send(&store, &g, &ann, "hi").await.unwrap();
    let now = now_millis();
    let held = store.claim_pushes(claim_at("n1", now)).await.unwrap();
    assert_eq!(held.len(), 1);
    // n1 died holding it: n2 gets it when the lease is over, not before.
    assert!(store.claim_pushes(claim_at("n2", now + LEASE - 1)).await.unwrap().is_empty());
    let taken = store.claim_pushes(claim_at("n2", now + LEASE)).await.unwrap();
    assert_eq!(targets(&taken), targets(&held));
    // n1's late finish changes nothing: the push is n2's.
    store.finish_push(done("n1", &held[0], true, now + LEASE)).await.unwrap();
    assert!(store.claim_pushes(claim_at("n3", now + 2 * LEASE - 1)).await.unwrap().is_empty());
    store.finish_push(done("n2", &taken[0], true, now + LEASE)).await.unwrap();
    assert!(store.claim_pushes(claim_at("n3", now + 3 * LEASE)).await.unwrap().is_empty(), "sent once");
}

pub async fn concurrent_claimants_take_each_push_once(store: SharedStore) {
    let ann = user(&store, "ann").await;
    let mut members = Vec::new();
    for i in 0..4 {
        let u = user(&store, &format!("m{i}")).await;
        subscribe(&store, &u, &format!("d{i}"), PushKind::Webhook).await;
        members.push(u);
    }
    let g = group(&store, &ann, &members, GroupSettings::default()).await;
    for i in 0..10 {
        send(&store, &g, &ann, &format!("m{i}")).await.unwrap();
    }
    let now = now_millis();
    let claims = (0..4).map(|n| {
        let store = store.clone();
        tokio::spawn(async move {
            let node = format!("n{n}");
            let mut c = claim_at(&node, now);
            c.limit = 1;
            let mut all = Vec::new();
            loop {
                let got = store.claim_pushes(c.clone()).await.expect("claim");
                if got.is_empty() {
                    return all;
                }
                all.extend(got.into_iter().map(|p| (node.clone(), p)));
            }
        })
    });
    let mut taken = Vec::new();
    for c in claims {
        taken.extend(c.await.unwrap());
    }
    let mut devices: Vec<&str> = taken.iter().map(|(_, p)| p.device_id.as_str()).collect();
    devices.sort();
    assert_eq!(devices, ["d0", "d1", "d2", "d3"], "each device's push once");
    // Messages expanded while a push was held wait for the next: none is lost or counted twice.
    let first: u32 = taken.iter().map(|(_, p)| p.count).sum();
    for (node, p) in &taken {
        store.finish_push(done(node, p, true, now)).await.unwrap();
    }
    let mut rest = 0;
    loop {
        let got = store.claim_pushes(claim_at("n9", now + WINDOW)).await.unwrap();
        if got.is_empty() {
            break;
        }
        for p in &got {
            rest += p.count;
            store.finish_push(done("n9", p, true, now + WINDOW)).await.unwrap();
        }
    }
    assert_eq!(first + rest, 40, "four devices, ten messages each");
}
