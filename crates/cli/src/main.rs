//! The `confab` binary.
//!
//! - `confab serve`: run a server (embedded storage by default).
//! - `confab bench <scenario>`: the load generator (`confab-bench`), against `--url` or a spawned server.

mod serve;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "confab", version, about = "Confab: a self-hostable real-time chat server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the chat server.
    Serve(serve::ServeArgs),
    /// Benchmark a server: latency, cluster, fanout, connections, sync, store.
    Bench(confab_bench::BenchArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Bench(args) => confab_bench::run(args),
    }
}
