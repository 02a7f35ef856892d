//! Message changes in a cluster of `confab` processes on PostgreSQL and Redis: a change made on one
//! node reaches devices on another, a sync through a third agrees, and users on every node
//! reacting to one message at once are all counted.

use confab_client::{Client, Connection, Timeline};
use confab_proto::{PresenceStatus, ServerFrame, SyncCursor, SyncRequest};

use crate::harness::*;
use crate::lifecycle::next_update;
use crate::services::*;

/// Waits until `watcher` has seen `user` online: from then on the cluster routes to them.
async fn wait_online(watcher: &mut Connection, user: &str) {
    watcher
        .wait_for(WAIT, &format!("{user} online"), |f| match &f.frame {
            ServerFrame::PresenceUpdate(p) if p.user_id == user && p.status == PresenceStatus::Online => {
                Some(())
            }
            ServerFrame::PresenceBulk(b)
                if b.presences.iter().any(|p| p.user_id == user && p.status == PresenceStatus::Online) =>
            {
                Some(())
            }
            _ => None,
        })
        .await
        .expect("presence reaches the watcher");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_node_reaches_another_and_a_third_agrees() {
    if !available().await {
        return;
    }
    let iso = Isolation::shared();
    let (_dir, path) = temp_path();
    let nodes: Vec<ServerProcess> =
        (0..3).map(|i| ServerProcess::spawn_with(&path.join(format!("node{i}")), &iso.args())).collect();
    let alice = register(&nodes[0].url, "alice").await;
    let fans = register_many(&nodes[1].url, "fan", 9).await;
    let mut ids: Vec<String> = fans.iter().map(|f| f.id.clone()).collect();
    let bob = register(&nodes[2].url, "bob").await;
    ids.push(bob.id.clone());
    let group = alice.api.create_group("spread", &ids, None).await.unwrap().conversation_id;
    alice.api.send_message(&group, Some("m1"), text("first")).await.unwrap();
    alice.api.send_message(&group, Some("m2"), text("second")).await.unwrap();

    // Bob's phone on node 3 starts from a sync, then listens.
    let mut phone = Connection::connect(&nodes[2].url, &bob.token, "phone").await.unwrap();
    let mut timeline = Timeline::new();
    let start = bob
        .api
        .sync(&SyncRequest {
            conversations: vec![SyncCursor::with_updates(group.clone(), 0, 0)],
            limit: None,
        })
        .await
        .unwrap();
    timeline.apply_sync(&start);
    let mut editor = Connection::connect(&nodes[0].url, &alice.token, "laptop").await.unwrap();
    wait_online(&mut editor, &bob.id).await;

    // An edit on node 1 reaches the device on node 3.
    let edited = editor.edit(&group, "m1", text("first, edited on node 1")).await.unwrap();
    let got = next_update(&mut phone).await;
    assert_eq!(got, edited);
    timeline.apply_frame(&ServerFrame::MessageUpdated(confab_proto::frames::MessageUpdatedPayload {
        message: got,
    }));

    // Fans on all three nodes react to m2 at once; every reaction is counted once.
    let tasks: Vec<_> = fans
        .iter()
        .enumerate()
        .map(|(i, fan)| {
            let (url, token, group) = (nodes[i % 3].url.clone(), fan.token.clone(), group.clone());
            tokio::spawn(async move {
                let mut conn = Connection::connect(&url, &token, "d").await.unwrap();
                conn.react(&group, "m2", "🙌", true).await.unwrap().update_sequence
            })
        })
        .collect();
    let mut taken = Vec::new();
    for task in tasks {
        taken.push(task.await.unwrap());
    }
    taken.sort_unstable();
    assert_eq!(taken, (2..=10).collect::<Vec<u64>>(), "gapless across nodes");
    editor.delete(&group, "m2").await.unwrap();

    // The phone applies what it is sent until it has every change.
    while timeline.conversation(&group).map(|c| c.last_update_sequence) != Some(11) {
        let frame = phone.next_frame().await.unwrap().frame;
        timeline.apply_frame(&frame);
    }
    // A device syncing through node 2 from the start state agrees with it, and so does history.
    let mut tablet = Timeline::new();
    tablet.apply_sync(&start);
    let via_node2 = Client::new(&nodes[1].url).with_token(&bob.token);
    let resumed =
        via_node2.sync(&SyncRequest { conversations: tablet.cursors(), limit: None }).await.unwrap();
    tablet.apply_sync(&resumed);
    assert_eq!(tablet.conversation(&group), timeline.conversation(&group));
    let held = &timeline.conversation(&group).unwrap().messages;
    assert_eq!(held[&1].content, confab_proto::Content::Text { text: "first, edited on node 1".into() });
    assert_eq!(held[&2].deleted, Some(true));
    let history = all_messages(&via_node2, &group).await;
    assert_eq!(history, held.values().cloned().collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_sweeps_yet_each_expired_message_is_erased_and_announced_once() {
    if !available().await {
        return;
    }
    let iso = Isolation::shared();
    let (_dir, path) = temp_path();
    let mut args = iso.args();
    args.extend(["--sweep-interval-ms".to_string(), "100".to_string()]);
    let nodes: Vec<ServerProcess> =
        (0..3).map(|i| ServerProcess::spawn_with(&path.join(format!("node{i}")), &args)).collect();
    let alice = register(&nodes[0].url, "alice").await;
    let bob = register(&nodes[1].url, "bob").await;
    let carol = register(&nodes[2].url, "carol").await;
    let group = alice.api.create_group("brief", &[bob.id.clone(), carol.id.clone()], None).await.unwrap();
    let id = group.conversation_id;
    let mut bob_ws = Connection::connect(&nodes[1].url, &bob.token, "phone").await.unwrap();
    let mut carol_ws = Connection::connect(&nodes[2].url, &carol.token, "phone").await.unwrap();
    wait_online(&mut bob_ws, &carol.id).await;
    wait_online(&mut carol_ws, &bob.id).await;

    for i in 0..5 {
        alice.api.send_expiring(&id, Some(&format!("gone-{i}")), text("soon gone"), 1).await.unwrap();
    }
    // Three nodes sweep every 100 ms; each tombstone takes one update sequence and is announced
    // once: the five updates each device gets are 1..=5, no more.
    for device in [&mut bob_ws, &mut carol_ws] {
        let mut seen = Vec::new();
        while seen.len() < 5 {
            let m = next_update(device).await;
            assert!(m.is_deleted());
            seen.push(m.update_sequence);
        }
        seen.sort_unstable();
        assert_eq!(seen, [1, 2, 3, 4, 5]);
    }
    let view = carol.api.conversation(&id).await.unwrap();
    assert_eq!((view.last_update_sequence, view.last_sequence), (5, 5));
    // No second announcement: after the five, the next frame about a message is the new one.
    alice.api.send_message(&id, Some("after"), text("stays")).await.unwrap();
    let next = bob_ws
        .wait_for(WAIT, "the next frame about a message", |f| match &f.frame {
            ServerFrame::MessageNew(m) if m.message_id == "after" => Some(m.message_id.clone()),
            ServerFrame::MessageUpdated(u) => Some(format!("updated {}", u.message.message_id)),
            _ => None,
        })
        .await
        .unwrap();
    assert_eq!(next, "after");
}
