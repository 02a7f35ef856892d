//! Several `confab` processes on PostgreSQL and Redis behaving as one server, and what happens when
//! a node, Redis or PostgreSQL goes away.

use std::collections::HashMap;
use std::time::Duration;

use confab_client::{Client, ClientError, Connection};
use confab_proto::frames::{ConversationRef, PresenceSubscribePayload, SendPayload};
use confab_proto::{ClientFrame, ErrorCode, PresenceStatus, ServerFrame, SyncCursor, SyncRequest};
use reqwest::Method;

use crate::harness::*;
use crate::messaging::collect_new;
use crate::services::*;

fn start_nodes(n: usize, extra: &[String], dir: &std::path::Path) -> Vec<ServerProcess> {
    (0..n).map(|i| ServerProcess::spawn_with(&dir.join(format!("node{i}")), extra)).collect()
}

/// Sends `n` messages to `gid` without waiting between them (ids `{prefix}-{i}`), then awaits
/// every acknowledgement; their sequence numbers, in sending order.
async fn send_burst(conn: &mut Connection, gid: &str, prefix: &str, n: usize) -> Vec<u64> {
    let mut rids = Vec::new();
    for i in 0..n {
        let frame = ClientFrame::MessageSend(SendPayload {
            message_id: Some(format!("{prefix}-{i}")),
            conversation_id: gid.to_string(),
            content: text("x"),
            reply_to: None,
            expires_in_seconds: None,
        });
        rids.push(conn.send(frame).await.unwrap());
    }
    let mut seqs = Vec::new();
    for rid in rids {
        match conn.reply_to(&rid).await.unwrap().frame {
            ServerFrame::MessageAck(a) => seqs.push(a.sequence_number),
            other => panic!("expected an ack, got {other:?}"),
        }
    }
    seqs
}

/// Waits until `watcher` has seen `user` as `status` (the cluster has registered the change).
async fn wait_presence(watcher: &mut Connection, user: &str, status: PresenceStatus) {
    watcher
        .wait_for(WAIT, &format!("{user} {status:?}"), |f| match &f.frame {
            ServerFrame::PresenceUpdate(p) if p.user_id == user && p.status == status => Some(()),
            ServerFrame::PresenceBulk(b)
                if b.presences.iter().any(|p| p.user_id == user && p.status == status) =>
            {
                Some(())
            }
            _ => None,
        })
        .await
        .expect("presence reaches the watcher");
}

/// Waits until `watcher` has seen every one of `users` as `status`, from bulk and update frames.
async fn wait_all_presence(watcher: &mut Connection, users: &[String], status: PresenceStatus) {
    let mut known: HashMap<String, PresenceStatus> = HashMap::new();
    watcher
        .wait_for(WAIT, "every user's presence", |f| {
            match &f.frame {
                ServerFrame::PresenceBulk(b) => {
                    known.extend(b.presences.iter().map(|p| (p.user_id.clone(), p.status)))
                }
                ServerFrame::PresenceUpdate(p) => {
                    known.insert(p.user_id.clone(), p.status);
                }
                _ => {}
            }
            users.iter().all(|u| known.get(u) == Some(&status)).then_some(())
        })
        .await
        .expect("presence reaches the watcher");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_chat_as_one_server() {
    if !available().await {
        return;
    }
    let iso = Isolation::shared();
    let (_dir, path) = temp_path();
    let nodes = start_nodes(3, &iso.args(), &path);
    // Registering on any node works on every node (one database, one JWT secret).
    let mut users = Vec::new();
    for i in 0..6 {
        users.push(register(&nodes[i % 3].url, &format!("user{i}")).await);
    }
    let me = Client::new(&nodes[2].url).with_token(&users[0].token).me().await.unwrap().user;
    assert_eq!(me.user_id, users[0].id, "a token from node 0 works on node 2");

    let ids: Vec<String> = users[1..].iter().map(|u| u.id.clone()).collect();
    let gid = users[0].api.create_group("spread", &ids, None).await.unwrap().conversation_id;
    let (direct, _) = users[0].api.open_direct(&users[1].id).await.unwrap();

    // Member i is connected to node i % 3; node 0's first member watches everyone come online,
    // which is when the cluster routes to them.
    let mut conns = Vec::new();
    for (i, u) in users.iter().enumerate() {
        conns.push(Connection::connect(&nodes[i % 3].url, &u.token, "d").await.unwrap());
    }
    let others: Vec<String> = users[1..].iter().map(|u| u.id.clone()).collect();
    wait_all_presence(&mut conns[0], &others, PresenceStatus::Online).await;

    // 1:1 across nodes.
    let a = conns[0].send_text(&direct.conversation_id, "d1", "node0 → node1").await.unwrap();
    let got = collect_new(&mut conns[1], 1).await;
    assert_eq!((got[0].message_id.as_str(), got[0].sequence_number), ("d1", a.sequence_number));
    conns[1].send_text(&direct.conversation_id, "d2", "node1 → node0").await.unwrap();
    assert_eq!(collect_new(&mut conns[0], 1).await[0].message_id, "d2");

    // Group across all three nodes: every member gets every other member's message exactly once,
    // and in the same order once placed by sequence number, as every client does (frames that
    // travel through different nodes may arrive in a different order).
    for (i, conn) in conns.iter_mut().enumerate() {
        conn.send_text(&gid, &format!("g{i}"), &format!("from node {}", i % 3)).await.unwrap();
    }
    for (i, conn) in conns.iter_mut().enumerate() {
        let mut got: Vec<(u64, String)> = collect_new(conn, 5)
            .await
            .into_iter()
            .filter(|m| m.conversation_id == gid)
            .map(|m| (m.sequence_number, m.message_id))
            .collect();
        got.sort();
        let expected: Vec<(u64, String)> =
            (0..6).filter(|j| *j != i).map(|j| (j as u64 + 1, format!("g{j}"))).collect();
        assert_eq!(got, expected, "member {i} on node {}", i % 3);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_senders_over_three_nodes_stay_gapless() {
    if !available().await {
        return;
    }
    let iso = Isolation::shared();
    let (_dir, path) = temp_path();
    let nodes = start_nodes(3, &iso.args(), &path);
    let users = register_many(&nodes[0].url, "sender", 31).await;
    let ids: Vec<String> = users[1..].iter().map(|u| u.id.clone()).collect();
    let gid = users[0].api.create_group("busy", &ids, None).await.unwrap().conversation_id;
    let mut tasks = Vec::new();
    for (s, user) in users[1..].iter().enumerate() {
        let mut conn = Connection::connect(&nodes[s % 3].url, &user.token, "d").await.unwrap();
        let gid = gid.clone();
        tasks.push(tokio::spawn(async move { send_burst(&mut conn, &gid, &format!("s{s}"), 100).await }));
    }
    let mut all = Vec::new();
    for t in tasks {
        let seqs = t.await.unwrap();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "one device's order is kept");
        all.extend(seqs);
    }
    all.sort_unstable();
    assert_eq!(all, (1..=3000).collect::<Vec<_>>());
    let stored = all_messages(&Client::new(&nodes[1].url).with_token(&users[0].token), &gid).await;
    assert_eq!(stored.iter().map(|m| m.sequence_number).collect::<Vec<_>>(), (1..=3000).collect::<Vec<_>>());
}

/// Fifteen senders on three nodes send 150 messages to one group at once; a reader on each node,
/// who never reorders, sees all 150 `message.new` frames in sequence order with no hole (each
/// node hands a conversation's frames out in order, whichever node committed them, from the very
/// start of the conversation).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_on_every_node_see_a_busy_group_in_order() {
    if !available().await {
        return;
    }
    let iso = Isolation::shared();
    let (_dir, path) = temp_path();
    let nodes = start_nodes(3, &iso.args(), &path);
    let users = register_many(&nodes[0].url, "ord", 18).await;
    let (readers, senders) = users.split_at(3);
    let ids: Vec<String> = users[1..].iter().map(|u| u.id.clone()).collect();
    let gid = readers[0].api.create_group("in order", &ids, None).await.unwrap().conversation_id;
    let mut reader_conns = Vec::new();
    for (i, reader) in readers.iter().enumerate() {
        reader_conns.push(Connection::connect(&nodes[i].url, &reader.token, "reader").await.unwrap());
    }
    let mut sender_conns = Vec::new();
    for (s, sender) in senders.iter().enumerate() {
        sender_conns.push(Connection::connect(&nodes[s % 3].url, &sender.token, "d").await.unwrap());
    }
    // Every node must know where the readers are before the burst.
    let others: Vec<String> = readers[1..].iter().map(|u| u.id.clone()).collect();
    wait_all_presence(&mut reader_conns[0], &others, PresenceStatus::Online).await;
    // No message goes first: each node's first frames of the conversation race each other, and
    // its stream starts at the oldest one still on its way.
    let mut tasks = Vec::new();
    for (s, mut conn) in sender_conns.into_iter().enumerate() {
        let gid = gid.clone();
        tasks.push(tokio::spawn(async move {
            send_burst(&mut conn, &gid, &format!("o{s}"), 10).await;
            conn
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for (i, conn) in reader_conns.iter_mut().enumerate() {
        let seqs: Vec<u64> = collect_new(conn, 150)
            .await
            .into_iter()
            .filter(|m| m.conversation_id == gid)
            .map(|m| m.sequence_number)
            .collect();
        assert_eq!(seqs, (1..=150).collect::<Vec<_>>(), "the reader on node {i}, as received");
    }
}

/// Bob's node hears nothing while he is away, so its cursor of the conversation falls behind; when
/// he is back, the next message is not preceded by what he missed (his sync brought that): a
/// message read back to fill a hole goes only to connections that were open when it was committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returning_member_is_not_sent_again_what_he_synced() {
    if !available().await {
        return;
    }
    let iso = Isolation::shared();
    let (_dir, path) = temp_path();
    let nodes = start_nodes(2, &iso.args(), &path);
    let alice = register(&nodes[0].url, "alice").await;
    let bob = register(&nodes[0].url, "bob").await;
    let id = alice.api.open_direct(&bob.id).await.unwrap().0.conversation_id;
    let mut a = Connection::connect(&nodes[0].url, &alice.token, "a").await.unwrap();
    let b = Connection::connect(&nodes[1].url, &bob.token, "b").await.unwrap();
    wait_presence(&mut a, &bob.id, PresenceStatus::Online).await;
    a.send_text(&id, "m1", "one").await.unwrap();
    b.close().await.unwrap();
    wait_presence(&mut a, &bob.id, PresenceStatus::Offline).await;
    for i in 2..=4 {
        a.send_text(&id, &format!("m{i}"), "while away").await.unwrap();
    }
    let mut b = Connection::connect(&nodes[1].url, &bob.token, "b").await.unwrap();
    wait_presence(&mut a, &bob.id, PresenceStatus::Online).await;
    a.send_text(&id, "m5", "welcome back").await.unwrap();
    let got = collect_new(&mut b, 1).await;
    assert_eq!((got[0].message_id.as_str(), got[0].sequence_number), ("m5", 5));
    a.send_text(&id, "m6", "and again").await.unwrap();
    assert_eq!(collect_new(&mut b, 1).await[0].sequence_number, 6, "nothing older came in between");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_and_typing_cross_nodes() {
    if !available().await {
        return;
    }
    let iso = Isolation::shared();
    let (_dir, path) = temp_path();
    let mut args = iso.args();
    args.extend(["--presence-throttle-ms".to_string(), "100".to_string()]);
    let nodes = start_nodes(3, &args, &path);
    let alice = register(&nodes[0].url, "alice").await;
    let bob = register(&nodes[0].url, "bob").await;
    let id = alice.api.open_direct(&bob.id).await.unwrap().0.conversation_id;
    let mut watcher = Connection::connect(&nodes[0].url, &alice.token, "watcher").await.unwrap();
    wait_presence(&mut watcher, &bob.id, PresenceStatus::Offline).await;

    let phone = Connection::connect(&nodes[1].url, &bob.token, "phone").await.unwrap();
    wait_presence(&mut watcher, &bob.id, PresenceStatus::Online).await;
    let mut laptop = Connection::connect(&nodes[2].url, &bob.token, "laptop").await.unwrap();
    phone.close().await.unwrap();
    // Still online: the laptop on node 2 remains. Asking the cluster says so.
    let rid = watcher
        .send(ClientFrame::PresenceSubscribe(PresenceSubscribePayload { user_ids: vec![bob.id.clone()] }))
        .await
        .unwrap();
    let ServerFrame::PresenceBulk(now) = watcher.reply_to(&rid).await.unwrap().frame else { panic!("bulk") };
    assert_eq!(now.presences[0].status, PresenceStatus::Online);

    // Typing on node 2 reaches node 0.
    laptop.send(ClientFrame::TypingStart(ConversationRef { conversation_id: id.clone() })).await.unwrap();
    let typing = watcher
        .wait_for(WAIT, "typing.update", |f| match &f.frame {
            ServerFrame::TypingUpdate(t) if t.user_id == bob.id => Some(t.clone()),
            _ => None,
        })
        .await
        .unwrap();
    assert!(typing.is_typing);

    laptop.close().await.unwrap();
    wait_presence(&mut watcher, &bob.id, PresenceStatus::Offline).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_node_loses_nothing_acknowledged() {
    if !available().await {
        return;
    }
    let iso = Isolation::shared();
    let (_dir, path) = temp_path();
    let mut nodes = start_nodes(3, &iso.args(), &path);
    let alice = register(&nodes[0].url, "alice").await;
    let bob = register(&nodes[0].url, "bob").await;
    let id = alice.api.open_direct(&bob.id).await.unwrap().0.conversation_id;
    let mut reader = Connection::connect(&nodes[0].url, &bob.token, "reader").await.unwrap();

    // Alice sends through node 2, which is killed while sends are in flight. Node 2 knows where
    // the reader is (it has seen him online) before the first send.
    let mut sender = Connection::connect(&nodes[2].url, &alice.token, "phone").await.unwrap();
    wait_presence(&mut sender, &bob.id, PresenceStatus::Online).await;
    let mut pending: HashMap<String, String> = HashMap::new();
    for i in 0..300 {
        let mid = format!("k{i}");
        let rid = sender
            .send(ClientFrame::MessageSend(SendPayload {
                message_id: Some(mid.clone()),
                conversation_id: id.clone(),
                content: text(&format!("m{i}")),
                reply_to: None,
                expires_in_seconds: None,
            }))
            .await
            .unwrap();
        pending.insert(rid, mid);
    }
    let mut acked: HashMap<String, u64> = HashMap::new();
    while acked.len() < 100 {
        let f = sender.next_frame().await.unwrap();
        if let (Some(rid), ServerFrame::MessageAck(a)) = (&f.id, &f.frame) {
            assert_eq!(pending.get(rid), Some(&a.message_id));
            acked.insert(a.message_id.clone(), a.sequence_number);
        }
    }
    nodes.remove(2).kill_9();

    // The client reconnects to another node and resends what was not acknowledged, with the same
    // messageIds: retries are idempotent, so nothing is duplicated.
    let mut sender = Connection::connect(&nodes[1].url, &alice.token, "phone").await.unwrap();
    for i in 0..300 {
        let mid = format!("k{i}");
        let ack = sender.send_text(&id, &mid, &format!("m{i}")).await.unwrap();
        if let Some(seq) = acked.get(&mid) {
            assert_eq!(ack.sequence_number, *seq, "an acknowledged message keeps its sequence");
        }
        acked.insert(mid, ack.sequence_number);
    }

    // The reader syncs and has every acknowledged message, in order, once.
    let rid = reader
        .send(ClientFrame::Sync(SyncRequest {
            conversations: vec![SyncCursor::new(id.clone(), 0)],
            limit: Some(1000),
        }))
        .await
        .unwrap();
    let ServerFrame::SyncResult(result) = reader.reply_to(&rid).await.unwrap().frame else { panic!("sync") };
    let synced = &result.conversations[0].messages;
    assert_eq!(synced.len(), 300);
    let seqs: Vec<u64> = synced.iter().map(|m| m.sequence_number).collect();
    assert_eq!(seqs, (1..=300).collect::<Vec<_>>());
    for m in synced {
        assert_eq!(acked.get(&m.message_id), Some(&m.sequence_number));
    }
    for (i, m) in synced.iter().enumerate() {
        assert_eq!(m.message_id, format!("k{i}"), "one device's messages keep their order");
    }

    // And the reader's live stream, without any sync, has every one of them once: those the dead
    // node published, those it committed but never published (read back when a later message
    // showed the hole, or when the cluster noticed the node was gone), the retries. In order, but
    // for one case the protocol names: when the dead node published none of a run and the retries'
    // first new message reached the reader's node more than 2 s after that run was committed, the
    // node's stream of the conversation starts there, and the run comes late, once the cluster
    // notices the dead node (still in order among themselves).
    let mut live = Vec::new();
    while live.len() < 300 {
        let m = next_new(&mut reader, Duration::from_secs(45)).await;
        live.push((m.sequence_number, m.message_id));
    }
    let first = live[0].0;
    let (in_order, late): (Vec<_>, Vec<_>) = live.iter().cloned().partition(|(seq, _)| *seq >= first);
    let expected = |from: u64, to: u64| -> Vec<(u64, String)> {
        (from..to).map(|s| (s, format!("k{}", s - 1))).collect()
    };
    assert_eq!(in_order, expected(first, 301), "the stream from its first frame");
    assert_eq!(late, expected(1, first), "what came before it, once, in order");
    sender.send_text(&id, "k300", "after").await.unwrap();
    let next = next_new(&mut reader, WAIT).await;
    assert_eq!((next.sequence_number, next.message_id.as_str()), (301, "k300"), "no repeat came before it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_delays_delivery_but_loses_nothing_and_keeps_order() {
    if !available().await {
        return;
    }
    redis_restart(false).await;
}

/// The same with the conversation fanning out through the log, which Redis restarting must not
/// disturb either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_with_the_log_loses_nothing_and_keeps_order() {
    if !available().await || !nats_available().await {
        return;
    }
    redis_restart(true).await;
}

async fn redis_restart(with_log: bool) {
    let mut redis = PrivateRedis::start();
    let (iso, log) = (Isolation::new(database_url(), redis.url()), LogIsolation::new());
    let mut args = iso.args();
    if with_log {
        args.extend(log.args(2));
    }
    let (_dir, path) = temp_path();
    let nodes = start_nodes(2, &args, &path);
    let alice = register(&nodes[0].url, "alice").await;
    let bob = register(&nodes[0].url, "bob").await;
    let id = alice.api.open_direct(&bob.id).await.unwrap().0.conversation_id;
    let mut a = Connection::connect(&nodes[0].url, &alice.token, "a").await.unwrap();
    let mut b = Connection::connect(&nodes[1].url, &bob.token, "b").await.unwrap();
    wait_presence(&mut a, &bob.id, PresenceStatus::Online).await;
    a.send_text(&id, "before", "before the restart").await.unwrap();
    assert_eq!(collect_new(&mut b, 1).await[0].message_id, "before");

    redis.restart();

    // Sends keep being acknowledged (the database is the source of truth); once the nodes have
    // resubscribed and re-registered, real-time delivery across nodes resumes.
    let mut i = 0;
    let delivered_again = loop {
        i += 1;
        assert!(i < 200, "cross-node delivery did not resume after the Redis restart");
        let mid = format!("after-{i}");
        a.send_text(&id, &mid, "after the restart").await.unwrap();
        let got = b
            .wait_for(Duration::from_millis(100), "message.new", |f| match &f.frame {
                ServerFrame::MessageNew(m) => Some(m.clone()),
                _ => None,
            })
            .await;
        if let Ok(m) = got {
            break m;
        }
    };
    // Bob's node missed what was published while Redis was away; the next message it hears of
    // shows the hole, which it fills from the database: Bob's connection gets every message, in
    // order, with no hole and without syncing.
    assert_eq!(delivered_again.sequence_number, 2, "the one right after `before` comes first");
    let last = u64::try_from(i).expect("count") + 1;
    let rest: Vec<u64> = collect_new(&mut b, usize::try_from(last - 2).expect("count"))
        .await
        .into_iter()
        .map(|m| m.sequence_number)
        .collect();
    assert_eq!(rest, (3..=last).collect::<Vec<_>>(), "in order, no hole");
    let rid = b
        .send(ClientFrame::Sync(SyncRequest {
            conversations: vec![SyncCursor::new(id.clone(), 1)],
            limit: Some(1000),
        }))
        .await
        .unwrap();
    let ServerFrame::SyncResult(result) = b.reply_to(&rid).await.unwrap().frame else { panic!("sync") };
    let seqs: Vec<u64> = result.conversations[0].messages.iter().map(|m| m.sequence_number).collect();
    assert_eq!(seqs, (2..=last).collect::<Vec<_>>(), "consistent with the database");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_refuses_sends_and_recovers() {
    if !available().await {
        return;
    }
    let pg = PrivatePostgres::start();
    let iso = Isolation::new(pg.url(), redis_url());
    let (_dir, path) = temp_path();
    let node = ServerProcess::spawn_with(&path, &iso.args());
    let alice = register(&node.url, "alice").await;
    let bob = register(&node.url, "bob").await;
    let id = alice.api.open_direct(&bob.id).await.unwrap().0.conversation_id;
    let mut ws = Connection::connect(&node.url, &alice.token, "d").await.unwrap();
    ws.send_text(&id, "ok-1", "before").await.unwrap();
    let anon = Client::new(&node.url);
    assert_eq!(anon.raw(Method::GET, "/readyz", None).await.unwrap().0, 200);

    pg.stop();
    let err = ws.send_text(&id, "lost-1", "during").await.unwrap_err();
    assert!(matches!(&err, ClientError::Api { body, .. } if body.error == ErrorCode::Unavailable), "{err}");
    let (status, body) = anon.raw(Method::GET, "/readyz", None).await.unwrap();
    assert_eq!((status, body["error"].as_str()), (503, Some("UNAVAILABLE")));
    let (status, _) = alice
        .api
        .raw(
            Method::POST,
            &format!("/api/v1/conversations/{id}/messages"),
            Some(r#"{"content":{"type":"text","text":"x"}}"#.into()),
        )
        .await
        .unwrap();
    assert_eq!(status, 503);

    pg.start_again();
    // The node reconnects by itself.
    let mut tries = 0;
    loop {
        tries += 1;
        match ws.send_text(&id, "ok-2", "after").await {
            Ok(ack) => {
                assert_eq!(ack.sequence_number, 2, "nothing half-written during the outage");
                break;
            }
            Err(ClientError::Api { body, .. }) if body.error == ErrorCode::Unavailable && tries < 100 => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("did not recover: {e}"),
        }
    }
    assert_eq!(anon.raw(Method::GET, "/readyz", None).await.unwrap().0, 200);
    let stored = all_messages(&bob.api, &id).await;
    let ids: Vec<&str> = stored.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids, ["ok-1", "ok-2"]);
}

/// PostgreSQL restarts while a large group streams through the log: the sender retries each
/// refused message under its own id until it is acknowledged (as a client does), and every member's
/// live connection, on the sender's node and on another, gets each acknowledged message exactly
/// once, in order, with no hole and without syncing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_with_the_log_loses_no_acknowledged_message_and_keeps_order() {
    if !available().await || !nats_available().await {
        return;
    }
    const TOTAL: usize = 40;
    let pg = std::sync::Arc::new(PrivatePostgres::start());
    let (iso, log) = (Isolation::new(pg.url(), redis_url()), LogIsolation::new());
    let args: Vec<String> = iso.args().into_iter().chain(log.args(3)).collect();
    let (_dir, path) = temp_path();
    let nodes = start_nodes(2, &args, &path);
    let alice = register(&nodes[0].url, "alice").await;
    let bob = register(&nodes[0].url, "bob").await;
    let carol = register(&nodes[0].url, "carol").await;
    let gid = alice
        .api
        .create_group("pg", &[bob.id.clone(), carol.id.clone()], None)
        .await
        .unwrap()
        .conversation_id;
    let mut sender = Connection::connect(&nodes[0].url, &alice.token, "a").await.unwrap();
    let mut readers = vec![
        Connection::connect(&nodes[1].url, &bob.token, "b").await.unwrap(),
        Connection::connect(&nodes[0].url, &carol.token, "c").await.unwrap(),
    ];
    wait_presence(&mut sender, &bob.id, PresenceStatus::Online).await;

    let mut restarted = None;
    let mut refused = 0;
    for i in 0..TOTAL {
        if i == TOTAL / 3 {
            pg.stop();
            // Back after a while, as an operator's restart would be.
            let pg = pg.clone();
            restarted = Some(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(800)).await;
                tokio::task::spawn_blocking(move || pg.start_again()).await.expect("restart")
            }));
        }
        let id = format!("pg-{i}");
        let mut tries = 0;
        loop {
            tries += 1;
            match sender.send_text(&gid, &id, &id).await {
                Ok(ack) => {
                    assert_eq!(ack.sequence_number, u64::try_from(i).expect("count") + 1, "{id}");
                    break;
                }
                Err(ClientError::Api { body, .. }) if body.error == ErrorCode::Unavailable && tries < 300 => {
                    refused += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("{id} not acknowledged after {tries} tries: {e}"),
            }
        }
    }
    restarted.expect("restarted").await.expect("restart task");
    assert!(refused > 0, "the outage refused some sends");

    for (r, reader) in readers.iter_mut().enumerate() {
        let got: Vec<(u64, String)> =
            collect_new(reader, TOTAL).await.into_iter().map(|m| (m.sequence_number, m.message_id)).collect();
        let expected: Vec<(u64, String)> =
            (0..TOTAL).map(|i| (u64::try_from(i).expect("count") + 1, format!("pg-{i}"))).collect();
        assert_eq!(got, expected, "reader {r}: every acknowledged message once, in order");
    }
    // Nothing more was on its way: a fence message comes next.
    sender.send_text(&gid, "fence", "fence").await.unwrap();
    for reader in &mut readers {
        let next = collect_new(reader, 1).await;
        assert_eq!(next[0].message_id, "fence", "no repeat came before it");
    }
}

/// Logging out on node A closes the token's socket on node B and B refuses the token at once,
/// though B had it cached as valid; logout-all on A closes every device of the user on B; a node
/// started afterwards knows both from the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_reach_every_node() {
    use crate::sessions::{closed_with, refused, still_open};
    if !available().await {
        return;
    }
    let iso = Isolation::shared();
    let (_dir, path) = temp_path();
    let nodes = start_nodes(2, &iso.args(), &path);
    let (a, b) = (&nodes[0].url, &nodes[1].url);
    let alice = register(a, "alice").await;
    let laptop = Client::new(a).login("alice", PASSWORD).await.unwrap();
    let on_b = Client::new(b).with_token(&alice.token);
    // Node B has checked (and cached) the token before it is revoked.
    assert_eq!(on_b.me().await.unwrap().user.user_id, alice.id);
    let mut phone = Connection::connect(b, &alice.token, "phone").await.unwrap();
    let mut laptop_socket = Connection::connect(b, &laptop.token, "laptop").await.unwrap();

    Client::new(a).with_token(&alice.token).logout().await.unwrap();
    assert_eq!(closed_with(&mut phone).await, Some(4003), "closed on node B");
    assert!(refused(on_b.me().await.unwrap_err()), "refused on node B");
    assert!(refused(Connection::connect(b, &alice.token, "phone").await.err().expect("upgrade refused")));
    still_open(&mut laptop_socket).await;

    Client::new(a).with_token(&laptop.token).logout_all().await.unwrap();
    assert_eq!(closed_with(&mut laptop_socket).await, Some(4003), "logout-all closes node B's device");
    assert!(refused(Client::new(b).with_token(&laptop.token).me().await.unwrap_err()));

    let late = ServerProcess::spawn_with(&path.join("late"), &iso.args());
    for token in [&alice.token, &laptop.token] {
        assert!(refused(Client::new(&late.url).with_token(token).me().await.unwrap_err()), "a later node");
    }
    let again = Client::new(&late.url).login("alice", PASSWORD).await.unwrap();
    assert_eq!(Client::new(b).with_token(&again.token).me().await.unwrap().user.user_id, alice.id);
}

/// Sends `text` as `message_id` through `conn`, whose node dies before publishing it (its
/// `fanout-before-publish` failpoint aborts it after the commit), and waits for the socket to close.
async fn send_into_a_dying_node(mut conn: Connection, conversation_id: &str, message_id: &str) {
    conn.send(ClientFrame::MessageSend(SendPayload {
        message_id: Some(message_id.to_string()),
        conversation_id: conversation_id.to_string(),
        content: text(message_id),
        reply_to: None,
        expires_in_seconds: None,
    }))
    .await
    .unwrap();
    let closed = tokio::time::timeout(WAIT, async {
        // An acknowledgement may or may not get out first; then the socket ends with the process.
        while conn.next_frame().await.is_ok() {}
    })
    .await;
    assert!(closed.is_ok(), "the node died");
}

/// The next `message.new` on `conn` within `within`.
async fn next_new(conn: &mut Connection, within: Duration) -> confab_proto::Message {
    conn.wait_for(within, "message.new", |f| match &f.frame {
        ServerFrame::MessageNew(m) => Some(m.clone()),
        _ => None,
    })
    .await
    .expect("message.new arrives")
}

/// A node killed between committing a message and publishing it (its failpoint aborts it at that
/// very place) leaves nobody waiting: once the cluster notices the node is gone, the other node
/// reads back what it committed and hands it to the live connections that were open at the commit,
/// in order and once, in a conversation that node was already streaming and in one it had never
/// seen, without anyone syncing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_committed_by_a_node_killed_before_publishing_reach_live_members() {
    if !available().await {
        return;
    }
    let iso = Isolation::shared();
    killed_before_publishing(&iso.args()).await;
}

/// The same with both conversations fanning out through the log: the node dies before appending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_committed_by_a_node_killed_before_appending_to_the_log_reach_live_members() {
    if !available().await || !nats_available().await {
        return;
    }
    let (iso, log) = (Isolation::shared(), LogIsolation::new());
    let args: Vec<String> = iso.args().into_iter().chain(log.args(2)).collect();
    killed_before_publishing(&args).await;
}

/// The same on a Kafka-protocol log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_committed_by_a_node_killed_before_appending_to_kafka_reach_live_members() {
    if !available().await || !kafka_available().await {
        return;
    }
    let (iso, log) = (Isolation::shared(), LogIsolation::on(LogBroker::Kafka));
    let args: Vec<String> = iso.args().into_iter().chain(log.args(2)).collect();
    killed_before_publishing(&args).await;
}

async fn killed_before_publishing(args: &[String]) {
    let (_dir, path) = temp_path();
    let survivor = ServerProcess::spawn_with(&path.join("survivor"), args);
    let doomed_env = [("FAILPOINTS".to_string(), "fanout-before-publish=return".to_string())];
    let doomed: Vec<ServerProcess> = (0..2)
        .map(|i| ServerProcess::spawn_with_env(&path.join(format!("doomed{i}")), args, &doomed_env))
        .collect();
    let alice = register(&survivor.url, "alice").await;
    let bob = register(&survivor.url, "bob").await;
    let carol = register(&survivor.url, "carol").await;
    let busy = alice
        .api
        .create_group("busy", &[bob.id.clone(), carol.id.clone()], None)
        .await
        .unwrap()
        .conversation_id;
    let quiet =
        alice.api.create_group("quiet", std::slice::from_ref(&bob.id), None).await.unwrap().conversation_id;

    let mut bob_live = Connection::connect(&survivor.url, &bob.token, "b").await.unwrap();
    let mut carol_live = Connection::connect(&survivor.url, &carol.token, "c").await.unwrap();
    let mut alice_live = Connection::connect(&survivor.url, &alice.token, "laptop").await.unwrap();
    // The survivor streams `busy` already (its cursor is at 2); `quiet` it has never seen.
    alice_live.send_text(&busy, "b1", "first").await.unwrap();
    assert_eq!(next_new(&mut bob_live, WAIT).await.sequence_number, 1);
    assert_eq!(next_new(&mut carol_live, WAIT).await.sequence_number, 1);

    let through_doomed: Vec<Connection> = {
        let mut conns = Vec::new();
        for node in &doomed {
            conns.push(Connection::connect(&node.url, &alice.token, "phone").await.unwrap());
        }
        conns
    };
    let mut through_doomed = through_doomed.into_iter();
    let (first, second) = (through_doomed.next().unwrap(), through_doomed.next().unwrap());
    tokio::join!(send_into_a_dying_node(first, &busy, "b2"), send_into_a_dying_node(second, &quiet, "q1"));

    // The dead nodes are noticed after their heartbeats stop (10 s); then the messages come.
    let within = Duration::from_secs(45);
    let mut got_bob = vec![next_new(&mut bob_live, within).await, next_new(&mut bob_live, within).await];
    got_bob.sort_by(|a, b| a.conversation_id.cmp(&b.conversation_id));
    let mut expected = vec![(busy.clone(), "b2".to_string(), 2), (quiet.clone(), "q1".to_string(), 1)];
    expected.sort();
    let got: Vec<(String, String, u64)> =
        got_bob.into_iter().map(|m| (m.conversation_id, m.message_id, m.sequence_number)).collect();
    assert_eq!(got, expected);
    let to_carol = next_new(&mut carol_live, within).await;
    assert_eq!((to_carol.message_id.as_str(), to_carol.sequence_number), ("b2", 2));
    // Alice's other device was not the one sending: it gets both as well.
    let mut to_alice: Vec<String> = vec![
        next_new(&mut alice_live, within).await.message_id,
        next_new(&mut alice_live, within).await.message_id,
    ];
    to_alice.sort();
    assert_eq!(to_alice, ["b2", "q1"]);

    // Alice's phone retries through the survivor with the same id, as a client does after losing
    // its node: the same message, not pushed again; the next one follows it.
    let mut phone = Connection::connect(&survivor.url, &alice.token, "phone").await.unwrap();
    assert_eq!(phone.send_text(&busy, "b2", "b2").await.unwrap().sequence_number, 2);
    phone.send_text(&busy, "b3", "third").await.unwrap();
    let next = next_new(&mut bob_live, WAIT).await;
    assert_eq!((next.message_id.as_str(), next.sequence_number), ("b3", 3), "b2 came once");
}
