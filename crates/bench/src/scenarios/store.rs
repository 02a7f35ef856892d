//! `store`: how many messages per second the server durably persists, closed loop. Senders each
//! hold a direct conversation with a user who stays offline (so the figure is persistence, not
//! fan-out). Over WebSocket every sender pipelines up to `--window` unacknowledged sends; over
//! REST, `--rest-concurrency` requests are in flight. A message counts once acknowledged, which
//! Confab does only after its commit (fsync) — see the durability rule in the protocol.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, ValueEnum};
use confab_client::{Client, Connection};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::corpus::{self, Rng};
use crate::peers::confab::{endpoint, Body};
use crate::peers::Event;
use crate::report::{Report, Step};
use crate::stats::{self, LatencySummary};
use crate::target::ServerHandle;
use crate::users::BenchUser;
use crate::{users, OutputArgs, TargetArgs};

/// What the messages say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Text {
    /// The send time and a sequence number padded with `x` to `--body-bytes`: two words no other
    /// message has, a worst case for the search index.
    Padded,
    /// Chat-like texts of 6–20 words from the vocabulary `bench search` seeds (`--body-bytes` is
    /// not used).
    Chat,
}

impl Text {
    /// Sender `k`'s texts.
    fn body(self, k: usize, body_bytes: usize) -> Body {
        match self {
            Text::Padded => Body::Padded(body_bytes),
            Text::Chat => Body::Chat(Rng::new(k as u64 + 1)),
        }
    }

    fn text(self, rng: &mut Rng, t0: u64, i: u64, body_bytes: usize) -> String {
        match self {
            Text::Padded => crate::peers::body(t0, i, body_bytes),
            Text::Chat => corpus::text(rng, i as usize),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Ws,
    Rest,
}

#[derive(Args, Debug, Clone, Serialize)]
pub struct StoreArgs {
    #[command(flatten)]
    #[serde(skip)]
    pub target: TargetArgs,
    #[command(flatten)]
    #[serde(skip)]
    pub output: OutputArgs,
    /// Messages per transport, all senders together.
    #[arg(long, default_value_t = 20000)]
    pub messages: u64,
    /// Sending users (one conversation each).
    #[arg(long, default_value_t = 8)]
    pub senders: usize,
    /// Unacknowledged WebSocket sends per sender (the server allows 256).
    #[arg(long, default_value_t = 64)]
    pub window: usize,
    /// REST requests in flight.
    #[arg(long, default_value_t = 32)]
    pub rest_concurrency: usize,
    /// Transports to measure, in order.
    #[arg(long, value_delimiter = ',', default_value = "ws,rest")]
    pub transport: Vec<Transport>,
    #[arg(long, default_value_t = 100)]
    pub body_bytes: usize,
    /// What the messages say.
    #[arg(long, value_enum, default_value_t = Text::Padded)]
    pub text: Text,
}

struct Sender {
    user: BenchUser,
    conversation_id: String,
}

pub async fn run(args: &StoreArgs, output: &OutputArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(args.senders > 0 && args.messages > 0, "counts must be positive");
    let server = ServerHandle::prepare(&args.target, &[])?;
    let url = server.url().to_string();
    let mut report = Report::new("store", "confab", server.info.clone(), serde_json::to_value(args)?);
    let people =
        users::register(&url, "st", args.senders + 1, args.target.register_concurrency, output.quiet).await?;
    let (sink, rest) = people.split_first().context("no users")?;
    let mut senders = Vec::new();
    for user in rest {
        let (conv, _) = Client::new(&url).with_token(&user.token).open_direct(&sink.id).await?;
        senders.push(Sender { user: user.clone(), conversation_id: conv.conversation_id });
    }
    for transport in &args.transport {
        let before = server.sample();
        let started = Instant::now();
        let (acked, latency) = match transport {
            Transport::Ws => over_ws(&url, &senders, args, output.quiet).await?,
            Transport::Rest => over_rest(&url, &senders, args, output.quiet).await?,
        };
        let secs = started.elapsed().as_secs_f64();
        let after = server.sample();
        let name = match transport {
            Transport::Ws => "WebSocket",
            Transport::Rest => "REST",
        };
        let mut s = Step::new(format!("{name}, {} senders", args.senders));
        s.metric("acknowledged", acked as f64, "msgs");
        s.metric("durable_msgs_per_sec", acked as f64 / secs.max(1e-9), "msg/s");
        s.cpu_metrics(before, after, acked, "durable_msg");
        s.latencies.push(LatencySummary::from_histogram("send→ack", &latency));
        report.steps.push(s);
    }
    report.notes.push("the recipient stays offline: no WebSocket delivery, only persistence".into());
    Ok(report)
}

async fn over_ws(
    url: &str,
    senders: &[Sender],
    args: &StoreArgs,
    quiet: bool,
) -> anyhow::Result<(u64, hdrhistogram::Histogram<u64>)> {
    let bar = users::progress(args.messages, "ws sends", quiet);
    let n = senders.len() as u64;
    let mut tasks = Vec::new();
    for (k, s) in senders.iter().enumerate() {
        let share = args.messages / n + u64::from((k as u64) < args.messages % n);
        let connection = Connection::connect(url, &s.user.token, "store").await?;
        let e = endpoint(connection, &s.conversation_id, format!("w{k}"), args.text.body(k, args.body_bytes));
        let (mut sender, mut receiver) = (e.sender, e.receiver);
        let window = Arc::new(Semaphore::new(args.window.max(1)));
        let bar = bar.clone();
        let reader_window = window.clone();
        let reader = tokio::spawn(async move {
            let mut h = stats::histogram();
            let mut acked = 0u64;
            while acked < share {
                match receiver.next().await? {
                    Event::Ack { sent_us } => {
                        stats::record_since(&mut h, sent_us);
                        acked += 1;
                        bar.inc(1);
                        reader_window.add_permits(1);
                    }
                    Event::Error(e) => anyhow::bail!("send refused: {e}"),
                    _ => {}
                }
            }
            anyhow::Ok((acked, h))
        });
        let writer = tokio::spawn(async move {
            for i in 0..share {
                window.acquire().await?.forget();
                sender.send(stats::now_us(), i).await?;
            }
            anyhow::Ok(())
        });
        tasks.push((writer, reader));
    }
    let mut total = 0;
    let mut latency = stats::histogram();
    for (writer, reader) in tasks {
        writer.await??;
        let (acked, h) = reader.await??;
        total += acked;
        latency.add(&h).ok();
    }
    bar.finish_and_clear();
    Ok((total, latency))
}

async fn over_rest(
    url: &str,
    senders: &[Sender],
    args: &StoreArgs,
    quiet: bool,
) -> anyhow::Result<(u64, hdrhistogram::Histogram<u64>)> {
    let bar = users::progress(args.messages, "rest sends", quiet);
    let clients: Vec<(Client, &str)> = senders
        .iter()
        .map(|s| (Client::new(url).with_token(&s.user.token), s.conversation_id.as_str()))
        .collect();
    let tag = users::run_tag();
    let latencies: Vec<u64> = stream::iter(0..args.messages)
        .map(|i| {
            let (client, conversation) = &clients[i as usize % clients.len()];
            let (bar, tag) = (bar.clone(), &tag);
            async move {
                let t0 = stats::now_us();
                let text = args.text.text(&mut Rng::new(i + 1), t0, i, args.body_bytes);
                let content = serde_json::json!({"type": "text", "text": text});
                client.send_message(conversation, Some(&format!("r{tag}-{i}")), content).await?;
                bar.inc(1);
                anyhow::Ok(stats::now_us().saturating_sub(t0).max(1))
            }
        })
        .buffer_unordered(args.rest_concurrency.max(1))
        .try_collect()
        .await?;
    bar.finish_and_clear();
    let mut h = stats::histogram();
    for l in &latencies {
        h.saturating_record(*l);
    }
    Ok((latencies.len() as u64, h))
}
