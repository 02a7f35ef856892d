//! The sweeper: every `sweep_interval`, erases the content of disappearing messages past their
//! `expiresAt` and removes messages past their retention ([`confab_core::rules::expiry`]). It works
//! in batches, one short store transaction each, so sends queued behind it wait for one batch at
//! most: a batch holds at most `sweep_batch` messages, fewer when that would take longer than
//! [`BATCH_TIME`] (the size follows how long the last batch took). A backlog (a million messages
//! expiring at once) is worked off batch after batch, resting between batches as long as each
//! took, so it never holds the writer for more than half the time; on the embedded store a batch
//! also stops early when a write queues behind it, so that write waits for one message's erasure,
//! not the batch. Every node runs one; the store makes concurrent
//! sweeps safe. Each tombstone is announced as `message.updated`, like a delete. After each sweep,
//! attachments no message links any more are collected, bytes and all.

use std::time::{Duration, Instant};

use confab_core::ids::now_millis;
use confab_core::store::SharedStore;
use tokio_util::sync::CancellationToken;

use crate::config::ExpiryConfig;
use crate::service::{Attachments, Lifecycle};

/// How long one batch should hold the writer: a send that arrives during a batch waits this long
/// more, so it is kept near the commit time of an ordinary send.
pub(crate) const BATCH_TIME: Duration = Duration::from_millis(2);

/// The smallest batch: below it, the commit's own fsync (which a batch's time includes) would be
/// most of the work, and a slow disk would shrink the sweep to a crawl.
const MIN_BATCH: u32 = 20;

/// The size of the next batch after a batch of `size` erased `done` messages in `took` (fewer
/// than asked when it stepped aside for a waiting write): as many as [`BATCH_TIME`] holds at
/// that pace, at most double `size`, between [`MIN_BATCH`] and `max`.
pub(crate) fn next_batch_size(size: u32, done: u64, took: Duration, max: u32) -> u32 {
    let max = max.max(1);
    let took = took.as_secs_f64().max(1e-6);
    let scaled = done.max(1) as f64 * BATCH_TIME.as_secs_f64() / took;
    (scaled.min(f64::from(size) * 2.0).floor() as u32).clamp(MIN_BATCH.min(max), max)
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Swept {
    pub expired: u64,
    pub purged: u64,
}

/// Sweeps until nothing is due at `now` (or shutdown starts).
pub(crate) async fn sweep(
    store: &SharedStore,
    lifecycle: &Lifecycle,
    config: &ExpiryConfig,
    now: i64,
    shutdown: &CancellationToken,
) -> confab_core::Result<Swept> {
    let max = config.sweep_batch.max(1);
    let mut swept = Swept::default();
    let mut size = max;
    while !shutdown.is_cancelled() {
        let started = Instant::now();
        let erased = store.expire_messages(now, size).await?;
        let took = started.elapsed();
        let n = erased.len() as u64;
        lifecycle.announce_expired(erased).await;
        swept.expired += n;
        metrics::counter!("confab_messages_expired_total").increment(n);
        // A short batch is not the end: the store may have stepped aside for a waiting write.
        if n == 0 {
            break;
        }
        size = next_batch_size(size, n, took, max);
        pause(started).await;
    }
    let mut size = max;
    while !shutdown.is_cancelled() {
        let started = Instant::now();
        let n = store.apply_retention(now, config.retention_days, size).await?;
        let took = started.elapsed();
        swept.purged += n;
        metrics::counter!("confab_messages_purged_total").increment(n);
        if n < u64::from(size) {
            break;
        }
        size = next_batch_size(size, n, took, max);
        pause(started).await;
    }
    Ok(swept)
}

/// Between two full batches the sweeper rests as long as the last one took: a backlog takes at
/// most half of the store's (and the node's) time, and what is sent meanwhile goes first.
async fn pause(batch_started: Instant) {
    tokio::time::sleep(batch_started.elapsed()).await;
}

/// Runs [`sweep`] every `config.sweep_interval` until shutdown.
pub(crate) async fn run(
    store: SharedStore,
    lifecycle: &Lifecycle,
    attachments: &Attachments,
    config: ExpiryConfig,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(config.sweep_interval.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => match sweep(&store, lifecycle, &config, now_millis(), &shutdown).await {
                Ok(Swept { expired: 0, purged: 0 }) => {}
                Ok(s) => tracing::info!(expired = s.expired, purged = s.purged, "swept expired messages"),
                Err(e) => tracing::warn!(error = %e, "sweep failed; retrying at the next interval"),
            },
        }
        // The sweep just unlinked the attachments of what it erased: collect them at once.
        match attachments.collect(now_millis()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(attachments = n, "collected attachments no message links"),
            Err(e) => {
                tracing::warn!(error = %e, "attachment collection failed; retrying at the next interval")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_shrink_towards_the_time_budget_and_grow_back_slowly() {
        let ms = Duration::from_millis;
        // 200 messages in 20 ms: 10 per ms, so 20 fit in the budget.
        assert_eq!(next_batch_size(200, 200, ms(20), 200), 20);
        // Quick batches grow, at most doubling.
        assert_eq!(next_batch_size(20, 20, Duration::from_micros(100), 200), 40);
        assert_eq!(next_batch_size(150, 150, Duration::from_micros(100), 200), 200);
        // A batch cut short by a waiting write is sized by its pace, not by its count.
        assert_eq!(next_batch_size(100, 10, ms(1), 200), 20);
        assert_eq!(next_batch_size(100, 50, ms(1), 200), 100);
        // A slow disk does not shrink batches below the floor; a small maximum is kept.
        assert_eq!(next_batch_size(20, 20, ms(500), 200), MIN_BATCH);
        assert_eq!(next_batch_size(5, 5, ms(500), 5), 5);
        assert_eq!(next_batch_size(1, 1, Duration::ZERO, 1), 1);
    }
}
