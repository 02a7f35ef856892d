//! `sweep`: what erasing a backlog of expired messages costs the messages sent meanwhile. Seeds
//! `--messages` disappearing messages over WebSocket into `--conversations` direct conversations,
//! each sent with the `expiresInSeconds` that makes all of them expire at the same moment
//! (`--expire-after` seconds after seeding starts), so the server's sweeper meets them as one
//! backlog. A probe pair then sends at `--probe-rate` msg/s (open loop) twice: idle, before the
//! messages expire, and during the sweep, until the server's `confab_messages_expired_total`
//! reaches the seeded count. The report has send→ack and send→delivery latency of both phases,
//! and how long the sweep took.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use confab_client::{Client, Connection};
use confab_proto::frames::SendPayload;
use confab_proto::{ClientFrame, ServerFrame};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::{drain, open_loop, spawn_reader, Latencies, Tally};
use crate::peers::System;
use crate::report::{Report, Step};
use crate::stats::{self, LatencySummary};
use crate::target::{ProcSample, ServerHandle};
use crate::{users, OutputArgs, TargetArgs};

#[derive(Args, Debug, Clone, Serialize)]
pub struct SweepArgs {
    #[command(flatten)]
    #[serde(skip)]
    pub target: TargetArgs,
    #[command(flatten)]
    #[serde(skip)]
    pub output: OutputArgs,
    /// Disappearing messages to seed.
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: u64,
    /// Conversations (one sending user each) they are spread over.
    #[arg(long, default_value_t = 20)]
    pub conversations: usize,
    /// Seconds after seeding starts at which every seeded message expires (seeding must end
    /// before, with time for the idle probe).
    #[arg(long, default_value_t = 150)]
    pub expire_after: u64,
    /// Probe messages per second, idle and during the sweep.
    #[arg(long, default_value_t = 100.0)]
    pub probe_rate: f64,
    /// Seconds of the idle probe, which ends just before the messages are due.
    #[arg(long, default_value_t = 20.0)]
    pub idle_secs: f64,
    /// Longest the sweep may take before the run gives up (seconds).
    #[arg(long, default_value_t = 600)]
    pub sweep_timeout: u64,
    /// Unacknowledged sends per seeding connection.
    #[arg(long, default_value_t = 128)]
    pub window: usize,
    #[arg(long, default_value_t = 100)]
    pub body_bytes: usize,
}

pub async fn run(args: &SweepArgs, output: &OutputArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(args.messages > 0 && args.conversations > 0, "counts must be positive");
    anyhow::ensure!(args.probe_rate > 0.0, "--probe-rate must be positive");
    // The probe's connections send no heartbeats: the spawned server waits for them long enough.
    let spawn = ["--sweep-interval-ms", "1000", "--heartbeat-interval-ms", "600000"].map(String::from);
    let server = ServerHandle::prepare(&args.target, &spawn)?;
    let url = server.url().to_string();
    let mut report = Report::new("sweep", "confab", server.info.clone(), serde_json::to_value(args)?);
    let expired_before = expired_total(&url).await?;

    let people =
        users::register(&url, "sw", args.conversations + 1, args.target.register_concurrency, output.quiet)
            .await?;
    let (sink, seeders) = people.split_first().context("no users")?;
    let expires_at = Instant::now() + Duration::from_secs(args.expire_after);
    let seeding = Instant::now();
    let bar = users::progress(args.messages, "seeding", output.quiet);
    let n = seeders.len() as u64;
    let mut tasks = Vec::new();
    for (k, user) in seeders.iter().enumerate() {
        let share = args.messages / n + u64::from((k as u64) < args.messages % n);
        let (conv, _) = Client::new(&url).with_token(&user.token).open_direct(&sink.id).await?;
        let connection = Connection::connect(&url, &user.token, "sweep-seed").await?;
        let (bar, window, body) = (bar.clone(), args.window.max(1), args.body_bytes);
        tasks.push(tokio::spawn(async move {
            seed(connection, conv.conversation_id, k, share, window, body, expires_at, bar).await
        }));
    }
    let mut seeded = 0;
    for t in tasks {
        seeded += t.await??;
    }
    bar.finish_and_clear();
    let seed_secs = seeding.elapsed().as_secs_f64();
    anyhow::ensure!(
        Instant::now() + Duration::from_secs_f64(args.idle_secs + 2.0) < expires_at,
        "seeding took {seed_secs:.0} s: raise --expire-after so the idle probe ends before the expiry"
    );
    let mut s = Step::new(format!("seeding {seeded} disappearing messages"));
    s.metric("seeded", seeded as f64, "msgs");
    s.metric("seed_rate", seeded as f64 / seed_secs.max(1e-9), "msg/s");
    report.steps.push(s);

    // The probe pair connects now (an idle connection through the seeding would time out).
    let mut pairs = crate::peers::confab::Confab
        .pairs(std::slice::from_ref(&url), 1, args.body_bytes, args.target.register_concurrency, true)
        .await?;
    let (a, b) = pairs.pop().context("no probe pair")?;
    let tally = Tally::new();
    let stop = CancellationToken::new();
    let recorders = [Latencies::shared(), Latencies::shared()];
    let readers = [
        spawn_reader(a.receiver, tally.clone(), recorders[0].clone(), stop.clone()),
        spawn_reader(b.receiver, tally.clone(), recorders[1].clone(), stop.clone()),
    ];
    let mut sender = a.sender;

    // Idle: the messages are stored but not yet due. The probe runs for the last `--idle-secs`
    // before they are, once the server has settled after the seeding (WAL checkpoint, fan-out).
    let idle_from =
        expires_at.checked_sub(Duration::from_secs_f64(args.idle_secs + 0.5)).unwrap_or(expires_at);
    tokio::time::sleep_until(idle_from.into()).await;
    let idle_count = (args.probe_rate * args.idle_secs).ceil() as u64;
    let before = server.sample();
    let idle = probe(&mut sender, &tally, &recorders, args.probe_rate, idle_count, None).await?;
    let after = server.sample();
    report.steps.push(phase_step("idle (nothing due)", &idle, before, after));

    // The sweep: from the expiry until the server has erased every seeded message.
    tokio::time::sleep_until(expires_at.into()).await;
    let done = Arc::new(AtomicBool::new(false));
    let swept = Arc::new(AtomicU64::new(0));
    let sweep_started = Instant::now();
    let watcher = {
        let (url, done, swept, target) = (url.clone(), done.clone(), swept.clone(), seeded);
        let timeout = Duration::from_secs(args.sweep_timeout);
        tokio::spawn(async move {
            while sweep_started.elapsed() < timeout {
                if let Ok(total) = expired_total(&url).await {
                    let n = total.saturating_sub(expired_before);
                    swept.store(n, Ordering::SeqCst);
                    if n >= target {
                        break;
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            done.store(true, Ordering::SeqCst);
            sweep_started.elapsed()
        })
    };
    let before = server.sample();
    let during = probe(&mut sender, &tally, &recorders, args.probe_rate, u64::MAX, Some(&done)).await?;
    let after = server.sample();
    let sweep_time = watcher.await?;
    let erased = swept.load(Ordering::SeqCst);
    let mut s = phase_step("during the sweep", &during, before, after);
    s.metric("erased", erased as f64, "msgs");
    s.metric("sweep_secs", sweep_time.as_secs_f64(), "s");
    s.metric("sweep_rate", erased as f64 / sweep_time.as_secs_f64().max(1e-9), "msg/s");
    report.steps.push(s);
    if erased < seeded {
        report.notes.push(format!("the sweep erased {erased} of {seeded} within --sweep-timeout"));
    }
    report.notes.push(
        "the probe pair's latency is measured from each message's scheduled send time (open loop)".into(),
    );
    report.notes.push(
        "the spawned server sweeps every second (--sweep-interval-ms 1000), 200 messages per batch".into(),
    );
    if let Some(e) = tally.first_error.lock().unwrap_or_else(|p| p.into_inner()).clone() {
        report.notes.push(format!("first error: {e}"));
    }
    stop.cancel();
    for r in readers {
        let _ = r.await;
    }
    Ok(report)
}

struct Phase {
    sent: u64,
    elapsed: Duration,
    latencies: Latencies,
}

fn phase_step(label: &str, p: &Phase, before: Option<ProcSample>, after: Option<ProcSample>) -> Step {
    let mut s = Step::new(label);
    s.metric("probe_sent", p.sent as f64, "msgs");
    s.metric("probe_secs", p.elapsed.as_secs_f64(), "s");
    s.cpu_metrics(before, after, p.sent, "probe_msg");
    s.latencies.push(LatencySummary::from_histogram("send→ack", &p.latencies.ack));
    s.latencies.push(LatencySummary::from_histogram("send→delivery", &p.latencies.delivery));
    s
}

/// Sends up to `count` probe messages at `rate` (open loop), stopping early once `until` is set;
/// then waits (up to 10 s) for their acks and deliveries.
async fn probe(
    sender: &mut Box<dyn crate::peers::Sender>,
    tally: &Arc<Tally>,
    recorders: &[super::SharedLatencies],
    rate: f64,
    count: u64,
    until: Option<&AtomicBool>,
) -> anyhow::Result<Phase> {
    let start_us = tally.start_step();
    let _ = drain(recorders);
    let mut sent = 0;
    for (i, at) in open_loop(0, 1, count, rate, start_us) {
        if until.is_some_and(|u| u.load(Ordering::SeqCst)) {
            break;
        }
        tokio::time::sleep_until(stats::instant_of(at).into()).await;
        sender.send(at, i).await?;
        sent += 1;
    }
    super::wait_until(Duration::from_secs(10), || {
        tally.acked.load(Ordering::SeqCst) >= sent && tally.delivered.load(Ordering::SeqCst) >= sent
    })
    .await;
    let elapsed = Instant::now().duration_since(stats::instant_of(start_us));
    Ok(Phase { sent, elapsed, latencies: drain(recorders) })
}

/// Sends `count` messages into `conversation_id`, `window` unacknowledged at most, each expiring at
/// `expires_at` (to the second). Returns how many were acknowledged.
#[allow(clippy::too_many_arguments)]
async fn seed(
    connection: Connection,
    conversation_id: String,
    k: usize,
    count: u64,
    window: usize,
    body_bytes: usize,
    expires_at: Instant,
    bar: indicatif::ProgressBar,
) -> anyhow::Result<u64> {
    let (mut writer, mut reader) = connection.split();
    let window = Arc::new(Semaphore::new(window));
    let acks = {
        let window = window.clone();
        tokio::spawn(async move {
            let mut acked = 0u64;
            while acked < count {
                let frame = reader.next_frame().await?;
                match frame.frame {
                    ServerFrame::MessageAck(_) => {
                        acked += 1;
                        bar.inc(1);
                        window.add_permits(1);
                    }
                    ServerFrame::Error(e) => anyhow::bail!("seeding refused: {}: {}", e.error, e.message),
                    _ => {}
                }
            }
            Ok(acked)
        })
    };
    let text = "x".repeat(body_bytes);
    for i in 0..count {
        window.acquire().await?.forget();
        // Rounded up: no message expires before `expires_at`, when the sweep phase starts.
        let left = expires_at.saturating_duration_since(Instant::now()).as_secs_f64().ceil().max(1.0) as u64;
        writer
            .send(ClientFrame::MessageSend(SendPayload {
                message_id: Some(format!("seed-{k}-{i}")),
                conversation_id: conversation_id.clone(),
                content: serde_json::json!({"type": "text", "text": text}),
                reply_to: None,
                expires_in_seconds: Some(left),
            }))
            .await?;
    }
    acks.await?
}

/// `confab_messages_expired_total` from the server's `/metrics` (0 before the first sweep).
async fn expired_total(url: &str) -> anyhow::Result<u64> {
    let authority = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(authority).await?;
    stream.write_all(format!("GET /metrics HTTP/1.0\r\nHost: {authority}\r\n\r\n").as_bytes()).await?;
    let mut body = String::new();
    stream.read_to_string(&mut body).await?;
    Ok(body
        .lines()
        .find_map(|l| {
            l.strip_prefix("confab_messages_expired_total ").and_then(|v| v.trim().parse::<f64>().ok())
        })
        .map_or(0, |v| v as u64))
}
