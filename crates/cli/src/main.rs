//! The `confab` binary.
//!
//! - `confab serve`: run a server (embedded storage by default).
//! - `confab bench <scenario>`: the load generator (`confab-bench`), against `--url` or a spawned server.
//! - `confab admin …`: moderation straight on the store (users, bans, reports, sessions, stats).

mod admin;
mod serve;

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
    /// Benchmark a server: latency, cluster, fanout, connections, sync, store.
    Bench(Box<confab_bench::BenchArgs>),
    /// Moderate on the server's store: users, bans, reports, sessions, stats.
    Admin(Box<admin::AdminArgs>),
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
        Command::Bench(args) => confab_bench::run(*args),
        Command::Admin(args) => admin::run(*args),
    }
}
