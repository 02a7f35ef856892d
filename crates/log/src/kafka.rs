//! The Kafka-protocol log (Apache Kafka, Redpanda, tansu, …) through rskafka, a pure-Rust client.
//!
//! One topic, `{prefix}-log`, with [`PARTITIONS`] partitions; a record goes to partition
//! [`partition_of`] of its key (the conversation id), so the records of one key are read in the
//! order they were stored. The key is the Kafka record key.
//!
//! Each [`Log::tail`] reads every partition from the end it had when the tail started (no
//! consumer group: every node reads everything, and a node only wants what arrives while it
//! runs). A broker answers one request of a connection at a time, and a fetch may wait at the
//! broker for records, so each partition is read over a connection of its own: one quiet
//! partition never holds up another. When a partition's position is no longer in the log (the
//! broker lost its data, or retention dropped it), the tail reads it from its earliest record.
//!
//! Kafka keeps no table of message ids, so a retried append is dropped by the tail instead: a
//! record carries its dedup id in the `confab-dedup` header and each tail skips an id it read among
//! the last [`DEDUP_WINDOW`] ids.
//!
//! Retention is the broker's (`retention.ms`): records are a conduit, the store is the history.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use confab_core::log::{partition_of, Log, LogRecord, PARTITIONS};
use confab_core::{Error, Result};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use rskafka::client::error::{Error as KafkaError, ProtocolError};
use rskafka::client::partition::{Compression, OffsetAt, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};
use rskafka::record::Record;
use rskafka::BackoffConfig;
use tokio::sync::mpsc;

/// The header carrying a record's dedup id.
const DEDUP_HEADER: &str = "confab-dedup";
/// How many recent dedup ids a tail remembers.
pub const DEDUP_WINDOW: usize = 65_536;
/// Records read ahead of the node's handling of them.
const TAIL_BUFFER: usize = 4_096;
/// How long a fetch waits at the broker for records before answering empty. Kafka answers as soon
/// as a record arrives; some brokers (tansu) only when about half of this has passed, which then
/// bounds how late a record reaches the tails.
const FETCH_WAIT_MS: i32 = 250;
/// The most one fetch reads.
const FETCH_MAX_BYTES: i32 = 4 << 20;
/// How long a topic request may take.
const REQUEST_TIMEOUT_MS: i32 = 5_000;
/// How often a node checks that the topic still exists.
const TOPIC_CHECK: Duration = Duration::from_secs(5);
/// Wait after a failed fetch before the next.
const RETRY: Duration = Duration::from_millis(200);

pub struct KafkaLog {
    brokers: Vec<String>,
    topic: String,
    /// The node's connection for appends, topic checks and pings.
    client: Arc<Client>,
    /// The producing side's partition clients, one per partition, over one connection per broker.
    partitions: Vec<PartitionClient>,
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

/// A client of the brokers whose retries end: the callers have paths of their own to take.
async fn client(brokers: &[String]) -> Result<Client> {
    ClientBuilder::new(brokers.to_vec())
        .client_id("confab")
        .backoff_config(BackoffConfig {
            init_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(1),
            base: 2.,
            deadline: Some(Duration::from_secs(5)),
        })
        .build()
        .await
        .map_err(|e| unavailable("connect", e))
}

/// Creates `topic` with [`PARTITIONS`] partitions unless it exists (replicated to as many of the
/// named brokers as there are, up to 3); an existing topic with fewer partitions is an error.
async fn ensure_topic(client: &Client, topic: &str, replicas: i16) -> Result<()> {
    let topics = client.list_topics().await.map_err(|e| unavailable("metadata", e))?;
    match topics.iter().find(|t| t.name == topic).map(|t| t.partitions.len()) {
        Some(partitions) if partitions as u32 >= PARTITIONS => Ok(()),
        Some(partitions) => Err(unavailable(
            "topic",
            format!("{topic} has {partitions} partitions; Confab needs at least {PARTITIONS}"),
        )),
        None => {
            let controller = client.controller_client().map_err(|e| unavailable("topic", e))?;
            match controller.create_topic(topic, PARTITIONS as i32, replicas, REQUEST_TIMEOUT_MS).await {
                Ok(()) => {
                    tracing::info!(%topic, partitions = PARTITIONS, replicas, "kafka log: topic created");
                    Ok(())
                }
                // Another node made it first.
                Err(KafkaError::ServerError {
                    protocol_error: ProtocolError::TopicAlreadyExists, ..
                }) => Ok(()),
                Err(e) => Err(unavailable("topic", e)),
            }
        }
    }
}

impl KafkaLog {
    /// Connects to the brokers (`host:port`, comma separated) and creates the topic for `prefix`
    /// when it is missing.
    pub async fn connect(brokers: &str, prefix: &str) -> Result<KafkaLog> {
        let brokers: Vec<String> = brokers.split(',').map(str::to_string).collect();
        let topic = format!("{prefix}-log");
        let replicas = brokers.len().clamp(1, 3) as i16;
        let producer = Arc::new(client(&brokers).await?);
        ensure_topic(&producer, &topic, replicas).await?;
        let mut partitions = Vec::with_capacity(PARTITIONS as usize);
        for partition in 0..PARTITIONS as i32 {
            // Retry: right after the topic is made, a broker may not know it yet.
            let client = producer
                .partition_client(topic.clone(), partition, UnknownTopicHandling::Retry)
                .await
                .map_err(|e| unavailable("partition", e))?;
            partitions.push(client);
        }
        // A broker that lost the topic (an in-memory one restarted, an operator deleted it) gets
        // it back, so appends and tails resume without restarting the nodes.
        let watchdog = {
            let (producer, topic) = (producer.clone(), topic.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(TOPIC_CHECK).await;
                    if let Err(e) = ensure_topic(&producer, &topic, replicas).await {
                        tracing::warn!(error = %e, "kafka log: topic check failed");
                    }
                }
            })
        };
        Ok(KafkaLog { brokers, topic, client: producer, partitions, watchdog })
    }

    /// A reader of `partition` over a connection of its own, and the partition's current end.
    async fn reader(&self, partition: i32) -> Result<(PartitionClient, i64)> {
        let client = client(&self.brokers).await?;
        let reader = client
            .partition_client(self.topic.clone(), partition, UnknownTopicHandling::Retry)
            .await
            .map_err(|e| unavailable("partition", e))?;
        let end = reader.get_offset(OffsetAt::Latest).await.map_err(|e| unavailable("offset", e))?;
        Ok((reader, end))
    }
}

/// The earliest offset `reader`'s partition holds; `None` (after a pause) when the broker does not
/// answer, so the caller tries again.
async fn earliest(reader: &PartitionClient) -> Option<i64> {
    match reader.get_offset(OffsetAt::Earliest).await {
        Ok(earliest) => Some(earliest),
        Err(e) => {
            tracing::warn!(error = %e, partition = reader.partition(), "kafka log: no earliest offset");
            tokio::time::sleep(RETRY).await;
            None
        }
    }
}

/// Reads `reader`'s partition from `offset` into `tx` until `tx` closes.
async fn follow(reader: PartitionClient, mut offset: i64, tx: mpsc::Sender<(Option<String>, LogRecord)>) {
    loop {
        let fetched = tokio::select! {
            fetched = reader.fetch_records(offset, 1..FETCH_MAX_BYTES, FETCH_WAIT_MS) => fetched,
            _ = tx.closed() => return,
        };
        let records = match fetched {
            // Past the end: a broker that lost its data (an in-memory one restarted) may answer
            // so rather than with an error. Everything it holds came after what this tail read.
            Ok((records, high_watermark)) if records.is_empty() && offset > high_watermark => {
                offset = earliest(&reader).await.unwrap_or(offset);
                continue;
            }
            Ok((records, _)) => records,
            Err(KafkaError::ServerError { protocol_error: ProtocolError::OffsetOutOfRange, .. }) => {
                // The broker no longer holds this position (it lost its data, or retention passed
                // it): what it holds now came after what this tail read.
                offset = earliest(&reader).await.unwrap_or(offset);
                continue;
            }
            Err(e) => {
                if tx.is_closed() {
                    return;
                }
                tracing::warn!(error = %e, partition = reader.partition(), "kafka log: fetch failed; retrying");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        for record in records {
            if record.offset < offset {
                continue;
            }
            offset = record.offset + 1;
            let Record { key, value, headers, .. } = record.record;
            let dedup = headers.get(DEDUP_HEADER).and_then(|v| String::from_utf8(v.clone()).ok());
            let key = key.and_then(|k| String::from_utf8(k).ok()).unwrap_or_default();
            let record = LogRecord { key, payload: Bytes::from(value.unwrap_or_default()) };
            if tx.send((dedup, record)).await.is_err() {
                return;
            }
        }
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
        let partition = &self.partitions[partition_of(key) as usize % self.partitions.len()];
        let mut headers = BTreeMap::new();
        if let Some(id) = dedup_id {
            headers.insert(DEDUP_HEADER.to_string(), id.as_bytes().to_vec());
        }
        let record = Record {
            key: Some(key.as_bytes().to_vec()),
            value: Some(payload.to_vec()),
            headers,
            timestamp: chrono::Utc::now(),
        };
        partition
            .produce(vec![record], Compression::NoCompression)
            .await
            .map_err(|e| unavailable("append", e))?;
        Ok(())
    }

    async fn tail(&self) -> Result<BoxStream<'static, LogRecord>> {
        // Every partition's end is read before this returns: "from now on" starts here.
        let readers =
            futures_util::future::try_join_all((0..PARTITIONS as i32).map(|p| self.reader(p))).await?;
        let (records_tx, mut records_rx) = mpsc::channel(TAIL_BUFFER);
        for (reader, end) in readers {
            tokio::spawn(follow(reader, end, records_tx.clone()));
        }
        drop(records_tx);
        let (tx, rx) = mpsc::channel(TAIL_BUFFER);
        tokio::spawn(async move {
            let mut recent = RecentIds::new();
            loop {
                let next = tokio::select! {
                    next = records_rx.recv() => next,
                    _ = tx.closed() => return,
                };
                let Some((dedup, record)) = next else { return };
                if dedup.is_some_and(|id| !recent.first_time(&id)) {
                    continue;
                }
                if tx.send(record).await.is_err() {
                    return;
                }
            }
        });
        Ok(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|r| (r, rx)) }).boxed())
    }

    async fn ping(&self) -> Result<()> {
        self.client.list_topics().await.map_err(|e| unavailable("ping", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
                    let brokers: Vec<String> = brokers().split(',').map(str::to_string).collect();
                    let client = client(&brokers).await.ok()?;
                    client.controller_client().ok()?.delete_topic(topic, REQUEST_TIMEOUT_MS).await.ok()
                })
            })
            .join();
        }
    }

    /// Two nodes' logs on a topic of their own, so tests run in parallel.
    async fn two_nodes() -> Option<crate::conformance::Logs> {
        let prefix = format!("confab-log-test-{}", uuid::Uuid::new_v4().simple());
        let guard = Box::new(TopicGuard(format!("{prefix}-log")));
        crate::conformance::two_nodes("a Kafka broker", guard, || async {
            Ok(Arc::new(KafkaLog::connect(&brokers(), &prefix).await?) as confab_core::log::SharedLog)
        })
        .await
    }

    crate::log_conformance_suite!(two_nodes());
}
