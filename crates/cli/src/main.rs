//! The `confab` binary.
//!
//! - `confab serve`: run a server (embedded storage by default).
//! - `confab ws URL`: a minimal WebSocket client (frames out on stdout, stdin lines in).
//! - `confab bench <scenario>`: the load generator (`confab-bench`), against `--url` or a spawned
//!   server; compiled in with the `bench` feature only, so building the server stays quick.
//! - `confab admin …`: moderation straight on the store (users, bans, reports, sessions, stats).
//! - `confab migrate`, `backup`, `restore`, `export`: the data lifecycle (see [`data`]).

mod admin;
mod data;
mod serve;
mod ws_client;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "confab", version, about = "Confab: a self-hostable real-time chat server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The argument sets are boxed: they are large and the enum exists only while parsing.
#[derive(Subcommand)]
enum Command {
    /// Run the chat server.
    Serve(Box<serve::ServeArgs>),
    /// A minimal WebSocket client: prints every frame received, sends every line of stdin.
    Ws(ws_client::WsArgs),
    /// Benchmark a server: latency, cluster, fanout, connections, sync, store.
    #[cfg(feature = "bench")]
    Bench(Box<confab_bench::BenchArgs>),
    /// Without the `bench` feature: says how to get the load generator.
    #[cfg(not(feature = "bench"))]
    #[command(hide = true)]
    Bench {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Moderate on the server's store: users, bans, reports, sessions, stats.
    Admin(Box<admin::AdminArgs>),
    /// Apply pending schema migrations (`--dry-run`: list them); JSON out.
    Migrate(Box<data::MigrateArgs>),
    /// Copy the embedded database to a new file, consistently, while the server runs.
    Backup(Box<data::BackupArgs>),
    /// Put a backup in place as the embedded database (the server stopped).
    Restore(Box<data::RestoreArgs>),
    /// One user's data as JSON (profile, settings, blocks, conversations, messages sent).
    Export(Box<data::ExportArgs>),
    /// Print the OpenAPI 3.1 document of the REST API (as served at /api/v1/openapi.json), for
    /// client generators and API tools.
    Openapi,
}

fn main() -> anyhow::Result<()> {
    // Allocations of 1 MiB and more (an argon2 hash takes 19 MiB) get their own mapping and go
    // back to the OS when freed; glibc's adaptive threshold would otherwise keep every such block
    // in the heap for good, and a burst of logins would leave the process gigabytes larger.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: called before any other thread exists; mallopt only tunes the allocator.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::run(*args),
        Command::Ws(args) => ws_client::run(args),
        #[cfg(feature = "bench")]
        Command::Bench(args) => confab_bench::run(*args),
        #[cfg(not(feature = "bench"))]
        Command::Bench { .. } => anyhow::bail!(
            "this confab was built without the load generator; build it with \
             `cargo build --release -p confab-cli --features bench` (see docs/benchmarks.md)"
        ),
        Command::Admin(args) => admin::run(*args),
        Command::Migrate(args) => data::migrate(*args),
        Command::Backup(args) => data::backup(*args),
        Command::Restore(args) => data::restore(*args),
        Command::Export(args) => data::export(*args),
        Command::Openapi => {
            use std::io::Write;
            let text = format!("{:#}\n", confab_server::openapi::document());
            match std::io::stdout().lock().write_all(text.as_bytes()) {
                // `confab openapi | head` closes the pipe early: not an error.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                written => written.map_err(Into::into),
            }
        }
    }
}
