//! The Kafka-protocol log (Apache Kafka, Redpanda, tansu, …) through librdkafka.
//!
//! One topic, `{prefix}-log`, with [`PARTITIONS`] partitions; a record goes to partition
//! [`partition_of`] of its key (the conversation id), so the records of one key are read in the
//! order they were stored. The key is the Kafka record key.
//!
//! Each [`Log::tail`] is a consumer of its own that assigns itself every partition at the high
//! watermarks read when it starts (no consumer group: every node reads everything, and a node only
//! wants what arrives while it runs). librdkafka rides out broker restarts; when a partition's
//! position is no longer in the log (the broker lost its data, or retention dropped it), the tail
//! reads the partition from its earliest record.
//!
//! Kafka keeps no table of message ids, so a retried append is dropped by the tail instead: a
//! record carries its dedup id in the `confab-dedup` header and each tail skips an id it read among
//! the last [`DEDUP_WINDOW`] ids.
//!
//! Retention is the broker's (`log.retention.*`): records are a conduit, the store is the history.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use confab_core::log::{partition_of, Log, LogRecord, PARTITIONS};
use confab_core::{Error, Result};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use tokio::sync::mpsc;

/// The header carrying a record's dedup id.
const DEDUP_HEADER: &str = "confab-dedup";
/// How many recent dedup ids a tail remembers.
pub const DEDUP_WINDOW: usize = 65_536;
/// Records read ahead of the node's handling of them.
const TAIL_BUFFER: usize = 4_096;
/// How long a metadata, watermark or admin request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long librdkafka keeps trying to deliver an append before reporting failure; the caller
/// gives up sooner and takes another path.
const DELIVERY_TIMEOUT_MS: &str = "5000";
/// How long a fetch waits at the broker for records. Short, because some brokers (tansu) answer a
/// fetch only when this runs out: it bounds how late a record reaches the tails.
const FETCH_WAIT_MS: &str = "10";
/// How often a node checks that the topic still exists.
const TOPIC_CHECK: Duration = Duration::from_secs(5);
/// Wait after a consumer error before reading again.
const RETRY: Duration = Duration::from_millis(200);

pub struct KafkaLog {
    producer: FutureProducer,
    brokers: String,
    topic: String,
    /// Recreates the topic when the broker lost it.
    watchdog: tokio::task::JoinHandle<()>,
}

impl Drop for KafkaLog {
    fn drop(&mut self) {
        self.watchdog.abort();
    }
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Unavailable(format!("kafka {what}: {e}"))
}

/// Settings every client of the log shares.
fn client_config(brokers: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("client.id", "confab")
        .set("socket.timeout.ms", "5000")
        .set("reconnect.backoff.ms", "50")
        .set("reconnect.backoff.max.ms", "1000")
        // librdkafka reports through callbacks and logs; the node logs through `tracing` itself.
        .set("log_level", "3");
    config
}

/// Runs a blocking librdkafka call off the async runtime.
async fn blocking<T: Send + 'static>(
    what: &'static str,
    call: impl FnOnce() -> std::result::Result<T, rdkafka::error::KafkaError> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|e| unavailable(what, e))?
        .map_err(|e| unavailable(what, e))
}

/// Creates `topic` with [`PARTITIONS`] partitions, replicated to up to 3 brokers, unless it
/// exists; an existing topic with fewer partitions is an error.
async fn ensure_topic(producer: &FutureProducer, brokers: &str, topic: &str) -> Result<()> {
    let metadata = {
        let client = producer.clone();
        // All topics: asking for one by name may make a broker auto-create it, with its default
        // partition count.
        blocking("metadata", move || client.client().fetch_metadata(None, REQUEST_TIMEOUT)).await?
    };
    let existing = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())
        .map(|t| t.partitions().len());
    match existing {
        Some(partitions) if partitions as u32 >= PARTITIONS => Ok(()),
        Some(partitions) => Err(unavailable(
            "topic",
            format!("{topic} has {partitions} partitions; Confab needs at least {PARTITIONS}"),
        )),
        None => {
            let replicas = metadata.brokers().len().clamp(1, 3) as i32;
            let admin: AdminClient<DefaultClientContext> =
                client_config(brokers).create().map_err(|e| unavailable("admin", e))?;
            let new_topic = NewTopic::new(topic, PARTITIONS as i32, TopicReplication::Fixed(replicas));
            let options = AdminOptions::new().operation_timeout(Some(REQUEST_TIMEOUT));
            let results =
                admin.create_topics([&new_topic], &options).await.map_err(|e| unavailable("topic", e))?;
            for result in results {
                match result {
                    Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                    Err((name, code)) => return Err(unavailable("topic", format!("{name}: {code}"))),
                }
            }
            tracing::info!(%topic, partitions = PARTITIONS, replicas, "kafka log: topic created");
            Ok(())
        }
    }
}

impl KafkaLog {
    /// Connects to the brokers (`host:port`, comma separated) and creates the topic for `prefix`
    /// when it is missing, replicated to up to 3 brokers.
    pub async fn connect(brokers: &str, prefix: &str) -> Result<KafkaLog> {
        let topic = format!("{prefix}-log");
        let producer: FutureProducer = client_config(brokers)
            // A record is stored once every in-sync replica has it.
            .set("acks", "all")
            // Latency first: a large group's message goes out as soon as it is committed.
            .set("linger.ms", "0")
            .set("message.timeout.ms", DELIVERY_TIMEOUT_MS)
            .set("message.max.bytes", "2097152")
            // The topic is made here, with its partitions, never by a broker's defaults.
            .set("allow.auto.create.topics", "false")
            .create()
            .map_err(|e| unavailable("client", e))?;
        ensure_topic(&producer, brokers, &topic).await?;
        // A broker that lost the topic (an in-memory one restarted, an operator deleted it) gets
        // it back, so appends and tails resume without restarting the nodes.
        let watchdog = {
            let (producer, brokers, topic) = (producer.clone(), brokers.to_string(), topic.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(TOPIC_CHECK).await;
                    if let Err(e) = ensure_topic(&producer, &brokers, &topic).await {
                        tracing::warn!(error = %e, "kafka log: topic check failed");
                    }
                }
            })
        };
        Ok(KafkaLog { producer, brokers: brokers.to_string(), topic, watchdog })
    }

    /// A consumer assigned every partition at its current end.
    async fn consumer(&self) -> Result<Arc<StreamConsumer>> {
        let consumer: StreamConsumer = client_config(&self.brokers)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            // A position the log no longer holds (lost with a broker, or past retention): read the
            // partition from its start rather than skip what arrived since.
            .set("auto.offset.reset", "earliest")
            .set("fetch.wait.max.ms", FETCH_WAIT_MS)
            .set("fetch.min.bytes", "1")
            .set("fetch.error.backoff.ms", "50")
            .create()
            .map_err(|e| unavailable("consumer", e))?;
        let consumer = Arc::new(consumer);
        // The ends are read before `tail` returns, so "from now on" starts here, not whenever the
        // first fetch happens.
        let ends = {
            let consumer = consumer.clone();
            let topic = self.topic.clone();
            blocking("watermarks", move || {
                (0..PARTITIONS as i32)
                    .map(|p| consumer.fetch_watermarks(&topic, p, REQUEST_TIMEOUT).map(|(_, high)| high))
                    .collect::<std::result::Result<Vec<i64>, _>>()
            })
            .await?
        };
        let mut assignment = TopicPartitionList::new();
        for (partition, end) in ends.into_iter().enumerate() {
            assignment
                .add_partition_offset(&self.topic, partition as i32, Offset::Offset(end))
                .map_err(|e| unavailable("assign", e))?;
        }
        consumer.assign(&assignment).map_err(|e| unavailable("assign", e))?;
        Ok(consumer)
    }
}

/// The dedup ids a tail read lately.
struct RecentIds {
    seen: HashSet<String>,
    order: VecDeque<String>,
}

impl RecentIds {
    fn new() -> RecentIds {
        RecentIds { seen: HashSet::new(), order: VecDeque::new() }
    }

    /// Whether `id` is new; remembers it, forgetting the oldest beyond [`DEDUP_WINDOW`].
    fn first_time(&mut self, id: &str) -> bool {
        if self.seen.contains(id) {
            return false;
        }
        if self.order.len() == DEDUP_WINDOW {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        self.seen.insert(id.to_string());
        self.order.push_back(id.to_string());
        true
    }
}

#[async_trait]
impl Log for KafkaLog {
    async fn append(&self, key: &str, payload: Bytes, dedup_id: Option<&str>) -> Result<()> {
        let mut record = FutureRecord::to(&self.topic)
            .key(key)
            .payload(payload.as_ref())
            .partition(partition_of(key) as i32);
        if let Some(id) = dedup_id {
            record =
                record.headers(OwnedHeaders::new().insert(Header { key: DEDUP_HEADER, value: Some(id) }));
        }
        // Zero queue timeout: a full local queue means the broker is not keeping up; say so now.
        self.producer.send(record, Duration::ZERO).await.map_err(|(e, _)| unavailable("append", e))?;
        Ok(())
    }

    async fn tail(&self) -> Result<BoxStream<'static, LogRecord>> {
        let consumer = self.consumer().await?;
        let (tx, rx) = mpsc::channel(TAIL_BUFFER);
        tokio::spawn(async move {
            let mut recent = RecentIds::new();
            loop {
                let message = tokio::select! {
                    message = consumer.recv() => message,
                    _ = tx.closed() => return,
                };
                let record = match message {
                    Ok(message) => {
                        let dedup = message.headers().and_then(|headers| {
                            headers
                                .iter()
                                .find(|h| h.key == DEDUP_HEADER)
                                .and_then(|h| h.value)
                                .and_then(|v| std::str::from_utf8(v).ok())
                                .map(str::to_string)
                        });
                        if dedup.is_some_and(|id| !recent.first_time(&id)) {
                            continue;
                        }
                        let key = message.key().and_then(|k| std::str::from_utf8(k).ok()).unwrap_or_default();
                        LogRecord {
                            key: key.to_string(),
                            payload: Bytes::copy_from_slice(message.payload().unwrap_or_default()),
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "kafka log: tail interrupted; librdkafka reconnects");
                        tokio::time::sleep(RETRY).await;
                        continue;
                    }
                };
                if tx.send(record).await.is_err() {
                    return;
                }
            }
        });
        Ok(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|r| (r, rx)) }).boxed())
    }

    async fn ping(&self) -> Result<()> {
        let client = self.producer.clone();
        let topic = self.topic.clone();
        blocking("ping", move || client.client().fetch_metadata(Some(&topic), REQUEST_TIMEOUT)).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::services_required;

    #[test]
    fn a_dedup_id_counts_once_within_the_window_and_old_ids_are_forgotten() {
        let mut recent = RecentIds::new();
        assert!(recent.first_time("a"));
        assert!(!recent.first_time("a"));
        for i in 0..DEDUP_WINDOW {
            assert!(recent.first_time(&i.to_string()));
        }
        assert_eq!(recent.order.len(), DEDUP_WINDOW);
        assert!(recent.first_time("a"), "forgotten once the window moved past it");
    }

    /// `CONFAB_TEST_KAFKA_BROKERS`, or a broker on the local default port.
    fn brokers() -> String {
        std::env::var("CONFAB_TEST_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
    }

    /// Deletes a test's topic when the test ends.
    struct TopicGuard(String);

    impl Drop for TopicGuard {
        fn drop(&mut self) {
            let topic = self.0.clone();
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                runtime.block_on(async {
                    let admin: AdminClient<DefaultClientContext> = client_config(&brokers()).create().ok()?;
                    admin.delete_topics(&[&topic], &AdminOptions::new()).await.ok()
                })
            })
            .join();
        }
    }

    /// Two nodes' logs on a topic of their own, so tests run in parallel.
    async fn two_nodes() -> Option<crate::conformance::Logs> {
        let prefix = format!("confab-log-test-{}", uuid::Uuid::new_v4().simple());
        let guard = TopicGuard(format!("{prefix}-log"));
        let mut logs = Vec::new();
        for _ in 0..2 {
            match KafkaLog::connect(&brokers(), &prefix).await {
                Ok(log) => logs.push(std::sync::Arc::new(log) as confab_core::log::SharedLog),
                Err(e) if !services_required() => {
                    eprintln!(
                        "Kafka broker not reachable ({e}); set CONFAB_REQUIRE_SERVICES=1 to make this a failure"
                    );
                    return None;
                }
                Err(e) => {
                    panic!("a Kafka broker is required (CONFAB_REQUIRE_SERVICES=1) but not reachable: {e}")
                }
            }
        }
        Some(crate::conformance::Logs { logs, _guard: Box::new(guard) })
    }

    crate::log_conformance_suite!(two_nodes());
}
