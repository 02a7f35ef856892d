//! `attachments`: upload and download throughput (MiB/s), server CPU per MiB, and how far one
//! upload raises the server's resident memory (sampled every 5 ms while it streams: the server
//! holds a few hundred KiB of an upload, never the whole file). Closed loop: `--concurrency`
//! transfers at a time, each of `--size-mib`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use confab_client::Client;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;

use crate::report::{Report, Step};
use crate::stats::{self, LatencySummary};
use crate::target::{ProcSample, ServerHandle};
use crate::{users, OutputArgs, TargetArgs};

#[derive(Args, Debug, Clone, Serialize)]
pub struct AttachmentsArgs {
    #[command(flatten)]
    #[serde(skip)]
    pub target: TargetArgs,
    #[command(flatten)]
    #[serde(skip)]
    pub output: OutputArgs,
    /// Size of each file, in MiB (fractions allowed).
    #[arg(long, default_value_t = 50.0)]
    pub size_mib: f64,
    /// Files uploaded, then downloaded.
    #[arg(long, default_value_t = 10)]
    pub files: usize,
    /// Transfers in flight at once.
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,
}

/// Samples the server's resident memory every few milliseconds until stopped; the largest seen.
fn watch_rss(
    pid: Option<u32>,
) -> (Arc<AtomicU64>, tokio::task::JoinHandle<()>, tokio_util::sync::CancellationToken) {
    let peak = Arc::new(AtomicU64::new(0));
    let stop = tokio_util::sync::CancellationToken::new();
    let (seen, done) = (peak.clone(), stop.clone());
    let task = tokio::spawn(async move {
        let Some(pid) = pid else { return };
        while !done.is_cancelled() {
            if let Some(sample) = ProcSample::read(pid) {
                seen.fetch_max(sample.rss_kib, Ordering::Relaxed);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    (peak, task, stop)
}

pub async fn run(args: &AttachmentsArgs, output: &OutputArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(args.files > 0 && args.size_mib > 0.0 && args.concurrency > 0, "counts must be positive");
    let bytes_per_file = (args.size_mib * 1024.0 * 1024.0) as usize;
    let server = ServerHandle::prepare(
        &args.target,
        &["--max-attachment-bytes".to_string(), (bytes_per_file + 1).to_string()],
    )?;
    let url = server.url().to_string();
    let mut report = Report::new("attachments", "confab", server.info.clone(), serde_json::to_value(args)?);
    // One user per transfer in flight: a user may stream only a few uploads at once.
    let people =
        users::register(&url, "at", args.concurrency, args.target.register_concurrency, output.quiet).await?;
    anyhow::ensure!(!people.is_empty(), "no user");
    let apis: Vec<Client> = people.iter().map(|u| Client::new(&url).with_token(&u.token)).collect();
    // Incompressible and different per file, made before the clock starts.
    let files: Vec<Vec<u8>> = (0..args.files)
        .map(|f| {
            let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ f as u64;
            (0..bytes_per_file)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect()
        })
        .collect();
    let total_mib = (bytes_per_file * args.files) as f64 / (1024.0 * 1024.0);

    // Uploads.
    let idle_rss = server.sample().map(|s| s.rss_kib);
    let (peak, watcher, stop) = watch_rss(server.pid);
    let before = server.sample();
    let started = Instant::now();
    let uploads: Vec<(String, u64, usize)> = stream::iter(files.into_iter().enumerate().map(|(i, file)| {
        let lane = i % apis.len();
        let api = apis[lane].clone();
        async move {
            let t = stats::now_us();
            let a = api.upload_attachment(file, "application/octet-stream", "bench.bin").await?;
            anyhow::Ok((a.attachment_id, stats::now_us().saturating_sub(t), lane))
        }
    }))
    .buffer_unordered(args.concurrency)
    .try_collect()
    .await?;
    let upload_secs = started.elapsed().as_secs_f64();
    let after = server.sample();
    stop.cancel();
    watcher.await.ok();
    let mut step = Step::new(format!(
        "upload {} × {:.1} MiB, {} at a time",
        args.files, args.size_mib, args.concurrency
    ));
    step.metric("mib_per_sec", total_mib / upload_secs.max(1e-9), "MiB/s");
    cpu_per_mib(&mut step, before, after, total_mib);
    if let (Some(idle), peak) = (idle_rss, peak.load(Ordering::Relaxed)) {
        step.metric("server_rss_idle", idle as f64 / 1024.0, "MiB");
        step.metric("server_rss_peak", peak as f64 / 1024.0, "MiB");
        step.metric("server_rss_growth", peak.saturating_sub(idle) as f64 / 1024.0, "MiB");
    }
    step.latencies.push(summary("upload", uploads.iter().map(|u| u.1)));
    report.steps.push(step);

    // Downloads of the same files.
    let before = server.sample();
    let started = Instant::now();
    let downloads: Vec<u64> = stream::iter(uploads.iter().map(|(id, _, lane)| {
        let api = apis[*lane].clone();
        async move {
            let t = stats::now_us();
            let body = api.download_attachment(id).await?;
            anyhow::ensure!(body.len() == bytes_per_file, "a download came back short");
            anyhow::Ok(stats::now_us().saturating_sub(t))
        }
    }))
    .buffer_unordered(args.concurrency)
    .try_collect()
    .await?;
    let download_secs = started.elapsed().as_secs_f64();
    let after = server.sample();
    let mut step = Step::new(format!(
        "download {} × {:.1} MiB, {} at a time",
        args.files, args.size_mib, args.concurrency
    ));
    step.metric("mib_per_sec", total_mib / download_secs.max(1e-9), "MiB/s");
    cpu_per_mib(&mut step, before, after, total_mib);
    step.latencies.push(summary("download", downloads.into_iter()));
    report.steps.push(step);
    report.notes.push(
        "uploads are durable when answered (fsync'd file and database row); the load generator runs on the same machine".into(),
    );
    Ok(report)
}

fn cpu_per_mib(step: &mut Step, before: Option<ProcSample>, after: Option<ProcSample>, mib: f64) {
    if let (Some(b), Some(a)) = (before, after) {
        let cpu = (a.cpu_secs - b.cpu_secs).max(0.0);
        step.metric("server_cpu", cpu, "s");
        step.metric("server_cpu_per_mib", cpu * 1e3 / mib.max(1e-9), "ms");
    }
}

fn summary(name: &str, micros: impl Iterator<Item = u64>) -> LatencySummary {
    let mut h = stats::histogram();
    for us in micros {
        let _ = h.record(us.max(1));
    }
    LatencySummary::from_histogram(name, &h)
}
