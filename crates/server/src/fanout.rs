//! Fan-out of committed messages. The store hands each committed message to [`Dispatcher::submit`]
//! in commit order; a fixed set of dispatch tasks, sharded by conversation, looks up the members,
//! serializes `message.new` once and publishes it on the bus. Sharding by conversation keeps each
//! conversation's messages in sequence order while different conversations fan out in parallel.

use std::hash::BuildHasher;
use std::sync::Arc;

use bytes::Bytes;
use confab_core::bus::{Delivery, SharedBus};
use confab_core::store::SharedStore;
use confab_core::Result;
use confab_proto::{Message, ServerEnvelope, ServerFrame};
use dashmap::DashMap;
use tokio::sync::mpsc;

/// Member lists of conversations, kept in memory for fan-out, typing and receipts. A membership
/// change invalidates the entry on every node (the bus carries the notice); the next use reloads it
/// from the store.
#[derive(Default)]
pub struct MemberCache {
    members: DashMap<String, Arc<[String]>>,
}

impl MemberCache {
    pub async fn get(&self, store: &SharedStore, conversation_id: &str) -> Result<Arc<[String]>> {
        if let Some(members) = self.members.get(conversation_id) {
            return Ok(members.clone());
        }
        let members: Arc<[String]> = store.member_ids(conversation_id).await?.into();
        self.members.insert(conversation_id.to_string(), members.clone());
        Ok(members)
    }

    /// The cached member list, without going to the store.
    pub fn cached(&self, conversation_id: &str) -> Option<Arc<[String]>> {
        self.members.get(conversation_id).map(|m| m.clone())
    }

    /// Fails with `Forbidden` unless `user` is a member.
    pub async fn require(
        &self,
        store: &SharedStore,
        conversation_id: &str,
        user: &str,
    ) -> Result<Arc<[String]>> {
        let members = self.get(store, conversation_id).await?;
        if members.iter().any(|m| m == user) {
            Ok(members)
        } else {
            Err(confab_core::Error::not_member())
        }
    }

    pub fn invalidate(&self, conversation_id: &str) {
        self.members.remove(conversation_id);
    }
}

/// A committed message on its way to the members' devices.
pub struct Committed {
    pub message: Message,
    /// The connection that sent it, which does not get `message.new`.
    pub origin: Option<Arc<str>>,
}

/// Hands committed messages to the dispatch task of their conversation's shard.
#[derive(Clone)]
pub struct Dispatcher {
    shards: Arc<[mpsc::UnboundedSender<Committed>]>,
    hasher: std::collections::hash_map::RandomState,
}

impl Dispatcher {
    /// Starts `shards` dispatch tasks on the current runtime.
    pub fn start(shards: usize, store: SharedStore, bus: SharedBus, members: Arc<MemberCache>) -> Dispatcher {
        let senders: Vec<_> = (0..shards.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(run_shard(rx, store.clone(), bus.clone(), members.clone()));
                tx
            })
            .collect();
        Dispatcher { shards: senders.into(), hasher: Default::default() }
    }

    /// Queues a committed message; never blocks (it is called on the store's commit thread).
    pub fn submit(&self, committed: Committed) {
        let hash = self.hasher.hash_one(&committed.message.conversation_id);
        let shard = (hash % self.shards.len() as u64) as usize;
        if self.shards[shard].send(committed).is_err() {
            tracing::warn!("fan-out is stopped; a message was stored but not pushed (clients will sync)");
        }
    }
}

async fn run_shard(
    mut rx: mpsc::UnboundedReceiver<Committed>,
    store: SharedStore,
    bus: SharedBus,
    members: Arc<MemberCache>,
) {
    while let Some(Committed { message, origin }) = rx.recv().await {
        let recipients = match members.get(&store, &message.conversation_id).await {
            Ok(m) => m,
            Err(e) => {
                // Stored and acknowledged, so not lost: recipients find it through gap detection and sync.
                tracing::warn!(error = %e, conversation = %message.conversation_id, "fan-out skipped");
                continue;
            }
        };
        let frame = ServerEnvelope::new(None, ServerFrame::MessageNew(message)).to_json();
        bus.publish(Delivery { recipients, frame: Bytes::from(frame), skip_connection: origin });
        metrics::counter!("confab_messages_fanned_out_total").increment(1);
    }
}
