//! `sync`: a user is offline while messages arrive in several conversations; then it reconnects
//! and syncs. Measured: time from starting the WebSocket connection to holding every missed
//! message (`sync` frames with `limit` up to 1000, repeated while `hasMore`), over several rounds
//! from the same cursors, so each round syncs the same backlog.

use std::time::Duration;

use anyhow::Context;
use clap::Args;
use confab_client::{Client, Connection};
use confab_proto::{ClientFrame, ServerFrame, SyncCursor, SyncRequest};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;

use crate::report::{Report, Step};
use crate::stats::{self, LatencySummary};
use crate::target::ServerHandle;
use crate::{users, OutputArgs, TargetArgs};

#[derive(Args, Debug, Clone, Serialize)]
pub struct SyncArgs {
    #[command(flatten)]
    #[serde(skip)]
    pub target: TargetArgs,
    #[command(flatten)]
    #[serde(skip)]
    pub output: OutputArgs,
    /// Messages that arrive while the user is offline, all conversations together.
    #[arg(long, default_value_t = 1000)]
    pub messages: usize,
    /// Conversations they arrive in (one sender each).
    #[arg(long, default_value_t = 10)]
    pub conversations: usize,
    /// Reconnect-and-sync rounds measured.
    #[arg(long, default_value_t = 20)]
    pub rounds: usize,
    /// Messages per conversation per sync request (the server caps it at 1000).
    #[arg(long, default_value_t = 1000)]
    pub limit: u32,
    #[arg(long, default_value_t = 100)]
    pub body_bytes: usize,
}

pub async fn run(args: &SyncArgs, output: &OutputArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(
        args.conversations > 0 && args.messages > 0 && args.rounds > 0,
        "counts must be positive"
    );
    let server = ServerHandle::prepare(&args.target, &[])?;
    let url = server.url().to_string();
    let mut report = Report::new("sync", "confab", server.info.clone(), serde_json::to_value(args)?);
    let people =
        users::register(&url, "sync", args.conversations + 1, args.target.register_concurrency, output.quiet)
            .await?;
    let (me, senders) = people.split_first().context("no users")?;

    // Each sender opens a direct conversation with the offline user and sends its share over
    // WebSocket, pipelined (not measured).
    let bar = users::progress(args.messages as u64, "backlog", output.quiet);
    let conversations: Vec<String> = stream::iter(senders.iter().enumerate())
        .map(|(c, sender)| {
            let (url, bar) = (url.clone(), bar.clone());
            let share =
                args.messages / args.conversations + usize::from(c < args.messages % args.conversations);
            async move {
                let (conv, _) = Client::new(&url).with_token(&sender.token).open_direct(&me.id).await?;
                let mut ws = Connection::connect(&url, &sender.token, "bench").await?;
                for i in 0..share {
                    let body = crate::peers::body(stats::now_us(), i as u64, args.body_bytes);
                    ws.send_text(&conv.conversation_id, &format!("s{c}-{i}"), &body).await?;
                    bar.inc(1);
                }
                anyhow::Ok(conv.conversation_id)
            }
        })
        .buffered(args.conversations)
        .try_collect()
        .await?;
    bar.finish_and_clear();

    let cursors: Vec<SyncCursor> = conversations.iter().map(|c| SyncCursor::new(c.clone(), 0)).collect();
    let mut reconnect = stats::histogram();
    let mut request = stats::histogram();
    let mut synced_messages = 0u64;
    let before = server.sample();
    let bar = users::progress(args.rounds as u64, "sync rounds", output.quiet);
    for round in 0..args.rounds {
        let t0 = stats::now_us();
        let mut ws = Connection::connect(&url, &me.token, &format!("phone{round}")).await?;
        let t1 = stats::now_us();
        let got = sync_all(&mut ws, cursors.clone(), args.limit).await?;
        stats::record_since(&mut reconnect, t0);
        stats::record_since(&mut request, t1);
        anyhow::ensure!(got == args.messages as u64, "synced {got} messages, expected {}", args.messages);
        synced_messages += got;
        ws.close().await.ok();
        bar.inc(1);
    }
    bar.finish_and_clear();
    let after = server.sample();
    let mut s = Step::new(format!("{} messages in {} conversations", args.messages, args.conversations));
    s.metric("messages_per_round", args.messages as f64, "msgs");
    s.metric("rounds", args.rounds as f64, "");
    s.metric("synced_messages", synced_messages as f64, "msgs");
    s.cpu_metrics(before, after, args.rounds as u64, "round");
    s.latencies.push(LatencySummary::from_histogram("reconnect→synced", &reconnect));
    s.latencies.push(LatencySummary::from_histogram("sync request→synced", &request));
    report.steps.push(s);
    report.notes.push(
        "each round opens a new WebSocket (new device) and syncs every conversation from sequence 0".into(),
    );
    Ok(report)
}

/// Syncs until no conversation has more; returns the number of messages received.
async fn sync_all(ws: &mut Connection, mut cursors: Vec<SyncCursor>, limit: u32) -> anyhow::Result<u64> {
    let mut total = 0u64;
    while !cursors.is_empty() {
        let id = ws
            .send(ClientFrame::Sync(SyncRequest { conversations: cursors.clone(), limit: Some(limit) }))
            .await?;
        let reply = ws
            .wait_for(Duration::from_secs(30), "sync.result", |f| {
                (f.id.as_deref() == Some(&id)).then(|| f.clone())
            })
            .await?;
        let result = match reply.frame {
            ServerFrame::SyncResult(r) => r,
            ServerFrame::Error(e) => anyhow::bail!("sync refused: {}: {}", e.error, e.message),
            other => anyhow::bail!("unexpected reply to sync: {other:?}"),
        };
        let mut next = Vec::new();
        for c in result.conversations {
            total += c.messages.len() as u64;
            if c.has_more {
                let last = c.messages.last().map(|m| m.sequence_number).unwrap_or(0);
                next.push(SyncCursor::new(c.conversation_id, last));
            }
        }
        cursors = next;
    }
    Ok(total)
}
