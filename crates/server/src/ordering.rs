//! Per-conversation order on this node: the `message.new` frames of one conversation reach this
//! node's connections in ascending `sequenceNumber`, with no holes, whichever nodes committed and
//! published them. In a cluster they come through Redis from several publishers, whose frames
//! race each other; on any node, a fan-out queue that spilled skips some.
//!
//! When another node dies, its last messages may be committed but never published, and nothing
//! later may come to reveal the hole: every node then reads back what was committed shortly
//! before the dead node was last heard from and hands out what its cursors say did not go out
//! ([`Ordering::catch_up`]).
//!
//! Each conversation has a cursor here: the next sequence number to hand out. A frame at the
//! cursor goes out at once, followed by any held frames it unblocks. A frame ahead of the cursor
//! is held; if what it waits for has not arrived within [`HOLD`], the missing messages are read
//! from the store (they are committed: sequence numbers are assigned at commit, with no gaps) and
//! handed out first, each only to the connections opened before it was committed (a connection
//! opened later synced it when it connected). A frame behind the cursor was handed out already
//! and is dropped.
//!
//! A node hears only of messages with recipients connected to it, so a cursor can be behind
//! because nobody here was connected for a while; the fill then finds no connection old enough
//! and sends nothing. At most [`MAX_FILL`] missing messages are read back; older ones are left to
//! sync.
//!
//! A conversation's first frame on this node (message N) is held while the store says where its
//! stream starts: at the oldest message before N committed within [`RACE`] of N, since those may
//! still be on their way from other publishers (or never come, if their publisher died) and
//! nothing of this conversation went out here yet; they are then waited for and filled like any
//! gap. Older ones went out long ago or were never meant for this node. A frame older than the
//! start that arrives anyway goes out at once, out of order, rather than be lost. Cursors idle for
//! [`IDLE`] with nothing held are forgotten (a frame still on its way after that long is not
//! expected), so memory follows the conversations active recently; the check runs now and then
//! as frames arrive (no timer of its own).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use confab_core::bus::{Delivery, Order};
use confab_core::store::{HistoryCursor, SharedStore};
use confab_proto::{ServerEnvelope, ServerFrame};
use dashmap::DashMap;
use parking_lot::Mutex;

use crate::fanout::MemberCache;
use crate::hub::Hub;

/// How long a frame ahead of its conversation's cursor waits for the frames before it, before
/// they are read from the store.
pub const HOLD: Duration = Duration::from_millis(50);
/// Most messages read back from the store for one hole (the newest of it).
pub const MAX_FILL: u64 = 1_000;
/// Cursors untouched this long, with nothing held, are forgotten.
pub const IDLE: Duration = Duration::from_secs(300);
/// Frames held for one conversation before its gap is filled at once.
const MAX_HELD: usize = 4_096;
/// Messages read from the store per request while filling a gap.
const FILL_PAGE: u32 = 200;
/// How long before a conversation's first frame here a message may have been committed and still
/// be on its way: its stream starts at the oldest such message.
pub const RACE: Duration = Duration::from_secs(2);
/// Messages before the first frame read to find where the stream starts.
const START_PAGE: u64 = 32;
/// After a node died, messages it committed since this long before it was last heard from are
/// read back: one committed earlier waited in its fan-out queue at most this long.
pub const CATCH_UP_MARGIN: Duration = Duration::from_secs(10);
/// Conversations read back after a node died, at most (the most recently active).
const CATCH_UP_CONVERSATIONS: u32 = 100_000;

/// One conversation's cursor and what waits behind a gap.
struct Stream {
    next: u64,
    /// The first sequence number this node saw of the conversation: anything older was never
    /// handed out here.
    floor: u64,
    held: BTreeMap<u64, Delivery>,
    /// Sequence numbers below `floor` handed out anyway (late frames, messages read back after a
    /// node died), so that none goes out twice; at most [`MAX_HELD`], the oldest forgotten first.
    late: BTreeSet<u64>,
    /// A fill task is waiting or running for this conversation.
    filling: bool,
    /// The stream's start is being looked up: everything is held until [`Streams::begin`].
    starting: bool,
    touched: Instant,
}

/// What [`Streams::catch_up`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum CaughtUp {
    /// Handed out what was missing here; `fill` when a gap before a held frame is left and no
    /// fill is running for it (the caller starts one).
    Done { handed_out: u64, fill: bool },
    /// The stream's start is being looked up: try again shortly.
    Busy,
}

/// What [`Streams::accept`] did with a frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Accepted {
    /// Handed out (with any it unblocked).
    Delivered,
    /// Held; the caller starts a fill when `fill` is set (none was pending).
    Held { fill: bool },
    /// Behind the cursor: a repeat, dropped.
    Stale,
    /// The conversation's first frame here, held: the caller looks up where its stream starts and
    /// calls [`Streams::begin`].
    Starting,
}

/// The cursors of this node's conversations. Handing out happens under the conversation's lock,
/// so two frames of one conversation are never handed out out of order by racing callers.
#[derive(Default)]
pub struct Streams {
    streams: DashMap<Arc<str>, Arc<Mutex<Stream>>>,
}

impl Streams {
    /// Takes in `delivery` (at `order`), handing out through `out` whatever is now in order.
    pub fn accept(
        &self,
        delivery: &Delivery,
        order: &Order,
        now: Instant,
        out: impl Fn(&Delivery),
    ) -> Accepted {
        let mut created = false;
        let stream = self
            .streams
            .entry(order.conversation_id.clone())
            .or_insert_with(|| {
                created = true;
                Arc::new(Mutex::new(Stream {
                    next: order.sequence,
                    floor: order.sequence,
                    held: BTreeMap::new(),
                    late: BTreeSet::new(),
                    filling: false,
                    // The very first message has nothing before it to wait for.
                    starting: order.sequence > 1,
                    touched: now,
                }))
            })
            .clone();
        let mut s = stream.lock();
        s.touched = now;
        if s.starting {
            s.held.insert(order.sequence, delivery.clone());
            return if created { Accepted::Starting } else { Accepted::Held { fill: false } };
        }
        if order.sequence < s.floor {
            // Older than the first frame seen here, so not handed out with the stream: late, but
            // not lost (unless it went out late already).
            if !handed_out_late(&mut s, order.sequence) {
                return Accepted::Stale;
            }
            out(delivery);
            return Accepted::Delivered;
        }
        if order.sequence < s.next {
            return Accepted::Stale;
        }
        if order.sequence > s.next {
            s.held.insert(order.sequence, delivery.clone());
            let fill = !s.filling;
            s.filling = true;
            return Accepted::Held { fill };
        }
        out(delivery);
        s.next += 1;
        release(&mut s, &out);
        Accepted::Delivered
    }

    /// Sets where a starting stream begins (`start`: the oldest message that may still be on its
    /// way, see the module doc), hands out what is then in order, and says whether a gap is left
    /// to fill (the caller fills it as any other).
    pub fn begin(&self, conversation: &str, start: u64, out: impl Fn(&Delivery)) -> bool {
        let Some(stream) = self.streams.get(conversation).map(|s| s.clone()) else { return false };
        let mut s = stream.lock();
        if !s.starting {
            return false;
        }
        s.starting = false;
        let start = s.held.keys().next().map_or(start, |&first| first.min(start));
        s.next = start;
        s.floor = start;
        release(&mut s, &out);
        let gap = !s.held.is_empty();
        s.filling = gap;
        gap
    }

    /// The gap of `conversation` still to fill: `[next, first held)`; `None` when there is none
    /// (the frames arrived meanwhile), which also ends the fill.
    pub fn gap(&self, conversation: &str) -> Option<(u64, u64)> {
        let stream = self.streams.get(conversation)?.clone();
        let mut s = stream.lock();
        match s.held.keys().next() {
            Some(&first) if first > s.next => Some((s.next, first)),
            _ => {
                s.filling = false;
                None
            }
        }
    }

    /// Hands out the messages read from the store for a gap (`filled`, ascending, each with its
    /// sequence number), then everything they unblock. What was not read back is stepped over (the
    /// cursor jumps to the first held frame): nobody here needed it, or the store no longer has it
    /// (clients fetch it with sync). Returns whether a
    /// later gap remains (the fill goes on).
    /// `filled` holds each message's sequence number, delivery and commit time; `out_filled` hands
    /// one out to the connections opened before that time, `out` hands out held frames.
    pub fn fill(
        &self,
        conversation: &str,
        filled: Vec<(u64, Delivery, i64)>,
        out_filled: impl Fn(&Delivery, i64),
        out: impl Fn(&Delivery),
    ) -> bool {
        let Some(stream) = self.streams.get(conversation).map(|s| s.clone()) else { return false };
        let mut s = stream.lock();
        for (sequence, delivery, committed_at) in filled {
            if sequence == s.next {
                out_filled(&delivery, committed_at);
                s.next += 1;
            }
        }
        if let Some(&first) = s.held.keys().next() {
            if first > s.next {
                metrics::counter!("confab_order_gaps_skipped_total").increment(1);
                tracing::warn!(
                    conversation,
                    from = s.next,
                    to = first - 1,
                    "messages not in the store skipped"
                );
                s.next = first;
            }
        }
        release(&mut s, &out);
        let more = !s.held.is_empty();
        s.filling = more;
        more
    }

    /// Hands out messages read back from the store after a node died (`filled`, ascending, as
    /// in [`Streams::fill`]) that this node has not handed out: those from the cursor on, those
    /// older than where the stream began here that did not go out late, and all of them when the
    /// conversation has no cursor here (nothing of it went out recently). A message missing from
    /// `filled` is no longer in the store and is stepped over.
    pub fn catch_up(
        &self,
        conversation: &str,
        filled: &[(u64, Delivery, i64)],
        now: Instant,
        out_filled: impl Fn(&Delivery, i64),
        out: impl Fn(&Delivery),
    ) -> CaughtUp {
        let Some(first) = filled.first().map(|(sequence, ..)| *sequence) else {
            return CaughtUp::Done { handed_out: 0, fill: false };
        };
        let stream = self
            .streams
            .entry(conversation.into())
            .or_insert_with(|| {
                Arc::new(Mutex::new(Stream {
                    next: first,
                    floor: first,
                    held: BTreeMap::new(),
                    late: BTreeSet::new(),
                    filling: false,
                    starting: false,
                    touched: now,
                }))
            })
            .clone();
        let mut s = stream.lock();
        if s.starting {
            return CaughtUp::Busy;
        }
        s.touched = now;
        let mut handed_out = 0;
        for (sequence, delivery, committed_at) in filled {
            if *sequence >= s.next {
                out_filled(delivery, *committed_at);
                s.next = sequence + 1;
                handed_out += 1;
            } else if *sequence < s.floor && handed_out_late(&mut s, *sequence) {
                // Committed before the stream here began and never handed out: late, not lost.
                out_filled(delivery, *committed_at);
                handed_out += 1;
            }
        }
        release(&mut s, &out);
        let fill = !s.held.is_empty() && !s.filling;
        s.filling |= fill;
        CaughtUp::Done { handed_out, fill }
    }

    /// Where the stream of `conversation` began here and its cursor (the next sequence number to
    /// hand out).
    pub fn span(&self, conversation: &str) -> Option<(u64, u64)> {
        self.streams.get(conversation).map(|s| {
            let s = s.lock();
            (s.floor, s.next)
        })
    }

    #[cfg(test)]
    fn next(&self, conversation: &str) -> Option<u64> {
        self.span(conversation).map(|(_, next)| next)
    }

    /// Whether `conversation` holds so many frames that its gap is filled without waiting.
    pub fn crowded(&self, conversation: &str) -> bool {
        self.streams.get(conversation).is_some_and(|s| s.lock().held.len() >= MAX_HELD)
    }

    /// Forgets cursors untouched since `now - IDLE` with nothing held; returns how many are kept.
    pub fn prune(&self, now: Instant) -> usize {
        self.streams.retain(|_, s| {
            let s = s.lock();
            s.filling || s.starting || !s.held.is_empty() || now.duration_since(s.touched) < IDLE
        });
        self.streams.len()
    }
}

/// Records that `sequence`, below the stream's floor, goes out now; false if it went out already.
fn handed_out_late(s: &mut Stream, sequence: u64) -> bool {
    if !s.late.insert(sequence) {
        return false;
    }
    if s.late.len() > MAX_HELD {
        s.late.pop_first();
    }
    true
}

/// Hands out the held frames that follow the cursor, advancing it.
fn release(s: &mut Stream, out: &impl Fn(&Delivery)) {
    while let Some(delivery) = s.held.remove(&s.next) {
        out(&delivery);
        s.next += 1;
    }
    // Anything left behind the cursor (handed out meanwhile by a fill) is a repeat.
    while s.held.first_key_value().is_some_and(|(&k, _)| k < s.next) {
        s.held.pop_first();
    }
}

/// This node's ordering: the cursors, and what filling a gap needs.
pub struct Ordering {
    streams: Streams,
    /// Where frames in order go: this node's connections.
    hub: Arc<Hub>,
    store: SharedStore,
    members: Arc<MemberCache>,
    hold: Duration,
    /// Frames taken in, to look for idle cursors every so many.
    taken: AtomicU64,
    last_prune: Mutex<Instant>,
}

/// Idle cursors are looked for every this many frames, at most once a minute.
const PRUNE_EVERY: u64 = 1_024;

impl Ordering {
    pub fn new(
        hub: Arc<Hub>,
        store: SharedStore,
        members: Arc<MemberCache>,
        hold: Duration,
    ) -> Arc<Ordering> {
        Arc::new(Ordering {
            streams: Streams::default(),
            hub,
            store,
            members,
            hold,
            taken: AtomicU64::new(0),
            last_prune: Mutex::new(Instant::now()),
        })
    }

    fn maybe_prune(&self) {
        if !self.taken.fetch_add(1, AtomicOrdering::Relaxed).is_multiple_of(PRUNE_EVERY) {
            return;
        }
        let now = Instant::now();
        let mut last = self.last_prune.lock();
        if now.duration_since(*last) >= Duration::from_secs(60) {
            *last = now;
            drop(last);
            self.streams.prune(now);
        }
    }

    /// Hands `delivery` to this node's connections in its conversation's order (see the module
    /// doc); a delivery with no order goes out at once.
    pub fn deliver(self: &Arc<Self>, delivery: &Delivery) {
        let Some(order) = &delivery.order else {
            self.hub.deliver(delivery);
            return;
        };
        self.maybe_prune();
        match self.streams.accept(delivery, order, Instant::now(), |d| self.hub.deliver(d)) {
            Accepted::Held { fill: true } => {
                let (this, conversation) = (self.clone(), order.conversation_id.clone());
                tokio::spawn(async move { this.fill(&conversation).await });
            }
            Accepted::Starting => {
                let (this, conversation, first) =
                    (self.clone(), order.conversation_id.clone(), order.sequence);
                tokio::spawn(async move {
                    let start = this.start_of(&conversation, first).await;
                    if this.streams.begin(&conversation, start, |d| this.hub.deliver(d)) {
                        this.fill(&conversation).await;
                    }
                });
            }
            Accepted::Stale => metrics::counter!("confab_order_repeats_dropped_total").increment(1),
            Accepted::Delivered | Accepted::Held { fill: false } => {}
        }
    }

    /// After a node died, last heard from at `last_seen` (ms since the epoch): hands this node's
    /// connections the messages committed since [`CATCH_UP_MARGIN`] before then that did not reach
    /// them. The dead node may have committed them and died before publishing; if it did publish
    /// them, the cursors know, and nothing goes out twice. Each goes only to connections opened
    /// before it was committed (later ones synced it).
    pub async fn catch_up(self: &Arc<Self>, last_seen: i64) {
        let since = last_seen.saturating_sub(CATCH_UP_MARGIN.as_millis() as i64);
        let ranges = match self.store.committed_since(since, MAX_FILL, CATCH_UP_CONVERSATIONS).await {
            Ok(ranges) => ranges,
            Err(e) => {
                tracing::warn!(error = %e, "after a node died: recent messages not read back (clients will sync)");
                return;
            }
        };
        let mut caught_up = 0;
        for range in ranges {
            let conversation = range.conversation_id.as_str();
            // A cursor here says what went out already (from it on, nothing; below where its
            // stream began, perhaps nothing); without one, nothing did recently.
            let from = match self.streams.span(conversation) {
                // Everything of the range went out here with the stream: nothing to read.
                Some((floor, next)) if floor <= range.first_sequence && next > range.last_sequence => {
                    continue
                }
                Some((_, next)) => next.min(range.first_sequence),
                None => range.first_sequence,
            };
            let from = from.max(range.last_sequence.saturating_sub(MAX_FILL - 1));
            let filled = self.read(conversation, from, range.last_sequence + 1).await;
            // A conversation whose first frame here just arrived is busy until the store says
            // where its stream starts (one read).
            let mut tries = 0;
            loop {
                let outcome = self.streams.catch_up(
                    conversation,
                    &filled,
                    Instant::now(),
                    |d, committed_at| self.hub.deliver_to_connected_before(d, committed_at),
                    |d| self.hub.deliver(d),
                );
                match outcome {
                    CaughtUp::Done { handed_out, fill } => {
                        caught_up += handed_out;
                        if fill {
                            let (this, conversation) = (self.clone(), range.conversation_id.clone());
                            tokio::spawn(async move { this.fill(&conversation).await });
                        }
                        break;
                    }
                    CaughtUp::Busy if tries < 100 => {
                        tries += 1;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    CaughtUp::Busy => break,
                }
            }
        }
        metrics::counter!("confab_order_caught_up_total").increment(caught_up);
        tracing::info!(messages = caught_up, "after a node died: recent messages read back and handed out");
    }

    /// Waits [`HOLD`] (unless the conversation is crowded), then reads each gap still open from
    /// the store and hands it out, until no gap is left.
    async fn fill(&self, conversation: &str) {
        loop {
            let deadline = tokio::time::Instant::now() + self.hold;
            while tokio::time::Instant::now() < deadline && !self.streams.crowded(conversation) {
                tokio::time::sleep(Duration::from_millis(5).min(self.hold)).await;
                if self.streams.gap(conversation).is_none() {
                    return;
                }
            }
            let Some((from, to)) = self.streams.gap(conversation) else { return };
            metrics::counter!("confab_order_gaps_filled_total").increment(1);
            let filled = self.read(conversation, from.max(to.saturating_sub(MAX_FILL)), to).await;
            let more = self.streams.fill(
                conversation,
                filled,
                |d, committed_at| self.hub.deliver_to_connected_before(d, committed_at),
                |d| self.hub.deliver(d),
            );
            if !more {
                return;
            }
        }
    }

    /// Where the stream of `conversation` starts on this node, its first frame here being message
    /// `first`: the oldest message before it committed within [`RACE`] of it (`first` itself when
    /// there is none, or when the store cannot say).
    async fn start_of(&self, conversation: &str, first: u64) -> u64 {
        let Ok(members) = self.members.get(&self.store, conversation).await else { return first };
        let Some(viewer) = members.first() else { return first };
        let from = first.saturating_sub(START_PAGE + 1);
        let limit = u32::try_from(first - from).unwrap_or(u32::MAX);
        let page = match self.store.history(conversation, viewer, HistoryCursor::After(from), limit).await {
            Ok(page) => page.messages,
            Err(e) => {
                tracing::warn!(error = %e, conversation, "stream start unknown: starting at the first frame");
                return first;
            }
        };
        start_within_race(&page, first)
    }

    /// The messages `[from, to)` of `conversation` from the store as `message.new` deliveries to
    /// its members; as many as could be read.
    async fn read(&self, conversation: &str, from: u64, to: u64) -> Vec<(u64, Delivery, i64)> {
        let members = match self.members.get(&self.store, conversation).await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, conversation, "gap not filled: members unknown");
                return Vec::new();
            }
        };
        // Nobody here to tell: skip the reading (the hole is then stepped over).
        if self.hub.oldest_connection(&members).is_none() {
            return Vec::new();
        }
        let Some(viewer) = members.first() else { return Vec::new() };
        let mut filled = Vec::new();
        let mut after = from.saturating_sub(1);
        while after + 1 < to {
            let limit = FILL_PAGE.min(u32::try_from(to - after - 1).unwrap_or(FILL_PAGE));
            let page =
                match self.store.history(conversation, viewer, HistoryCursor::After(after), limit).await {
                    Ok(page) => page,
                    Err(e) => {
                        tracing::warn!(error = %e, conversation, "gap not filled: store unavailable");
                        break;
                    }
                };
            let Some(last) = page.messages.last().map(|m| m.sequence_number) else { break };
            for mut message in page.messages.into_iter().filter(|m| m.sequence_number < to) {
                // The viewer's own status is not part of `message.new`.
                message.status = None;
                let committed_at = message.timestamp;
                let order = Order { conversation_id: conversation.into(), sequence: message.sequence_number };
                let frame = ServerEnvelope::new(None, ServerFrame::MessageNew(message)).to_json();
                let delivery = Delivery {
                    recipients: members.clone(),
                    frame: Bytes::from(frame),
                    skip_connection: None,
                    order: Some(order.clone()),
                };
                filled.push((order.sequence, delivery, committed_at));
            }
            after = last;
        }
        filled
    }
}

/// In `page` (consecutive messages up to and including `first`, ascending), the oldest of an
/// unbroken run ending at `first` committed within [`RACE`] before `first` was.
fn start_within_race(page: &[confab_proto::Message], first: u64) -> u64 {
    let Some(first_at) = page.iter().find(|m| m.sequence_number == first).map(|m| m.timestamp) else {
        return first;
    };
    let race_ms = i64::try_from(RACE.as_millis()).unwrap_or(i64::MAX);
    let mut start = first;
    for m in page.iter().rev().filter(|m| m.sequence_number < first) {
        if m.sequence_number + 1 != start || m.timestamp < first_at - race_ms {
            break;
        }
        start = m.sequence_number;
    }
    start
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex as StdMutex;

    use super::*;

    fn frame(conversation: &str, sequence: u64) -> (Delivery, Order) {
        let order = Order { conversation_id: conversation.into(), sequence };
        let d = Delivery {
            recipients: vec!["u".to_string()].into(),
            frame: Bytes::from(format!("{conversation}:{sequence}")),
            skip_connection: None,
            order: Some(order.clone()),
        };
        (d, order)
    }

    /// Accepts `sequences` of conversation `c` in that order; returns what went out. A stream's
    /// first frame starts it at once (nothing raced it).
    fn run(streams: &Streams, sequences: &[u64]) -> Vec<String> {
        let out = StdMutex::new(Vec::new());
        let push = |d: &Delivery| out.lock().unwrap().push(String::from_utf8_lossy(&d.frame).into_owned());
        for &s in sequences {
            let (d, o) = frame("c", s);
            if streams.accept(&d, &o, Instant::now(), push) == Accepted::Starting {
                streams.begin("c", s, push);
            }
        }
        out.into_inner().unwrap()
    }

    fn message(sequence: u64, timestamp: i64) -> confab_proto::Message {
        confab_proto::Message::new(
            format!("m{sequence}"),
            "c".into(),
            "u".into(),
            confab_proto::Content::Text { text: "x".into() },
            sequence,
            timestamp,
        )
    }

    #[test]
    fn a_stream_starts_at_the_oldest_message_that_may_still_be_on_its_way() {
        let race = i64::try_from(RACE.as_millis()).unwrap();
        let page = [message(3, 0), message(4, 9_999), message(5, 10_000), message(6, 10_000 + race)];
        assert_eq!(start_within_race(&page, 6), 5, "4 was committed more than the race window before 6");
        assert_eq!(start_within_race(&page[3..], 6), 6, "nothing before it within the page");
        let recent = [message(7, 100), message(9, 100), message(10, 100)];
        assert_eq!(start_within_race(&recent, 10), 9, "a hole in the page ends the run");
        assert_eq!(start_within_race(&recent, 11), 11, "the first frame not in the page: start there");
    }

    #[test]
    fn a_starting_stream_holds_everything_until_it_knows_its_start() {
        let streams = Streams::default();
        let out = StdMutex::new(Vec::new());
        let push = |d: &Delivery| out.lock().unwrap().push(String::from_utf8_lossy(&d.frame).into_owned());
        let (d, o) = frame("c", 7);
        assert_eq!(streams.accept(&d, &o, Instant::now(), push), Accepted::Starting);
        // While the store is asked, a racing older frame and a newer one arrive: both held.
        for (sequence, expected) in [(5, Accepted::Held { fill: false }), (8, Accepted::Held { fill: false })]
        {
            let (d, o) = frame("c", sequence);
            assert_eq!(streams.accept(&d, &o, Instant::now(), push), expected);
        }
        assert!(out.lock().unwrap().is_empty());
        // The store says 4 was committed just before: the stream starts at 4, which is missing.
        assert!(streams.begin("c", 4, push), "4 is a gap to fill");
        assert!(out.lock().unwrap().is_empty());
        assert_eq!(streams.gap("c"), Some((4, 5)));
        let more = streams.fill("c", vec![(4, frame("c", 4).0, 0)], |d, _| push(d), push);
        assert!(more, "6 is still missing");
        assert_eq!(std::mem::take(&mut *out.lock().unwrap()), ["c:4", "c:5"]);
        assert_eq!(streams.gap("c"), Some((6, 7)));
        assert!(!streams.fill("c", vec![(6, frame("c", 6).0, 0)], |d, _| push(d), push));
        assert_eq!(std::mem::take(&mut *out.lock().unwrap()), ["c:6", "c:7", "c:8"]);
        assert!(!streams.begin("c", 1, push), "a stream begins once");
        // A stream whose first message is the conversation's first has nothing to wait for.
        let (d, o) = frame("fresh", 1);
        assert_eq!(streams.accept(&d, &o, Instant::now(), push), Accepted::Delivered);
    }

    #[test]
    fn frames_ahead_wait_for_their_predecessors_and_repeats_are_dropped() {
        let streams = Streams::default();
        assert_eq!(run(&streams, &[5]), ["c:5"], "the first frame sets the cursor");
        assert_eq!(run(&streams, &[7, 8]), Vec::<String>::new(), "held behind 6");
        assert_eq!(run(&streams, &[6]), ["c:6", "c:7", "c:8"]);
        assert_eq!(run(&streams, &[6, 8, 5]), Vec::<String>::new(), "repeats");
        assert_eq!(run(&streams, &[4]), ["c:4"], "older than the first seen: never handed out, so not lost");
        assert_eq!(streams.next("c"), Some(9));
        assert_eq!(streams.gap("c"), None, "the fill started for 6 finds nothing to do");
        let (d, o) = frame("c", 11);
        assert_eq!(streams.accept(&d, &o, Instant::now(), |_| {}), Accepted::Held { fill: true });
        let (d, o) = frame("c", 12);
        assert_eq!(
            streams.accept(&d, &o, Instant::now(), |_| {}),
            Accepted::Held { fill: false },
            "one fill"
        );
        assert_eq!(streams.gap("c"), Some((9, 11)));
    }

    #[test]
    fn a_fill_hands_out_the_gap_then_the_held_and_skips_what_the_store_lacks() {
        let streams = Streams::default();
        run(&streams, &[1, 4, 5, 9]);
        assert_eq!(streams.gap("c"), Some((2, 4)));
        let out = StdMutex::new(Vec::new());
        let push = |d: &Delivery| out.lock().unwrap().push(String::from_utf8_lossy(&d.frame).into_owned());
        let more =
            streams.fill("c", vec![(2, frame("c", 2).0, 0), (3, frame("c", 3).0, 0)], |d, _| push(d), push);
        assert!(more, "9 still waits for 6..8");
        assert_eq!(std::mem::take(&mut *out.lock().unwrap()), ["c:2", "c:3", "c:4", "c:5"]);
        assert_eq!(streams.gap("c"), Some((6, 9)));
        // The store has only 6: 7 and 8 are skipped, 9 goes out.
        let more = streams.fill("c", vec![(6, frame("c", 6).0, 0)], |d, _| push(d), push);
        assert!(!more);
        assert_eq!(std::mem::take(&mut *out.lock().unwrap()), ["c:6", "c:9"]);
        assert_eq!(streams.next("c"), Some(10));
        assert_eq!(streams.gap("c"), None, "nothing left to fill");
    }

    #[test]
    fn a_catch_up_hands_out_only_what_did_not_go_out_and_starts_unseen_streams() {
        let streams = Streams::default();
        let out = StdMutex::new(Vec::new());
        let push = |d: &Delivery| out.lock().unwrap().push(String::from_utf8_lossy(&d.frame).into_owned());
        let read = |c: &str, sequences: &[u64]| -> Vec<(u64, Delivery, i64)> {
            sequences.iter().map(|&s| (s, frame(c, s).0, 0)).collect()
        };
        // 1 and 2 went out here; the dead node committed 3 and 4 without publishing; 6 arrived
        // (published by a live node) and waits for 5.
        run(&streams, &[1, 2, 6]);
        let outcome = streams.catch_up("c", &read("c", &[2, 3, 4]), Instant::now(), |d, _| push(d), push);
        assert_eq!(outcome, CaughtUp::Done { handed_out: 2, fill: false }, "a fill already waits for 5");
        assert_eq!(std::mem::take(&mut *out.lock().unwrap()), ["c:3", "c:4"]);
        assert_eq!(streams.gap("c"), Some((5, 6)));
        // Caught up twice (two nodes announced the same death): nothing goes out again.
        let outcome = streams.catch_up("c", &read("c", &[3, 4]), Instant::now(), |d, _| push(d), push);
        assert_eq!(outcome, CaughtUp::Done { handed_out: 0, fill: false });
        // A conversation never seen here: everything read back goes out, and the stream starts.
        let outcome = streams.catch_up("new", &read("new", &[7, 9]), Instant::now(), |d, _| push(d), push);
        assert_eq!(outcome, CaughtUp::Done { handed_out: 2, fill: false }, "8 is no longer stored");
        assert_eq!(std::mem::take(&mut *out.lock().unwrap()), ["new:7", "new:9"]);
        assert_eq!(streams.next("new"), Some(10));
        let (d, o) = frame("new", 9);
        assert_eq!(streams.accept(&d, &o, Instant::now(), push), Accepted::Stale, "its frame, late");
        // A stream whose start is being looked up is busy; caught up once it has begun.
        let (d, o) = frame("starting", 5);
        assert_eq!(streams.accept(&d, &o, Instant::now(), push), Accepted::Starting);
        let caught = read("starting", &[4, 5]);
        assert_eq!(
            streams.catch_up("starting", &caught, Instant::now(), |d, _| push(d), push),
            CaughtUp::Busy
        );
        assert!(!streams.begin("starting", 5, push));
        assert_eq!(std::mem::take(&mut *out.lock().unwrap()), ["starting:5"]);
        // 4 was committed too long before 5 to be waited for: it goes out now, late, once.
        let outcome = streams.catch_up("starting", &caught, Instant::now(), |d, _| push(d), push);
        assert_eq!(outcome, CaughtUp::Done { handed_out: 1, fill: false });
        assert_eq!(std::mem::take(&mut *out.lock().unwrap()), ["starting:4"]);
        let outcome = streams.catch_up("starting", &caught, Instant::now(), |d, _| push(d), push);
        assert_eq!(outcome, CaughtUp::Done { handed_out: 0, fill: false });
        let (d, o) = frame("starting", 4);
        assert_eq!(streams.accept(&d, &o, Instant::now(), push), Accepted::Stale, "its frame, late");
    }

    #[test]
    fn conversations_are_independent_and_idle_cursors_are_forgotten() {
        let streams = Streams::default();
        run(&streams, &[1]);
        let (d, o) = frame("other", 3);
        assert_eq!(streams.accept(&d, &o, Instant::now(), |_| {}), Accepted::Starting);
        streams.begin("other", 3, |_| {});
        let (d, o) = frame("other", 5);
        streams.accept(&d, &o, Instant::now(), |_| {});
        let later = Instant::now() + IDLE + Duration::from_secs(1);
        assert_eq!(streams.prune(later), 1, "the one holding a frame is kept");
        assert_eq!(streams.next("c"), None);
        assert_eq!(streams.next("other"), Some(4));
    }
}
