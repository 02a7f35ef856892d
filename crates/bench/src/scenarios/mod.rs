//! The scenarios. Each takes its parameters from the command line, prepares users and
//! connections (not measured), runs a bounded load phase while sampling the server's CPU time
//! around it, and returns a [`crate::Report`].

pub mod attachments;
pub mod connections;
pub mod fanout;
pub mod latency;
pub mod search;
pub mod store;
pub mod sweep;
pub mod sync;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio_util::sync::CancellationToken;

use crate::peers::{Event, Receiver};
use crate::stats;

/// What every reader of a load phase adds to.
pub struct Tally {
    pub acked: AtomicU64,
    pub delivered: AtomicU64,
    pub errors: AtomicU64,
    /// Events from messages sent before the current step started (a previous step's stragglers).
    pub stale: AtomicU64,
    /// Sends scheduled at or after this time (µs on the bench clock) belong to the current step.
    pub step_start_us: AtomicU64,
    pub first_error: Mutex<Option<String>>,
}

impl Tally {
    pub fn new() -> Arc<Tally> {
        Arc::new(Tally {
            acked: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            stale: AtomicU64::new(0),
            step_start_us: AtomicU64::new(0),
            first_error: Mutex::new(None),
        })
    }

    /// Starts a step: counters to zero, events of earlier sends ignored from now on.
    pub fn start_step(&self) -> u64 {
        let now = stats::now_us();
        self.step_start_us.store(now, Ordering::SeqCst);
        self.acked.store(0, Ordering::SeqCst);
        self.delivered.store(0, Ordering::SeqCst);
        self.errors.store(0, Ordering::SeqCst);
        self.stale.store(0, Ordering::SeqCst);
        now
    }
}

/// Ack and delivery latencies seen by one reader.
pub struct Latencies {
    pub ack: Histogram<u64>,
    pub delivery: Histogram<u64>,
}

pub type SharedLatencies = Arc<Mutex<Latencies>>;

impl Latencies {
    pub fn shared() -> SharedLatencies {
        Arc::new(Mutex::new(Latencies { ack: stats::histogram(), delivery: stats::histogram() }))
    }
}

/// Takes (and resets) every reader's histograms, merged.
pub fn drain(all: &[SharedLatencies]) -> Latencies {
    let mut merged = Latencies { ack: stats::histogram(), delivery: stats::histogram() };
    for shared in all {
        let mut l = shared.lock().unwrap_or_else(|p| p.into_inner());
        let _ = merged.ack.add(&l.ack);
        let _ = merged.delivery.add(&l.delivery);
        l.ack.reset();
        l.delivery.reset();
    }
    merged
}

/// Reads events until `stop`, recording latencies and counting. A read error ends the reader
/// (and is counted), since a benchmark connection that fails is a result to report, not retry.
pub fn spawn_reader(
    mut receiver: Box<dyn Receiver>,
    tally: Arc<Tally>,
    latencies: SharedLatencies,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let event = tokio::select! {
                _ = stop.cancelled() => return,
                event = receiver.next() => event,
            };
            let event = match event {
                Ok(event) => event,
                Err(e) => {
                    tally.errors.fetch_add(1, Ordering::SeqCst);
                    note_error(&tally, format!("connection: {e:#}"));
                    return;
                }
            };
            let start = tally.step_start_us.load(Ordering::Relaxed);
            match event {
                Event::Ack { sent_us } | Event::Delivered { sent_us } if sent_us < start => {
                    tally.stale.fetch_add(1, Ordering::Relaxed);
                }
                Event::Ack { sent_us } => {
                    let mut l = latencies.lock().unwrap_or_else(|p| p.into_inner());
                    stats::record_since(&mut l.ack, sent_us);
                    tally.acked.fetch_add(1, Ordering::Relaxed);
                }
                Event::Delivered { sent_us } => {
                    let mut l = latencies.lock().unwrap_or_else(|p| p.into_inner());
                    stats::record_since(&mut l.delivery, sent_us);
                    tally.delivered.fetch_add(1, Ordering::Relaxed);
                }
                Event::Error(e) => {
                    tally.errors.fetch_add(1, Ordering::Relaxed);
                    note_error(&tally, e);
                }
                Event::Other => {}
            }
        }
    })
}

/// The open-loop schedule of sender `k` of `senders`: `count` messages at `rate` per second in all,
/// interleaved so sender `k` sends messages k, k + n, k + 2n, …, each at a fixed time (µs on the
/// stats clock) whatever the server's replies do. Yields `(i, due_us)` for the sender's i-th message.
pub fn open_loop(
    k: u64,
    senders: u64,
    count: u64,
    rate: f64,
    start_us: u64,
) -> impl Iterator<Item = (u64, u64)> {
    let n = senders.max(1);
    let period_us = n as f64 * 1e6 / rate;
    let mine = if k < count { (count - k).div_ceil(n) } else { 0 };
    (0..mine)
        .map(move |i| (i, start_us + 1000 + (i as f64 * period_us + k as f64 * period_us / n as f64) as u64))
}

fn note_error(tally: &Tally, e: String) {
    let mut first = tally.first_error.lock().unwrap_or_else(|p| p.into_inner());
    if first.is_none() {
        *first = Some(e);
    }
}

/// Waits until `done()` or `grace` has passed; returns whether it completed.
pub async fn wait_until(grace: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + grace;
    loop {
        if done() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[cfg(test)]
mod schedule_tests {
    #[test]
    fn open_loop_spreads_every_message_once_at_the_offered_rate() {
        // 10 messages at 1000/s over 3 senders: 4 + 3 + 3, one every millisecond overall.
        let mut all: Vec<u64> =
            (0..3).flat_map(|k| super::open_loop(k, 3, 10, 1000.0, 0).map(|(_, at)| at)).collect();
        assert_eq!(
            (0..3).map(|k| super::open_loop(k, 3, 10, 1000.0, 0).count()).collect::<Vec<_>>(),
            [4, 3, 3]
        );
        all.sort_unstable();
        assert_eq!(all.len(), 10);
        assert!(all.windows(2).all(|w| w[1] - w[0] == 1000), "{all:?}");
    }
}
