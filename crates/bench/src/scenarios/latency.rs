//! `latency` and `cluster`: N pairs of users chatting 1:1 at a fixed total rate, open loop.
//!
//! Each of the 2N users sends to its partner on its own timer (rate / 2N per second, the timers
//! staggered), whatever the replies do. The send time carried in each message is the *scheduled*
//! time, so a stalled server shows up as latency instead of silently lowering the offered load
//! (no coordinated omission). Measured: send→`message.ack` at the sender and send→`message.new`
//! at the recipient. Several `--rate` values run as successive steps over the same connections;
//! the highest offered rate whose delivery p99 stays under `--p99-budget-ms` with nothing lost is
//! reported as the sustained throughput.
//!
//! `cluster` is the same with the first user of each pair on the first `--url` and the second on
//! the last one, so every message crosses from one node to another.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::{drain, spawn_reader, wait_until, Latencies, Tally};
use crate::report::{Report, Step};
use crate::stats::{self, LatencySummary};
use crate::target::ServerHandle;
use crate::{OutputArgs, TargetArgs};

#[derive(Args, Debug, Clone, Serialize)]
pub struct LatencyArgs {
    #[command(flatten)]
    #[serde(skip)]
    pub target: TargetArgs,
    #[command(flatten)]
    #[serde(skip)]
    pub output: OutputArgs,
    /// Pairs of users (2 × pairs connections).
    #[arg(long, default_value_t = 50)]
    pub pairs: usize,
    /// Offered load in messages per second, all pairs together; several (comma-separated) run as
    /// successive steps.
    #[arg(long, value_delimiter = ',', default_value = "5000")]
    pub rate: Vec<f64>,
    /// Seconds of load per step.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Messages per step instead of a duration (all pairs together).
    #[arg(long)]
    pub messages: Option<u64>,
    /// Seconds of unrecorded load at the first rate before the measured steps.
    #[arg(long, default_value_t = 0.0)]
    pub warmup: f64,
    /// Bytes of message text.
    #[arg(long, default_value_t = 100)]
    pub body_bytes: usize,
    /// Seconds to wait for the last acks and deliveries after a step's last send.
    #[arg(long, default_value_t = 10.0)]
    pub grace: f64,
    /// The delivery p99 under which a rate counts as sustained.
    #[arg(long, default_value_t = 50.0)]
    pub p99_budget_ms: f64,
    /// Skip the higher rates once a step is not sustained (a server far behind would otherwise
    /// be handed tens of thousands more sends it cannot keep up with, and the next steps would
    /// measure its backlog).
    #[arg(long)]
    pub stop_when_saturated: bool,
}

/// The result of one load step.
struct StepRun {
    sent: u64,
    elapsed: Duration,
    latencies: Latencies,
    acked: u64,
    delivered: u64,
    errors: u64,
    stale: u64,
}

pub async fn run(args: &LatencyArgs, cluster: bool, output: &OutputArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(args.pairs > 0, "--pairs must be at least 1");
    anyhow::ensure!(args.rate.iter().all(|r| *r > 0.0), "--rate must be positive");
    let server = ServerHandle::prepare(&args.target, &[])?;
    let system = args.target.system.system(&args.target.xmpp_domain);
    let scenario = if cluster { "cluster" } else { "latency" };
    let mut report = Report::new(scenario, system.name(), server.info.clone(), serde_json::to_value(args)?);
    report.notes.push(system.durability_note().to_string());
    if cluster && server.urls.len() < 2 {
        report
            .notes
            .push("cluster run with a single URL: both users of each pair are on the same server".into());
    }
    if server.info.spawned {
        report.notes.push(format!(
            "spawned server with rate limits lifted ({})",
            crate::target::SPAWN_FLAGS.join(" ")
        ));
    }
    report.notes.push(
        "latency is measured from each message's scheduled send time (open loop, no coordinated omission)"
            .into(),
    );

    let pairs = system
        .pairs(&server.urls, args.pairs, args.body_bytes, args.target.register_concurrency, output.quiet)
        .await?;
    let tally = Tally::new();
    let stop = CancellationToken::new();
    let mut senders = Vec::with_capacity(2 * pairs.len());
    let mut recorders = Vec::new();
    let mut readers = Vec::new();
    for (a, b) in pairs {
        for endpoint in [a, b] {
            let latencies = Latencies::shared();
            readers.push(spawn_reader(endpoint.receiver, tally.clone(), latencies.clone(), stop.clone()));
            recorders.push(latencies);
            senders.push(endpoint.sender);
        }
    }

    let acks = system.acks();
    if args.warmup > 0.0 {
        let count = (args.rate[0] * args.warmup).ceil() as u64;
        let (back, _) = load_step(senders, &tally, &recorders, args, args.rate[0], count, acks, true).await?;
        senders = back;
    }
    let mut sustained: Option<f64> = None;
    for &rate in &args.rate {
        let count = args.messages.unwrap_or((rate * args.duration).ceil() as u64);
        let before = server.sample();
        let (back, step) =
            load_step(senders, &tally, &recorders, args, rate, count, acks, output.quiet).await?;
        senders = back;
        let after = server.sample();
        let mut s = Step::new(format!("{rate} msg/s offered"));
        let secs = step.elapsed.as_secs_f64().max(1e-9);
        s.metric("offered_rate", rate, "msg/s");
        s.metric("sent", step.sent as f64, "msgs");
        if acks {
            s.metric("acked", step.acked as f64, "msgs");
        }
        s.metric("delivered", step.delivered as f64, "msgs");
        s.metric("lost", step.sent.saturating_sub(step.delivered) as f64, "msgs");
        s.metric("errors", step.errors as f64, "");
        if step.stale > 0 {
            s.metric("stale_events", step.stale as f64, "");
        }
        s.metric("throughput", step.delivered as f64 / secs, "msg/s");
        s.cpu_metrics(before, after, step.delivered, "delivered_msg");
        if acks {
            s.latencies.push(LatencySummary::from_histogram("send→ack", &step.latencies.ack));
        }
        let delivery = LatencySummary::from_histogram("send→delivery", &step.latencies.delivery);
        let kept_up = step.delivered >= step.sent && delivery.p99_ms < args.p99_budget_ms;
        if kept_up {
            sustained = Some(sustained.map_or(rate, |r: f64| r.max(rate)));
        }
        s.latencies.push(delivery);
        report.steps.push(s);
        if !kept_up && args.stop_when_saturated {
            report.notes.push(format!(
                "stopped after {rate} msg/s: delivery p99 over {} ms or messages lost (--stop-when-saturated)",
                args.p99_budget_ms
            ));
            break;
        }
    }
    if args.rate.len() > 1 {
        let mut summary = Step::new("summary");
        summary.metric(
            &format!("sustained_rate_p99_under_{}ms", args.p99_budget_ms),
            sustained.unwrap_or(0.0),
            "msg/s",
        );
        report.steps.push(summary);
    }
    if let Some(e) = tally.first_error.lock().unwrap_or_else(|p| p.into_inner()).clone() {
        report.notes.push(format!("first error: {e}"));
    }
    stop.cancel();
    for r in readers {
        let _ = r.await;
    }
    drop(senders);
    Ok(report)
}

/// Sends `count` messages at `rate` spread over every sender, then waits for the acks and
/// deliveries (up to `--grace`). Returns the senders for the next step.
#[allow(clippy::too_many_arguments)]
async fn load_step(
    senders: Vec<Box<dyn crate::peers::Sender>>,
    tally: &std::sync::Arc<Tally>,
    recorders: &[super::SharedLatencies],
    args: &LatencyArgs,
    rate: f64,
    count: u64,
    acks: bool,
    quiet: bool,
) -> anyhow::Result<(Vec<Box<dyn crate::peers::Sender>>, StepRun)> {
    let n = senders.len() as u64;
    let start_us = tally.start_step();
    let _ = drain(recorders);
    // Every sender sends every `period`; sender k is offset by k/n of a period.
    let bar = crate::users::progress(count, "sending", quiet);
    let mut tasks = Vec::with_capacity(senders.len());
    for (k, mut sender) in senders.into_iter().enumerate() {
        let schedule = super::open_loop(k as u64, n, count, rate, start_us);
        let bar = bar.clone();
        let tally = tally.clone();
        tasks.push(tokio::spawn(async move {
            let mut sent = 0u64;
            for (i, at) in schedule {
                tokio::time::sleep_until(stats::instant_of(at).into()).await;
                if let Err(e) = sender.send(at, i).await {
                    tally.errors.fetch_add(1, Ordering::SeqCst);
                    super::note_error(&tally, format!("send: {e:#}"));
                    break;
                }
                sent += 1;
                bar.inc(1);
            }
            (sender, sent)
        }));
    }
    let mut back = Vec::with_capacity(tasks.len());
    let mut sent = 0;
    for t in tasks {
        let (sender, s) = t.await?;
        back.push(sender);
        sent += s;
    }
    bar.finish_and_clear();
    let grace = Duration::from_secs_f64(args.grace);
    wait_until(grace, || {
        tally.delivered.load(Ordering::SeqCst) >= sent
            && (!acks || tally.acked.load(Ordering::SeqCst) >= sent)
    })
    .await;
    let elapsed = Instant::now().duration_since(stats::instant_of(start_us));
    let latencies = drain(recorders);
    Ok((
        back,
        StepRun {
            sent,
            elapsed,
            latencies,
            acked: tally.acked.load(Ordering::SeqCst),
            delivered: tally.delivered.load(Ordering::SeqCst),
            errors: tally.errors.load(Ordering::SeqCst),
            stale: tally.stale.load(Ordering::SeqCst),
        },
    ))
}
