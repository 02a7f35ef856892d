//! `fanout`: a group of M members, all connected, with K messages per second sent into it by a
//! few of them (open loop, like `latency`). Every message is delivered to M − 1 connections;
//! reported: deliveries per second and send→delivery latency at the members.
//!
//! For large groups (`--group-size` above `--members`), the group also holds members who are not
//! connected, as most members of a 100,000-member group are not. Users then come from tokens the
//! bench mints with the servers' `--jwt-secret` (each provisioned by its first request) instead
//! of registering with a password, which would spend most of the run in argon2. With several
//! `--url`s the connected members are spread over the nodes round robin.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::Args;
use confab_client::Client;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::{drain, spawn_reader, wait_until, Latencies, Tally};
use crate::peers::confab::{lean_endpoint, Body};
use crate::report::{Report, Step};
use crate::stats::{self, LatencySummary};
use crate::target::{ProcSample, ServerHandle};
use crate::{users, OutputArgs, TargetArgs};

#[derive(Args, Debug, Clone, Serialize)]
pub struct FanoutArgs {
    #[command(flatten)]
    #[serde(skip)]
    pub target: TargetArgs,
    #[command(flatten)]
    #[serde(skip)]
    pub output: OutputArgs,
    /// Members of the group, all connected (the server's --max-group-size must allow it).
    #[arg(long, default_value_t = 1000)]
    pub members: usize,
    /// Members that send.
    #[arg(long, default_value_t = 10)]
    pub senders: usize,
    /// Messages per second into the group, all senders together.
    #[arg(long, default_value_t = 300.0)]
    pub rate: f64,
    /// Seconds of load.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Messages in total instead of a duration.
    #[arg(long)]
    pub messages: Option<u64>,
    #[arg(long, default_value_t = 100)]
    pub body_bytes: usize,
    /// Seconds to wait for the last deliveries.
    #[arg(long, default_value_t = 15.0)]
    pub grace: f64,
    /// Concurrent WebSocket handshakes while connecting the members.
    #[arg(long, default_value_t = 64)]
    pub connect_concurrency: usize,
    /// Members of the group in all, connected or not [default: --members]; the servers'
    /// --max-group-size must allow it.
    #[arg(long)]
    pub group_size: Option<usize>,
    /// The servers' HS256 secret: users come from tokens minted with it instead of registrations
    /// (needed for large groups).
    #[arg(long)]
    #[serde(skip)]
    pub jwt_secret: Option<String>,
}

/// Readers share this many histograms (a histogram per member would cost memory for nothing).
const RECORDERS: usize = 64;

pub async fn run(args: &FanoutArgs, output: &OutputArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(args.members >= 2, "--members must be at least 2");
    anyhow::ensure!(args.rate > 0.0, "--rate must be positive");
    let senders_n = args.senders.clamp(1, args.members);
    let group_size = args.group_size.unwrap_or(args.members);
    anyhow::ensure!(group_size >= args.members, "--group-size must be at least --members");
    let extra = vec!["--max-group-size".to_string(), group_size.max(1000).to_string()];
    let server = ServerHandle::prepare(&args.target, &extra)?;
    let url = server.url().to_string();
    let mut report = Report::new("fanout", "confab", server.info.clone(), serde_json::to_value(args)?);
    report.notes.push(format!(
        "a group of {} members, all connected; {} of them send; every message goes to the other {}",
        args.members,
        senders_n,
        args.members - 1
    ));

    let (members, group) = match &args.jwt_secret {
        Some(secret) => {
            let minted =
                users::mint(&url, "fan", group_size, secret, args.target.register_concurrency, output.quiet)
                    .await?;
            let group = users::large_group(&url, &minted, output.quiet).await?;
            report.notes.push(format!(
                "the group has {group_size} members; {} of them connected, over {} node(s)",
                args.members,
                server.urls.len()
            ));
            (minted[..args.members].to_vec(), group)
        }
        None => {
            anyhow::ensure!(group_size == args.members, "--group-size needs --jwt-secret");
            let members =
                users::register(&url, "fan", args.members, args.target.register_concurrency, output.quiet)
                    .await?;
            let others: Vec<String> = members[1..].iter().map(|u| u.id.clone()).collect();
            let group =
                Client::new(&url).with_token(&members[0].token).create_group("bench", &others, None).await?;
            (members, group)
        }
    };
    // Members are read through the lean path: with 1000 members the generator reads 1000 frames
    // per message, and parsing each into types made it, not the server, the limit.
    let bar = users::progress(members.len() as u64, "connecting", output.quiet);
    let urls = server.urls.clone();
    let conversation_id = group.conversation_id.clone();
    let endpoints: Vec<crate::peers::Endpoint> = stream::iter(members.iter().enumerate())
        .map(|(i, u)| {
            let (url, bar, conversation_id) = (urls[i % urls.len()].clone(), bar.clone(), &conversation_id);
            async move {
                let e = lean_endpoint(
                    &url,
                    &u.token,
                    conversation_id,
                    format!("m{i}"),
                    Body::Padded(args.body_bytes),
                )
                .await?;
                bar.inc(1);
                anyhow::Ok(e)
            }
        })
        .buffered(args.connect_concurrency.max(1))
        .try_collect()
        .await?;
    bar.finish_and_clear();

    let tally = Tally::new();
    let stop = CancellationToken::new();
    let recorders: Vec<_> = (0..RECORDERS).map(|_| Latencies::shared()).collect();
    let mut senders: Vec<Box<dyn crate::peers::Sender>> = Vec::new();
    let mut readers = Vec::new();
    for (i, e) in endpoints.into_iter().enumerate() {
        readers.push(spawn_reader(e.receiver, tally.clone(), recorders[i % RECORDERS].clone(), stop.clone()));
        if i < senders_n {
            senders.push(e.sender);
        }
    }
    // Let the membership announcements and presence settle before measuring.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // One message first, not measured: each node loads the member list (for a large group, a
    // database read of every member) and starts its stream of the conversation, which the first
    // message after a node starts pays once. The measured step starts when it has been delivered.
    if let Some(first) = senders.first_mut() {
        let warm_up = tally.delivered.load(Ordering::SeqCst) + args.members as u64 - 1;
        first.send(stats::now_us(), u64::from(u32::MAX)).await?;
        wait_until(Duration::from_secs_f64(args.grace), || tally.delivered.load(Ordering::SeqCst) >= warm_up)
            .await;
    }
    let count = args.messages.unwrap_or((args.rate * args.duration).ceil() as u64);
    let expected = count * (args.members as u64 - 1);
    let before = server.sample();
    let generator_before = ProcSample::read(std::process::id());
    let start_us = tally.start_step();
    let _ = drain(&recorders);
    let n = senders.len() as u64;
    let bar = users::progress(expected, "deliveries", output.quiet);
    let mut tasks = Vec::new();
    for (k, mut sender) in senders.into_iter().enumerate() {
        let schedule = super::open_loop(k as u64, n, count, args.rate, start_us);
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
            }
            (sender, sent)
        }));
    }
    let ticker = {
        let (tally, bar) = (tally.clone(), bar.clone());
        tokio::spawn(async move {
            loop {
                bar.set_position(tally.delivered.load(Ordering::Relaxed));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let mut sent = 0;
    let mut kept = Vec::new();
    for t in tasks {
        let (sender, s) = t.await?;
        kept.push(sender);
        sent += s;
    }
    let want = sent * (args.members as u64 - 1);
    wait_until(Duration::from_secs_f64(args.grace), || {
        tally.delivered.load(Ordering::SeqCst) >= want && tally.acked.load(Ordering::SeqCst) >= sent
    })
    .await;
    let elapsed = Instant::now().duration_since(stats::instant_of(start_us)).as_secs_f64();
    let after = server.sample();
    let generator_after = ProcSample::read(std::process::id());
    ticker.abort();
    bar.finish_and_clear();
    let latencies = drain(&recorders);
    let delivered = tally.delivered.load(Ordering::SeqCst);

    let mut s = Step::new(format!("{} msg/s into {} members", args.rate, args.members));
    s.metric("offered_rate", args.rate, "msg/s");
    s.metric("sent", sent as f64, "msgs");
    s.metric("acked", tally.acked.load(Ordering::SeqCst) as f64, "msgs");
    s.metric("expected_deliveries", want as f64, "");
    s.metric("delivered", delivered as f64, "");
    s.metric("errors", tally.errors.load(Ordering::SeqCst) as f64, "");
    s.metric("deliveries_per_sec", delivered as f64 / elapsed.max(1e-9), "1/s");
    s.cpu_metrics(before, after, delivered, "delivery");
    s.generator_cpu_metrics(generator_before, generator_after, elapsed);
    s.latencies.push(LatencySummary::from_histogram("send→ack", &latencies.ack));
    s.latencies.push(LatencySummary::from_histogram("send→delivery", &latencies.delivery));
    report.steps.push(s);
    if let Some(e) = tally.first_error.lock().unwrap_or_else(|p| p.into_inner()).clone() {
        report.notes.push(format!("first error: {e}"));
    }
    stop.cancel();
    for r in readers {
        let _ = r.await;
    }
    drop(kept);
    Ok(report)
}
