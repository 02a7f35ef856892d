//! The NATS JetStream log. One stream, `{prefix}-log`, holds subjects `{prefix}.log.{partition}`
//! (see [`confab_core::log::partition_of`]); each record carries its key in the `Confab-Key` header.
//! A stream is totally ordered, so the records of one key are read in the order they were stored.
//!
//! Each [`Log::tail`] is an ordered consumer of its own (ephemeral, no acks: a node only wants what
//! arrives while it runs). When the consumer fails (the server restarted, the connection dropped
//! for long), a new one starts right after the last record read, so nothing is skipped or read
//! twice while the stream still holds it.
//!
//! The stream keeps records for [`MAX_AGE`] and at most [`MAX_BYTES`], dropping the oldest: it is
//! a conduit, the store is the history.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use async_trait::async_trait;
use bytes::Bytes;
use confab_core::log::{partition_of, Log, LogRecord};
use confab_core::{Error, Result};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use tokio::sync::mpsc;

/// How long the stream keeps a record.
pub const MAX_AGE: Duration = Duration::from_secs(3600);
/// The most the stream holds; the oldest records go first.
pub const MAX_BYTES: i64 = 1 << 30;
/// The header naming a record's key.
const KEY_HEADER: &str = "Confab-Key";
/// Records read ahead of the node's handling of them.
const TAIL_BUFFER: usize = 4_096;
/// How many times a node tries to create its stream before giving up.
const CREATE_ATTEMPTS: u32 = 5;
/// Wait before a failed consumer is started again.
const RETRY: Duration = Duration::from_millis(200);

pub struct JetStreamLog {
    client: async_nats::Client,
    js: jetstream::Context,
    stream: String,
    prefix: String,
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Unavailable(format!("jetstream {what}: {e}"))
}

impl JetStreamLog {
    /// Connects to the server at `url` and creates the stream for `prefix` when it is missing.
    pub async fn connect(url: &str, prefix: &str) -> Result<JetStreamLog> {
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .name("confab")
            .connect(url)
            .await
            .map_err(|e| unavailable("connect", e))?;
        let js = jetstream::new(client.clone());
        let name = format!("{prefix}-log");
        let config = stream::Config {
            name: name.clone(),
            subjects: vec![format!("{prefix}.log.*")],
            storage: stream::StorageType::File,
            retention: stream::RetentionPolicy::Limits,
            discard: stream::DiscardPolicy::Old,
            max_age: MAX_AGE,
            max_bytes: MAX_BYTES,
            ..Default::default()
        };
        // The server can fail a stream's creation for a moment: when the last other stream of
        // the account is deleted, it removes the account's store directory, and a creation
        // running at that instant finds no directory ("error creating store for stream").
        let mut attempt = 1;
        loop {
            match js.get_or_create_stream(config.clone()).await {
                Ok(_) => break,
                Err(e) if attempt < CREATE_ATTEMPTS => {
                    tracing::warn!(error = %e, attempt, "jetstream log: stream not created yet; retrying");
                    attempt += 1;
                    tokio::time::sleep(RETRY).await;
                }
                Err(e) => return Err(unavailable("stream", e)),
            }
        }
        Ok(JetStreamLog { client, js, stream: name, prefix: prefix.to_string() })
    }

    fn subject(&self, key: &str) -> String {
        format!("{}.log.{}", self.prefix, partition_of(key))
    }

    /// An ordered consumer of every subject, starting at `start`.
    async fn consumer(&self, start: consumer::DeliverPolicy) -> Result<consumer::pull::Ordered> {
        let stream = self.js.get_stream(&self.stream).await.map_err(|e| unavailable("stream", e))?;
        let consumer = stream
            .create_consumer(consumer::pull::OrderedConfig {
                filter_subject: format!("{}.log.*", self.prefix),
                deliver_policy: start,
                ..Default::default()
            })
            .await
            .map_err(|e| unavailable("consumer", e))?;
        consumer.messages().await.map_err(|e| unavailable("consumer", e))
    }
}

#[async_trait]
impl Log for JetStreamLog {
    async fn append(&self, key: &str, payload: Bytes, dedup_id: Option<&str>) -> Result<()> {
        // Disconnected, the client would buffer the record and wait for an ack until its timeout:
        // the caller learns now, and takes another path.
        if self.client.connection_state() != async_nats::connection::State::Connected {
            return Err(unavailable("append", "not connected to the server"));
        }
        let mut publish =
            jetstream::message::PublishMessage::build().payload(payload).header(KEY_HEADER, key);
        if let Some(id) = dedup_id {
            publish = publish.message_id(id);
        }
        let ack =
            self.js.send_publish(self.subject(key), publish).await.map_err(|e| unavailable("append", e))?;
        ack.await.map_err(|e| unavailable("append", e))?;
        Ok(())
    }

    async fn tail(&self) -> Result<BoxStream<'static, LogRecord>> {
        // The first consumer exists before this returns: "from now on" starts here.
        let first = self.consumer(consumer::DeliverPolicy::New).await?;
        let (tx, rx) = mpsc::channel(TAIL_BUFFER);
        let log = JetStreamLog {
            client: self.client.clone(),
            js: self.js.clone(),
            stream: self.stream.clone(),
            prefix: self.prefix.clone(),
        };
        tokio::spawn(async move {
            let mut messages = Some(first);
            // The stream sequence of the last record handed on.
            let mut last: Option<u64> = None;
            loop {
                let mut current = match messages.take() {
                    Some(m) => m,
                    None => {
                        let start = match last {
                            Some(seq) => consumer::DeliverPolicy::ByStartSequence { start_sequence: seq + 1 },
                            None => consumer::DeliverPolicy::New,
                        };
                        match log.consumer(start).await {
                            Ok(m) => m,
                            Err(e) => {
                                if tx.is_closed() {
                                    return;
                                }
                                tracing::warn!(error = %e, "jetstream log: tail not restarted yet");
                                tokio::time::sleep(RETRY).await;
                                continue;
                            }
                        }
                    }
                };
                loop {
                    let message = tokio::select! {
                        message = current.next() => message,
                        _ = tx.closed() => return,
                    };
                    let message = match message {
                        Some(Ok(message)) => message,
                        Some(Err(e)) => {
                            tracing::warn!(error = %e, "jetstream log: tail interrupted; resuming after the last record");
                            break;
                        }
                        None => break,
                    };
                    let Ok(info) = message.info() else { continue };
                    let sequence = info.stream_sequence;
                    if last.is_some_and(|l| sequence <= l) {
                        continue;
                    }
                    last = Some(sequence);
                    let key = message
                        .headers
                        .as_ref()
                        .and_then(|h| h.get(KEY_HEADER))
                        .map(|v| v.as_str().to_string())
                        .unwrap_or_default();
                    let record = LogRecord { key, payload: message.payload.clone() };
                    if tx.send(record).await.is_err() {
                        return;
                    }
                }
                tokio::time::sleep(RETRY).await;
            }
        });
        Ok(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|r| (r, rx)) }).boxed())
    }

    async fn ping(&self) -> Result<()> {
        self.client.flush().await.map_err(|e| unavailable("ping", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `CONFAB_TEST_NATS_URL`, or the local server.
    fn nats_url() -> String {
        std::env::var("CONFAB_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
    }

    /// Deletes a test's stream when the test ends.
    struct StreamGuard(String);

    impl Drop for StreamGuard {
        fn drop(&mut self) {
            let name = self.0.clone();
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                runtime.block_on(async {
                    let client = async_nats::connect(nats_url()).await.ok()?;
                    jetstream::new(client).delete_stream(&name).await.ok()
                })
            })
            .join();
        }
    }

    /// Two nodes' logs on a prefix of their own, so tests run in parallel.
    async fn two_nodes() -> Option<crate::conformance::Logs> {
        let prefix = format!("confab-log-test-{}", uuid::Uuid::new_v4().simple());
        let guard = Box::new(StreamGuard(format!("{prefix}-log")));
        crate::conformance::two_nodes("NATS JetStream", guard, || async {
            Ok(std::sync::Arc::new(JetStreamLog::connect(&nats_url(), &prefix).await?)
                as confab_core::log::SharedLog)
        })
        .await
    }

    crate::log_conformance_suite!(two_nodes());
}
