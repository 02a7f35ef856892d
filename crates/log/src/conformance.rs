//! Behaviour every `Log` adapter must show, written once and expanded for each adapter by
//! [`log_conformance_suite!`].
//!
//! A test gets [`Logs`]: two connections to one log, as two nodes would hold. Nothing sleeps:
//! tests wait (bounded) for what they expect, and prove that something did *not* come with a
//! fence, a later record from the same appender which the log must bring after it.

use std::time::Duration;

use bytes::Bytes;
use confab_core::log::{LogRecord, SharedLog};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;

/// How long a test waits for something the log must bring.
const WAIT: Duration = Duration::from_secs(10);

/// Whether tests needing an external service fail (rather than skip) when it is unreachable.
pub fn services_required() -> bool {
    std::env::var("CONFAB_REQUIRE_SERVICES").as_deref() == Ok("1")
}

/// Two nodes' connections to one log, and whatever cleans the log up after the test.
pub struct Logs {
    pub logs: Vec<SharedLog>,
    pub _guard: Box<dyn Send>,
}

/// Two nodes' connections made by `connect`, on a log `guard` cleans up; `None` when the broker
/// (`broker`, for messages) is unreachable and not required, a failure when it is required.
pub async fn two_nodes<F, Fut>(broker: &str, guard: Box<dyn Send>, connect: F) -> Option<Logs>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = confab_core::Result<SharedLog>>,
{
    let mut logs = Vec::new();
    for _ in 0..2 {
        match connect().await {
            Ok(log) => logs.push(log),
            Err(e) if !services_required() => {
                eprintln!(
                    "{broker} not reachable ({e}); set CONFAB_REQUIRE_SERVICES=1 to make this a failure"
                );
                return None;
            }
            Err(e) => panic!("{broker} is required (CONFAB_REQUIRE_SERVICES=1) but not reachable: {e}"),
        }
    }
    Some(Logs { logs, _guard: guard })
}

/// The next record, or a failure after [`WAIT`].
pub async fn next(tail: &mut BoxStream<'static, LogRecord>) -> LogRecord {
    tokio::time::timeout(WAIT, tail.next()).await.expect("a record within 10 s").expect("the tail is open")
}

fn text(record: &LogRecord) -> (&str, &str) {
    (record.key.as_str(), std::str::from_utf8(&record.payload).expect("utf-8"))
}

pub async fn a_record_reaches_every_tail_with_its_key_and_payload(logs: Logs) {
    let mut tails = Vec::new();
    for log in &logs.logs {
        tails.push(log.tail().await.expect("tail"));
    }
    logs.logs[0].append("conversation-1", Bytes::from_static(b"hello"), None).await.expect("append");
    for tail in &mut tails {
        assert_eq!(text(&next(tail).await), ("conversation-1", "hello"));
    }
}

pub async fn a_tail_reads_only_what_is_appended_after_it_starts(logs: Logs) {
    let log = &logs.logs[0];
    log.append("k", Bytes::from_static(b"before"), None).await.expect("append");
    let mut tail = log.tail().await.expect("tail");
    log.append("k", Bytes::from_static(b"after"), None).await.expect("append");
    assert_eq!(text(&next(&mut tail).await), ("k", "after"));
}

pub async fn records_of_one_key_arrive_once_in_append_order_whichever_node_appends(logs: Logs) {
    const EACH: usize = 60;
    let mut tail = logs.logs[1].tail().await.expect("tail");
    // Both nodes append to the same three keys at once, each waiting for its previous append.
    let appenders: Vec<_> = logs
        .logs
        .iter()
        .enumerate()
        .map(|(node, log)| {
            let log = log.clone();
            tokio::spawn(async move {
                for i in 0..EACH {
                    let key = format!("key-{}", i % 3);
                    log.append(&key, Bytes::from(format!("{node}:{i}")), None).await.expect("append");
                }
            })
        })
        .collect();
    for appender in appenders {
        appender.await.expect("appender");
    }
    let mut last: std::collections::HashMap<(String, String), usize> = Default::default();
    for _ in 0..EACH * logs.logs.len() {
        let record = next(&mut tail).await;
        let (key, payload) = text(&record);
        let (node, i) = payload.split_once(':').expect("node:i");
        let i: usize = i.parse().expect("a number");
        assert_eq!(key, format!("key-{}", i % 3), "the key travels with the record");
        if let Some(previous) = last.insert((key.to_string(), node.to_string()), i) {
            assert!(i > previous, "{key}: {node}:{i} came after {node}:{previous}");
        }
    }
    logs.logs[0].append("fence", Bytes::from_static(b"fence"), None).await.expect("append");
    assert_eq!(text(&next(&mut tail).await), ("fence", "fence"), "nothing came twice");
}

pub async fn a_retried_append_with_the_same_dedup_id_is_read_once(logs: Logs) {
    let mut tail = logs.logs[0].tail().await.expect("tail");
    for log in &logs.logs {
        log.append("c", Bytes::from_static(b"once"), Some("c:1")).await.expect("append");
    }
    logs.logs[0].append("c", Bytes::from_static(b"next"), Some("c:2")).await.expect("append");
    assert_eq!(text(&next(&mut tail).await), ("c", "once"));
    assert_eq!(text(&next(&mut tail).await), ("c", "next"), "the retry was not stored again");
}

pub async fn a_large_record_round_trips_unchanged(logs: Logs) {
    let mut tail = logs.logs[0].tail().await.expect("tail");
    let payload: Vec<u8> = (0..256 * 1024).map(|i| (i % 251) as u8).collect();
    logs.logs[1].append("big", Bytes::from(payload.clone()), None).await.expect("append");
    let record = next(&mut tail).await;
    assert_eq!((record.key.as_str(), record.payload.as_ref()), ("big", payload.as_slice()));
}

pub async fn a_dropped_tail_leaves_the_others_reading(logs: Logs) {
    let dropped = logs.logs[0].tail().await.expect("tail");
    let mut kept = logs.logs[0].tail().await.expect("tail");
    drop(dropped);
    for i in 0..20 {
        logs.logs[1].append("k", Bytes::from(i.to_string()), None).await.expect("append");
    }
    for i in 0..20 {
        assert_eq!(text(&next(&mut kept).await), ("k", i.to_string().as_str()));
    }
    logs.logs[0].ping().await.expect("still reachable");
}

/// Expands every conformance test for one adapter; `$setup` is an expression of type
/// `Option<Logs>` (`None`: the service is unreachable and not required, so the test passes empty).
#[macro_export]
macro_rules! log_conformance_suite {
    ($setup:expr) => {
        $crate::log_conformance_suite!(@tests $setup;
            a_record_reaches_every_tail_with_its_key_and_payload,
            a_tail_reads_only_what_is_appended_after_it_starts,
            records_of_one_key_arrive_once_in_append_order_whichever_node_appends,
            a_retried_append_with_the_same_dedup_id_is_read_once,
            a_large_record_round_trips_unchanged,
            a_dropped_tail_leaves_the_others_reading,
        );
    };
    (@tests $setup:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                if let Some(logs) = $setup.await {
                    $crate::conformance::$name(logs).await;
                }
            }
        )*
    };
}
