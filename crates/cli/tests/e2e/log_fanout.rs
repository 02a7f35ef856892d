//! Large groups fanning out through the durable log (NATS JetStream or a Kafka-protocol broker)
//! across nodes on PostgreSQL and Redis, while small conversations keep the bus; and what a broker
//! outage does.

use confab_client::Connection;
use confab_proto::{PresenceStatus, ServerFrame};

use crate::harness::*;
use crate::messaging::collect_new;
use crate::services::*;

/// Waits until `watcher` has seen each of `users` online (every node knows where they are).
async fn wait_online(watcher: &mut Connection, users: &[String]) {
    let mut online = std::collections::HashSet::new();
    watcher
        .wait_for(WAIT, "every user online", |f| {
            match &f.frame {
                ServerFrame::PresenceBulk(b) => online.extend(
                    b.presences
                        .iter()
                        .filter(|p| p.status == PresenceStatus::Online)
                        .map(|p| p.user_id.clone()),
                ),
                ServerFrame::PresenceUpdate(p) if p.status == PresenceStatus::Online => {
                    online.insert(p.user_id.clone());
                }
                _ => {}
            }
            users.iter().all(|u| online.contains(u)).then_some(())
        })
        .await
        .expect("presence reaches the watcher");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_group_goes_through_jetstream_and_every_node_sees_it_in_order() {
    large_group_in_order(LogBroker::JetStream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_group_goes_through_kafka_and_every_node_sees_it_in_order() {
    large_group_in_order(LogBroker::Kafka).await;
}

async fn large_group_in_order(broker: LogBroker) {
    if !available().await || !broker.available().await {
        return;
    }
    let (iso, log) = (Isolation::shared(), LogIsolation::on(broker));
    let (_dir, path) = temp_path();
    let args: Vec<String> = iso.args().into_iter().chain(log.args(6)).collect();
    let nodes: Vec<ServerProcess> =
        (0..3).map(|i| ServerProcess::spawn_with(&path.join(format!("node{i}")), &args)).collect();
    let users = register_many(&nodes[0].url, "lg", 12).await;
    let (readers, senders) = users.split_at(3);
    let ids: Vec<String> = users[1..].iter().map(|u| u.id.clone()).collect();
    let gid = readers[0].api.create_group("large", &ids, None).await.unwrap().conversation_id;
    let mut reader_conns = Vec::new();
    for (i, reader) in readers.iter().enumerate() {
        reader_conns.push(Connection::connect(&nodes[i].url, &reader.token, "reader").await.unwrap());
    }
    let others: Vec<String> = readers[1..].iter().map(|u| u.id.clone()).collect();
    wait_online(&mut reader_conns[0], &others).await;

    // Nine senders over three nodes, 12 messages each, all at once.
    let mut tasks = Vec::new();
    for (s, sender) in senders.iter().enumerate() {
        let (url, token, gid) = (nodes[s % 3].url.clone(), sender.token.clone(), gid.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Connection::connect(&url, &token, "d").await.unwrap();
            let mut acked = Vec::new();
            for i in 0..12 {
                let id = format!("lg-{s}-{i}");
                acked.push(conn.send_text(&gid, &id, &id).await.unwrap().sequence_number);
            }
            acked
        }));
    }
    let mut acked = 0;
    for t in tasks {
        acked += t.await.unwrap().len();
    }
    assert_eq!(acked, 108);
    for (i, conn) in reader_conns.iter_mut().enumerate() {
        let seqs: Vec<u64> = collect_new(conn, 108)
            .await
            .into_iter()
            .filter(|m| m.conversation_id == gid)
            .map(|m| m.sequence_number)
            .collect();
        assert_eq!(seqs, (1..=108).collect::<Vec<_>>(), "the reader on node {i}, as received");
    }
    // Through the log, not the bus: every message appended once, and read by every node.
    let mut appended = 0.0;
    for node in &nodes {
        appended += metric(&node.url, "confab_log_appended_total").await;
        assert!(metric(&node.url, "confab_log_records_read_total").await >= 108.0, "{} read them", node.url);
    }
    assert_eq!(appended, 108.0, "each message appended once");

    // A conversation below the threshold keeps the bus, across nodes all the same.
    let (dm, _) = readers[1].api.open_direct(&readers[2].id).await.unwrap();
    let mut sender = Connection::connect(&nodes[1].url, &readers[1].token, "dm").await.unwrap();
    sender.send_text(&dm.conversation_id, "dm-1", "just us").await.unwrap();
    let got = collect_new(&mut reader_conns[2], 1).await;
    assert_eq!((got[0].conversation_id.as_str(), got[0].sequence_number), (dm.conversation_id.as_str(), 1));
    let mut appended_after = 0.0;
    for node in &nodes {
        appended_after += metric(&node.url, "confab_log_appended_total").await;
    }
    assert_eq!(appended_after, 108.0, "the direct conversation did not go through the log");
}

/// The next `message.new` of `conn` within `within`, if any.
async fn next_new(conn: &mut Connection, within: std::time::Duration) -> Option<confab_proto::Message> {
    conn.wait_for(within, "message.new", |f| match &f.frame {
        ServerFrame::MessageNew(m) => Some(m.clone()),
        _ => None,
    })
    .await
    .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jetstream_outage_sends_large_groups_over_the_bus_and_the_log_resumes_after_it() {
    broker_outage(LogBroker::JetStream).await;
}

/// The broker is in-memory tansu: its restart also loses the topic, which the nodes create again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kafka_outage_sends_large_groups_over_the_bus_and_the_log_resumes_after_it() {
    broker_outage(LogBroker::Kafka).await;
}

async fn broker_outage(kind: LogBroker) {
    if !available().await || !kind.available().await {
        return;
    }
    let mut broker = PrivateLogBroker::start(kind);
    let iso = Isolation::shared();
    let (_dir, path) = temp_path();
    let args: Vec<String> = iso
        .args()
        .into_iter()
        .chain(["--log-url".into(), broker.url(), "--log-prefix".into(), "outage".into()])
        .chain(["--log-fanout-threshold".into(), "3".into()])
        .collect();
    let nodes: Vec<ServerProcess> =
        (0..2).map(|i| ServerProcess::spawn_with(&path.join(format!("node{i}")), &args)).collect();
    let users = register_many(&nodes[0].url, "bo", 4).await;
    let ids: Vec<String> = users[1..].iter().map(|u| u.id.clone()).collect();
    let gid = users[0].api.create_group("outage", &ids, None).await.unwrap().conversation_id;
    let mut sender = Connection::connect(&nodes[0].url, &users[0].token, "s").await.unwrap();
    let mut reader = Connection::connect(&nodes[1].url, &users[1].token, "r").await.unwrap();
    wait_online(&mut sender, &[users[1].id.clone()]).await;
    let mut expected = Vec::new();
    for n in 1..=5 {
        assert_eq!(send_numbered(&mut sender, &gid, n).await, n);
        expected.push(n);
    }
    let seqs: Vec<u64> = collect_new(&mut reader, 5).await.into_iter().map(|m| m.sequence_number).collect();
    assert_eq!(seqs, expected);
    // The reader got them, so the sender's node has appended them (acks come before fan-out).
    assert_eq!(metric(&nodes[0].url, "confab_log_appended_total").await, 5.0);

    broker.stop();
    // Sends keep being acknowledged, and the reader keeps getting them, over the bus.
    for n in 6..=10 {
        assert_eq!(send_numbered(&mut sender, &gid, n).await, n);
        expected.push(n);
    }
    let seqs: Vec<u64> = collect_new(&mut reader, 5).await.into_iter().map(|m| m.sequence_number).collect();
    assert_eq!(seqs, expected[5..], "everything so far, in order, once");
    assert!(metric(&nodes[0].url, "confab_log_append_failed_total").await >= 1.0);

    broker.restart();
    // Once the node is back on the broker (and its 5 s pause is over), messages take the log
    // again, and the reader's node reads them from it.
    let read_before = metric(&nodes[1].url, "confab_log_records_read_total").await;
    let mut n = 10;
    loop {
        n += 1;
        assert!(n < 300, "the log was not used again after the broker came back");
        assert_eq!(send_numbered(&mut sender, &gid, n).await, n);
        let got = next_new(&mut reader, WAIT).await.expect("each message reaches the reader");
        assert_eq!(got.sequence_number, n, "in order, once");
        if metric(&nodes[1].url, "confab_log_records_read_total").await > read_before {
            break;
        }
        // One message per 100 ms while the node waits out its pause and reconnects.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Appends the outage held back reach the log after the reconnect, ahead of this one; the
    // reader's node drops them, so this is the next frame.
    n += 1;
    assert_eq!(send_numbered(&mut sender, &gid, n).await, n);
    assert_eq!(next_new(&mut reader, WAIT).await.expect("the last one").sequence_number, n, "no repeats");
}

/// Sends message number `n` (id `bo-{n}`) and returns its sequence number.
async fn send_numbered(conn: &mut Connection, gid: &str, n: u64) -> u64 {
    let id = format!("bo-{n}");
    conn.send_text(gid, &id, &id).await.unwrap().sequence_number
}
