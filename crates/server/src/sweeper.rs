//! The sweeper: every `sweep_interval`, erases the content of disappearing messages past their
//! `expiresAt` and removes messages past their retention ([`confab_core::rules::expiry`]). It works
//! in batches of `sweep_batch` messages, one short store transaction each, so sends queued behind
//! it wait for one batch at most; a backlog (a million messages expiring at once) is worked off
//! batch after batch, resting between batches as long as each took, so it never holds the writer
//! for more than half the time. Every node runs one; the store makes concurrent
//! sweeps safe. Each tombstone is announced as `message.updated`, like a delete.

use std::time::{Duration, Instant};

use confab_core::ids::now_millis;
use confab_core::store::SharedStore;
use tokio_util::sync::CancellationToken;

use crate::config::ExpiryConfig;
use crate::service::Lifecycle;

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
    let batch = config.sweep_batch.max(1);
    let mut swept = Swept::default();
    while !shutdown.is_cancelled() {
        let started = Instant::now();
        let erased = store.expire_messages(now, batch).await?;
        let n = erased.len() as u64;
        lifecycle.announce_expired(erased).await;
        swept.expired += n;
        metrics::counter!("confab_messages_expired_total").increment(n);
        if n < u64::from(batch) {
            break;
        }
        pause(started).await;
    }
    while !shutdown.is_cancelled() {
        let started = Instant::now();
        let n = store.apply_retention(now, config.retention_days, batch).await?;
        swept.purged += n;
        metrics::counter!("confab_messages_purged_total").increment(n);
        if n < u64::from(batch) {
            break;
        }
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
    }
}
