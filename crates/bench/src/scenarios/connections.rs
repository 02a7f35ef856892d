//! `connections`: ramp to C idle authenticated connections and read the server's resident memory
//! (VmRSS) before and after, for the memory each connection costs, and the connect rate.
//!
//! Connections spread their source addresses over 127.0.0.2 … 127.0.0.(1 + `--spread`), so C can
//! exceed the ~28k ephemeral ports of one address pair; several connections share each user
//! (as devices), since registration, not connecting, would otherwise dominate the run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use futures_util::stream::{self, StreamExt};
use serde::Serialize;

use crate::peers::source_address;
use crate::report::{Report, Step};
use crate::stats::{self, LatencySummary};
use crate::target::{KernelSample, ServerHandle};
use crate::{users, OutputArgs, TargetArgs};

#[derive(Args, Debug, Clone, Serialize)]
pub struct ConnectionsArgs {
    #[command(flatten)]
    #[serde(skip)]
    pub target: TargetArgs,
    #[command(flatten)]
    #[serde(skip)]
    pub output: OutputArgs,
    /// Idle connections to open.
    #[arg(long, default_value_t = 20000)]
    pub connections: usize,
    /// Connections per user (each as a separate device or resource).
    #[arg(long, default_value_t = 100)]
    pub per_user: usize,
    /// Source addresses to spread over (127.0.0.2 and up); 0 lets the kernel pick.
    #[arg(long, default_value_t = 16)]
    pub spread: usize,
    /// Handshakes in flight at once.
    #[arg(long, default_value_t = 128)]
    pub concurrency: usize,
    /// Seconds to hold the connections before reading the server's memory.
    #[arg(long, default_value_t = 2.0)]
    pub settle: f64,
}

/// Longest a connection may take to be established and authenticated before it counts as failed.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

pub async fn run(args: &ConnectionsArgs, output: &OutputArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(args.connections > 0, "--connections must be at least 1");
    // A spawned server takes every connection asked for, however many share a user, and keeps
    // only as many descriptors for handshakes as are in flight: near the open-file limit the
    // server would otherwise lower its connection cap to fit its default 4096 HTTP connections.
    let extra = vec![
        "--max-connections".to_string(),
        args.connections.to_string(),
        "--max-connections-per-user".to_string(),
        args.per_user.max(1).to_string(),
        "--max-http-connections".to_string(),
        args.concurrency.max(1).to_string(),
    ];
    let server = ServerHandle::prepare(&args.target, &extra)?;
    let url = server.url().to_string();
    let system = args.target.system.system(&args.target.xmpp_domain);
    let mut report =
        Report::new("connections", system.name(), server.info.clone(), serde_json::to_value(args)?);
    let per_user = args.per_user.max(1);
    let user_count = args.connections.div_ceil(per_user);
    let accounts = system.accounts(&url, user_count, args.target.register_concurrency, output.quiet).await?;
    // Let registration's allocations settle before the baseline.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = server.sample();
    let kernel_before = KernelSample::read();

    let failed = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(std::sync::Mutex::new(None::<String>));
    let bar = users::progress(args.connections as u64, "connecting", output.quiet);
    let started = Instant::now();
    let system = &system;
    let results: Vec<(Option<Box<dyn Send>>, u64)> = stream::iter(0..args.connections)
        .map(|i| {
            let accounts = &accounts;
            let (url, bar, failed, first_error) = (&url, bar.clone(), failed.clone(), first_error.clone());
            async move {
                let t0 = stats::now_us();
                let local = source_address(i, args.spread);
                let account = &accounts[i % accounts.len()];
                let attempt = system.idle_connection(url, account, i / accounts.len(), local);
                // A server out of descriptors leaves handshakes hanging in its backlog: bound them.
                let attempt = tokio::time::timeout(HANDSHAKE_TIMEOUT, attempt).await;
                let conn = match attempt.unwrap_or_else(|_| Err(anyhow::anyhow!("handshake timed out"))) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        first_error.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(format!("{e:#}"));
                        None
                    }
                };
                bar.inc(1);
                (conn, stats::now_us().saturating_sub(t0))
            }
        })
        .buffer_unordered(args.concurrency.max(1))
        .collect()
        .await;
    let ramp = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let mut handshake = stats::histogram();
    let mut held = Vec::with_capacity(results.len());
    for (conn, us) in results {
        if let Some(c) = conn {
            handshake.saturating_record(us.max(1));
            held.push(c);
        }
    }
    tokio::time::sleep(Duration::from_secs_f64(args.settle)).await;
    let after = server.sample();
    let kernel_after = KernelSample::read();
    let open = held.len() as u64;

    let mut s = Step::new(format!("{} idle connections", args.connections));
    s.metric("connections", open as f64, "");
    s.metric("failed", failed.load(Ordering::SeqCst) as f64, "");
    s.metric("ramp_time", ramp, "s");
    s.metric("connect_rate", open as f64 / ramp.max(1e-9), "conn/s");
    if let (Some(b), Some(a)) = (before, after) {
        s.metric("server_rss_before", b.rss_kib as f64 / 1024.0, "MiB");
        s.metric("server_rss_after", a.rss_kib as f64 / 1024.0, "MiB");
        if open > 0 {
            let per = (a.rss_kib as f64 - b.rss_kib as f64) / open as f64;
            s.metric("server_memory_per_connection", per, "KiB");
            s.metric("server_cpu_per_connect", (a.cpu_secs - b.cpu_secs).max(0.0) * 1e6 / open as f64, "µs");
        }
    }
    if let (Some(b), Some(a), true) = (kernel_before, kernel_after, open > 0) {
        // Both ends of every connection are on this machine: the server's share is about half.
        let per = |a: u64, b: u64| (a as f64 - b as f64) / open as f64;
        s.metric("kernel_slab_per_connection_pair", per(a.slab_kib, b.slab_kib), "KiB");
        s.metric("kernel_tcp_buffers_per_connection_pair", per(a.tcp_buffers_kib, b.tcp_buffers_kib), "KiB");
    }
    s.latencies.push(LatencySummary::from_histogram("connect+auth", &handshake));
    report.steps.push(s);
    report.notes.push(format!(
        "{user_count} users × up to {per_user} connections each; source addresses spread over {} loopback addresses",
        args.spread
    ));
    if let Some(e) = first_error.lock().unwrap_or_else(|p| p.into_inner()).clone() {
        report.notes.push(format!("first error: {e}"));
    }
    drop(held);
    Ok(report)
}
