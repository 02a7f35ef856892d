//! The durable log boundary: large groups' committed messages travel from the committing node to
//! every node through a log on a real broker ("push for small, pull for large"), so their fan-out
//! costs the committing node one append, not a routing look-up per member.
//!
//! Guarantees an adapter gives:
//! - [`Log::append`] returns once the broker has stored the record; a record is appended under a
//!   key (a conversation id) and lands in the partition (subject) the key hashes to
//!   ([`partition_of`]), so the records of one key are read in the order they were appended.
//! - [`Log::tail`] reads every record appended after it returns, each once, in append order per
//!   key, until its receiver is dropped; it rides out broker reconnects.
//!
//! Every node tails the log itself and hands each record to its own connections of the
//! conversation's members: a node is a consumer of every partition, as every node may hold
//! members of any large group. Records are a conduit, not the history: the store is, so a record
//! lost with a broker is found by the node's gap fill or the client's sync like any lost frame.
//!
//! Adapters (crate `confab-log`, picked from `--log-url`): NATS JetStream. Without a log, every
//! conversation takes the bus (see [`crate::bus`]).

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::BoxStream;

use crate::error::Result;

/// Partitions (Kafka partitions, JetStream subjects) the log spreads keys over.
pub const PARTITIONS: u32 = 64;

/// One record read from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// The key it was appended under (a conversation id).
    pub key: String,
    pub payload: Bytes,
}

#[async_trait]
pub trait Log: Send + Sync {
    /// Appends `payload` under `key`; returns once the broker has stored it. `dedup_id`, when
    /// given, makes a retried append of the same record a no-op where the broker supports it.
    async fn append(&self, key: &str, payload: Bytes, dedup_id: Option<&str>) -> Result<()>;
    /// Starts reading every record appended from now on; the stream yields them until dropped.
    async fn tail(&self) -> Result<BoxStream<'static, LogRecord>>;
    /// Succeeds when the broker is reachable.
    async fn ping(&self) -> Result<()>;
}

pub type SharedLog = std::sync::Arc<dyn Log>;

/// The partition of `key`: FNV-1a, so every node and every adapter agrees without configuration.
pub fn partition_of(key: &str) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % u64::from(PARTITIONS)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_always_lands_in_the_same_partition_and_keys_spread() {
        assert_eq!(partition_of("conversation-a"), partition_of("conversation-a"));
        let used: std::collections::HashSet<u32> =
            (0..1000).map(|i| partition_of(&format!("c{i}"))).collect();
        assert!(used.iter().all(|p| *p < PARTITIONS));
        assert!(used.len() > (PARTITIONS as usize) * 3 / 4, "{} partitions used", used.len());
    }
}
