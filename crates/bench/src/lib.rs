//! Confab's load generator: drives a running server (or one it spawns) over real WebSocket and
//! REST connections using the shared protocol types of `confab_proto`, and reports latency
//! percentiles (HDR histograms), throughput, server CPU time and memory as a table, a JSON file and
//! an SVG chart. Exposed as `confab bench <scenario>`.
//!
//! Benchmarks measure; they do not assert. `tests/smoke.rs` runs every scenario with tiny
//! parameters against an in-process server so the tool cannot rot.
//!
//! # Layout
//! - [`target`]: where the server is (`--url`, or `--spawn-server` pinned with `taskset`), and what
//!   `/proc` says about it: CPU time (utime + stime) and resident memory.
//! - [`users`]: concurrent registration of benchmark users (argon2 makes each registration slow).
//! - [`stats`]: the shared clock, HDR histograms and their summaries.
//! - [`report`]: the result of a run, printed as a table and written as JSON and SVG.
//! - [`peers`]: one [`peers::System`] per chat server the latency and connections scenarios can
//!   drive: Confab, a Socket.IO chat server, an XMPP server over WebSocket (RFC 7395).
//! - [`scenarios`]: `latency` (also `cluster`), `fanout`, `connections`, `sync`, `store`, `sweep`,
//!   `search`, `attachments`.
//!
//! Errors are `anyhow` throughout: this crate is the body of a command-line tool, and every error
//! ends the run with its context printed.

pub mod corpus;
pub mod peers;
pub mod report;
pub mod scenarios;
pub mod stats;
pub mod target;
pub mod users;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use report::Report;

/// `confab bench …`.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub scenario: Scenario,
}

/// The same arguments as a standalone parser (for tests and embedding).
#[derive(Parser, Debug, Clone)]
#[command(name = "bench")]
pub struct BenchCli {
    #[command(subcommand)]
    pub scenario: Scenario,
}

#[derive(Subcommand, Debug, Clone)]
pub enum Scenario {
    /// N pairs chatting 1:1 at a fixed total rate (open loop): send→ack and send→delivery latency.
    Latency(scenarios::latency::LatencyArgs),
    /// The latency scenario with each pair's two users on different servers (`--url` twice or more).
    Cluster(scenarios::latency::LatencyArgs),
    /// A group of M connected members, K messages/s into it: deliveries/s and delivery latency.
    Fanout(scenarios::fanout::FanoutArgs),
    /// Ramp to C idle authenticated connections: connect rate and server memory per connection.
    Connections(scenarios::connections::ConnectionsArgs),
    /// A user offline while messages arrive in several conversations: time from reconnect to synced.
    Sync(scenarios::sync::SyncArgs),
    /// Messages durably persisted per second, over WebSocket and over REST.
    Store(scenarios::store::StoreArgs),
    /// Send latency idle and while the sweeper erases a backlog of expired messages.
    Sweep(scenarios::sweep::SweepArgs),
    /// Message search over N messages in C conversations, seeded through the store: latency by
    /// kind of query, index size per message.
    Search(scenarios::search::SearchArgs),
    /// Attachment upload and download throughput, server CPU per MiB, memory while uploading.
    Attachments(scenarios::attachments::AttachmentsArgs),
}

/// Where the server is, and how to spawn one. Shared by every scenario.
#[derive(Args, Debug, Clone, Default)]
pub struct TargetArgs {
    /// Server URL (`http://host:port`); repeat for the cluster scenario (first: senders' server).
    #[arg(long = "url")]
    pub urls: Vec<String>,
    /// Process id of the server at `--url`, to read its CPU time and memory from /proc.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Start the server: `confab serve` with a temporary data dir, pinned to `--server-cpus`.
    #[arg(long)]
    pub spawn_server: bool,
    /// The confab binary to spawn [default: this executable].
    #[arg(long)]
    pub confab_bin: Option<PathBuf>,
    /// CPUs the spawned server is pinned to (taskset list).
    #[arg(long, default_value = "0")]
    pub server_cpus: String,
    /// CPUs this load generator pins itself to (empty: no pinning).
    #[arg(long, default_value = "")]
    pub client_cpus: String,
    /// Parent directory of the spawned server's temporary data dir [default: the system temp dir].
    #[arg(long)]
    pub data_parent: Option<PathBuf>,
    /// Extra argument for the spawned `confab serve` (repeatable), e.g. `--server-arg=--log=warn`.
    #[arg(long = "server-arg", allow_hyphen_values = true)]
    pub server_args: Vec<String>,
    /// Which chat server the URLs point at: confab, socketio or xmpp (latency and connections).
    #[arg(long, default_value = "confab")]
    pub system: peers::SystemKind,
    /// XMPP domain of the users (system xmpp).
    #[arg(long, default_value = "localhost")]
    pub xmpp_domain: String,
    /// Concurrent registrations.
    #[arg(long, default_value_t = 16)]
    pub register_concurrency: usize,
}

/// Where results go.
#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// Directory for the JSON and SVG reports.
    #[arg(long, default_value = "bench-results")]
    pub out: PathBuf,
    /// Name of the report files [default: the scenario and system].
    #[arg(long)]
    pub name: Option<String>,
    /// No progress bars (they are also hidden when stderr is not a terminal).
    #[arg(long)]
    pub quiet: bool,
    /// Skip the SVG chart.
    #[arg(long)]
    pub no_svg: bool,
}

impl Default for OutputArgs {
    fn default() -> Self {
        OutputArgs { out: PathBuf::from("bench-results"), name: None, quiet: true, no_svg: false }
    }
}

impl Scenario {
    fn output(&self) -> &OutputArgs {
        match self {
            Scenario::Latency(a) | Scenario::Cluster(a) => &a.output,
            Scenario::Fanout(a) => &a.output,
            Scenario::Connections(a) => &a.output,
            Scenario::Sync(a) => &a.output,
            Scenario::Store(a) => &a.output,
            Scenario::Sweep(a) => &a.output,
            Scenario::Search(a) => &a.output,
            Scenario::Attachments(a) => &a.output,
        }
    }

    fn target(&self) -> &TargetArgs {
        match self {
            Scenario::Latency(a) | Scenario::Cluster(a) => &a.target,
            Scenario::Fanout(a) => &a.target,
            Scenario::Connections(a) => &a.target,
            Scenario::Sync(a) => &a.target,
            Scenario::Store(a) => &a.target,
            Scenario::Sweep(a) => &a.target,
            Scenario::Search(a) => &a.target,
            Scenario::Attachments(a) => &a.target,
        }
    }
}

/// Runs a scenario and returns its report (already printed and written to `--out`).
pub async fn run_async(args: BenchArgs) -> anyhow::Result<Report> {
    let scenario = args.scenario;
    let output = scenario.output().clone();
    let report = match &scenario {
        Scenario::Latency(a) => scenarios::latency::run(a, false, &output).await?,
        Scenario::Cluster(a) => scenarios::latency::run(a, true, &output).await?,
        Scenario::Fanout(a) => scenarios::fanout::run(a, &output).await?,
        Scenario::Connections(a) => scenarios::connections::run(a, &output).await?,
        Scenario::Sync(a) => scenarios::sync::run(a, &output).await?,
        Scenario::Store(a) => scenarios::store::run(a, &output).await?,
        Scenario::Sweep(a) => scenarios::sweep::run(a, &output).await?,
        Scenario::Search(a) => scenarios::search::run(a, &output).await?,
        Scenario::Attachments(a) => scenarios::attachments::run(a, &output).await?,
    };
    report.emit(&output)?;
    Ok(report)
}

/// `confab bench`: pins this process (`--client-cpus`), raises the open-files limit, builds a
/// runtime with one worker per usable CPU and runs the scenario.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let target = args.scenario.target();
    if !target.client_cpus.is_empty() {
        target::pin_self(&target.client_cpus)?;
    }
    target::raise_nofile_limit();
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build()?;
    runtime.block_on(run_async(args)).map(|_| ())
}
