//! Large groups' fan-out through the durable log ("push for small, pull for large"). A committed
//! message of a conversation with at least `--log-fanout-threshold` members is appended to the
//! log once, keyed by its conversation, instead of being routed member by member over the bus;
//! every node tails the log ([`follow`]) and hands each record to its own connections of the
//! conversation's members, through [`Ordering`] like any `message.new`. Smaller conversations keep
//! the bus. When an append fails or takes longer than [`APPEND_TIMEOUT`], that message takes the
//! bus instead (see [`crate::fanout`]), and so does every large group's message for the next
//! [`PAUSE`], so a broker that stops answering delays at most one message per pause, not every
//! message (a broker the node is disconnected from fails the append at once); a late append that
//! lands anyway is dropped by each node's cursor, as the bus already delivered it.
//!
//! A record is the frame with its place: `conversation\nsequence\norigin\n` then the serialized
//! `message.new` (origin empty when no connection sent it). Its dedup id is
//! `conversation:sequence`, so a repeated append is stored once where the broker dedups.

use std::sync::atomic::{AtomicI64, Ordering as AtomicOrdering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use confab_core::bus::{Delivery, Order};
use confab_core::log::{LogRecord, SharedLog};
use confab_core::store::SharedStore;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;

use crate::fanout::MemberCache;
use crate::hub::Hub;
use crate::ordering::Ordering;

/// The longest an append may take before its message takes the bus.
pub const APPEND_TIMEOUT: Duration = Duration::from_secs(2);
/// How long large groups take the bus after an append failed.
pub const PAUSE: Duration = Duration::from_secs(5);

/// Where large groups' messages go, and from which size on.
#[derive(Clone)]
pub struct LogFanout {
    pub log: SharedLog,
    /// Conversations with at least this many members go through the log.
    threshold: usize,
    /// Until when (ms since the epoch) the log is passed over after a failed append.
    paused_until: Arc<AtomicI64>,
}

impl LogFanout {
    pub fn new(log: SharedLog, threshold: usize) -> LogFanout {
        LogFanout { log, threshold, paused_until: Arc::new(AtomicI64::new(0)) }
    }

    /// Whether a message of a conversation of `members` members goes through the log now.
    pub fn takes(&self, members: usize) -> bool {
        members >= self.threshold
            && confab_core::ids::now_millis() >= self.paused_until.load(AtomicOrdering::Relaxed)
    }

    /// Appends one `message.new` frame; returns once the log has stored it. A failure pauses the
    /// log for [`PAUSE`].
    pub async fn append(&self, order: &Order, origin: Option<&str>, frame: &[u8]) -> confab_core::Result<()> {
        let dedup = format!("{}:{}", order.conversation_id, order.sequence);
        let append = self.log.append(&order.conversation_id, encode(order, origin, frame), Some(&dedup));
        let result = match tokio::time::timeout(APPEND_TIMEOUT, append).await {
            Ok(result) => result,
            Err(_) => Err(confab_core::Error::Unavailable("log append timed out".into())),
        };
        if result.is_err() {
            let until = confab_core::ids::now_millis() + PAUSE.as_millis() as i64;
            self.paused_until.store(until, AtomicOrdering::Relaxed);
        }
        result
    }
}

fn encode(order: &Order, origin: Option<&str>, frame: &[u8]) -> Bytes {
    let origin = origin.unwrap_or("");
    let mut out = BytesMut::with_capacity(order.conversation_id.len() + origin.len() + frame.len() + 24);
    out.put_slice(order.conversation_id.as_bytes());
    out.put_u8(b'\n');
    out.put_slice(order.sequence.to_string().as_bytes());
    out.put_u8(b'\n');
    out.put_slice(origin.as_bytes());
    out.put_u8(b'\n');
    out.put_slice(frame);
    out.freeze()
}

/// A record's place, origin and frame; `None` for a record this version cannot read.
fn decode(payload: &Bytes) -> Option<(Order, Option<Arc<str>>, Bytes)> {
    let mut rest: &[u8] = payload;
    let mut line = || {
        let end = rest.iter().position(|b| *b == b'\n')?;
        let (head, tail) = rest.split_at(end);
        rest = &tail[1..];
        std::str::from_utf8(head).ok()
    };
    let conversation = line()?;
    let sequence: u64 = line()?.parse().ok()?;
    let origin = line()?;
    if conversation.is_empty() {
        return None;
    }
    let order = Order { conversation_id: conversation.into(), sequence };
    let origin = (!origin.is_empty()).then(|| Arc::from(origin));
    let frame = payload.slice(payload.len() - rest.len()..);
    Some((order, origin, frame))
}

/// Hands every record of `tail` to this node's connections of its conversation's members, until
/// the tail ends. A frame names only the members connected here when it arrives: one who connects
/// later gets the message from the sync every connection starts with.
pub(crate) async fn follow(
    mut tail: BoxStream<'static, LogRecord>,
    store: SharedStore,
    members: Arc<MemberCache>,
    ordering: Arc<Ordering>,
    hub: Arc<Hub>,
) {
    while let Some(record) = tail.next().await {
        metrics::counter!("confab_log_records_read_total").increment(1);
        let Some((order, origin, frame)) = decode(&record.payload) else {
            tracing::warn!(key = %record.key, "log: a record this node cannot read was skipped");
            continue;
        };
        let recipients: Arc<[String]> = match members.get(&store, &order.conversation_id).await {
            Ok(members) => hub.members_here(&members).into(),
            Err(e) => {
                // Committed, so not lost: the members' devices find it by gap detection and sync.
                tracing::warn!(error = %e, conversation = %order.conversation_id, "log: delivery skipped");
                continue;
            }
        };
        ordering.deliver(&Delivery { recipients, frame, skip_connection: origin, order: Some(order) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_as_written_and_garbage_is_refused() {
        let order = Order { conversation_id: "c-1".into(), sequence: 42 };
        let frame = br#"{"type":"message.new","payload":{"text":"a\nb"}}"#;
        let (back, origin, body) = decode(&encode(&order, Some("conn-7"), frame)).expect("decodes");
        assert_eq!((back, origin.as_deref(), body.as_ref()), (order.clone(), Some("conn-7"), &frame[..]));
        let (_, origin, _) = decode(&encode(&order, None, frame)).expect("decodes");
        assert_eq!(origin, None);
        for garbage in [&b""[..], b"c\nnot-a-number\n\n{}", b"\n1\n\n{}", b"c\n1"] {
            assert!(decode(&Bytes::copy_from_slice(garbage)).is_none(), "{garbage:?}");
        }
    }
}
