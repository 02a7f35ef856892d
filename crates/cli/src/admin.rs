//! `confab admin`: moderation straight on the store (the embedded one by default, or
//! `--database-url` like `serve`), for operators on the server's host. Users are named by
//! username (or user id). Output is JSON.
//!
//! Running servers on the same store read its moderation log every couple of seconds, so a ban,
//! unban or revocation made here takes effect on them within that time (see docs/security.md).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use confab_core::store::SharedStore;
use confab_proto::{BanRequest, ReportStatus, ResolveReportRequest};
use confab_server::moderator::{Admins, Moderator};
use serde::Serialize;

#[derive(Args, Debug)]
pub struct AdminArgs {
    /// TOML file of `confab serve` (its data-dir, database-url, database-schema and admin-users
    /// are used).
    #[arg(long, env = "CONFAB_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory of the embedded database [default: ./confab-data].
    #[arg(long, env = "CONFAB_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// `postgres://…` or `sqlite:PATH`, as for `serve`.
    #[arg(long, env = "CONFAB_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// PostgreSQL schema of Confab's tables.
    #[arg(long, env = "CONFAB_DATABASE_SCHEMA")]
    pub database_schema: Option<String>,
    /// The server's administrators (comma-separated usernames), who cannot be banned.
    #[arg(long, env = "CONFAB_ADMIN_USERS", value_delimiter = ',')]
    pub admin_users: Option<Vec<String>>,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// List or search users, with their bans.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Ban a user: refused at login, on every token use and at the WebSocket upgrade, sockets closed.
    Ban {
        /// Username or user id.
        user: String,
        #[arg(long)]
        reason: String,
        /// How long, e.g. `30m`, `12h`, `7d` [default: until unbanned].
        #[arg(long = "for", value_parser = parse_duration)]
        duration: Option<Duration>,
    },
    /// Lift a user's ban.
    Unban {
        /// Username or user id.
        user: String,
    },
    /// List or resolve reports.
    #[command(subcommand)]
    Reports(ReportsCommand),
    /// Revoke a user's sessions.
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Counts of users, conversations, messages, open reports and bans.
    Stats,
    /// Invite codes for `serve --registration invite`.
    #[command(subcommand)]
    Invite(InviteCommand),
    /// API keys of application backends, for the server API (`/api/v1/server`).
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
}

#[derive(Subcommand, Debug)]
pub enum ApiKeyCommand {
    /// Make an API key (printed once: only its hash is kept).
    Create {
        /// Which application holds it.
        #[arg(long)]
        name: String,
    },
    /// Every API key, newest first (ids and names, never keys).
    List,
    /// Revoke an API key by its id: refused from the next request on, on every node.
    Revoke { key_id: String },
}

#[derive(Subcommand, Debug)]
pub enum InviteCommand {
    /// Make an invite code (printed once: only its hash is kept).
    Create {
        /// How many registrations it admits.
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// How long it is valid, e.g. `7d` [default: until used up or revoked].
        #[arg(long = "for", value_parser = parse_duration)]
        valid_for: Option<Duration>,
    },
    /// Every invite, newest first (ids and uses left, never codes).
    List,
    /// Revoke an invite by its id.
    Revoke { invite_id: String },
}

#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// Users by username, a page at a time.
    List {
        /// Start after this username (the previous page's `nextCursor`).
        #[arg(long)]
        cursor: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Users whose username starts with PREFIX.
    Search {
        prefix: String,
        #[arg(long)]
        cursor: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ReportsCommand {
    /// Open reports, oldest first (`--resolved`: resolved ones, newest first).
    List {
        #[arg(long)]
        resolved: bool,
        #[arg(long)]
        cursor: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Resolve a report.
    Resolve {
        report_id: String,
        #[arg(long)]
        resolution: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum SessionsCommand {
    /// Revoke every token the user holds; their sockets close.
    Revoke {
        /// Username or user id.
        user: String,
    },
}

/// `30s`, `15m`, `12h`, `7d` (or plain seconds).
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = digits.parse().map_err(|_| format!("`{s}`: expected a number and s, m, h or d"))?;
    let secs = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{s}`: the unit must be s, m, h or d")),
    };
    n.checked_mul(secs)
        .filter(|t| *t > 0)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{s}`: out of range"))
}

fn print(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Done<'a> {
    done: &'a str,
    user_id: &'a str,
}

pub fn run(mut args: AdminArgs) -> anyhow::Result<()> {
    let file = match args.config.take() {
        Some(path) => Some(crate::serve::read_file(&path)?),
        None => None,
    };
    let (file_dir, file_url, file_schema, file_admins) =
        file.map(|f| f.store_and_admins()).unwrap_or((None, None, None, None));
    let data_dir = args.data_dir.or(file_dir).unwrap_or_else(|| PathBuf::from("./confab-data"));
    let url = args.database_url.or(file_url);
    let schema = args.database_schema.or(file_schema);
    let admins = args.admin_users.or(file_admins).unwrap_or_default();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .with_writer(std::io::stderr)
        .init();
    let location = confab_store::StoreLocation::resolve(url.as_deref(), schema.as_deref(), &data_dir)?;
    let admins = Arc::new(Admins::new(&admins).map_err(|e| anyhow::anyhow!("{e}"))?);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        let store = confab_store::open(&location).await.context("opening the store")?;
        let moderator = Moderator::new(store.clone(), admins);
        let outcome = execute(&moderator, &store, args.command).await;
        // Everything written is committed before the process ends.
        store.shutdown().await;
        outcome
    })
}

async fn execute(m: &Moderator, store: &SharedStore, command: AdminCommand) -> anyhow::Result<()> {
    let err = |e: confab_core::Error| anyhow::anyhow!("{} ({})", e, e.code());
    match command {
        AdminCommand::Users(UsersCommand::List { cursor, limit }) => {
            print(&m.users("", cursor.as_deref(), limit).await.map_err(err)?)
        }
        AdminCommand::Users(UsersCommand::Search { prefix, cursor, limit }) => {
            print(&m.users(&prefix, cursor.as_deref(), limit).await.map_err(err)?)
        }
        AdminCommand::Ban { user, reason, duration } => {
            let user_id = m.resolve_user(&user).await.map_err(err)?;
            let until = duration.map(|d| {
                confab_core::ids::now_millis()
                    .saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            });
            print(&m.ban(None, &user_id, BanRequest { reason, until }).await.map_err(err)?)
        }
        AdminCommand::Unban { user } => {
            let user_id = m.resolve_user(&user).await.map_err(err)?;
            m.unban(None, &user_id).await.map_err(err)?;
            print(&Done { done: "unbanned", user_id: &user_id })
        }
        AdminCommand::Reports(ReportsCommand::List { resolved, cursor, limit }) => {
            let status = if resolved { ReportStatus::Resolved } else { ReportStatus::Open };
            print(&m.reports(status, cursor.as_deref(), limit).await.map_err(err)?)
        }
        AdminCommand::Reports(ReportsCommand::Resolve { report_id, resolution }) => {
            print(&m.resolve(None, &report_id, ResolveReportRequest { resolution }).await.map_err(err)?)
        }
        AdminCommand::Sessions(SessionsCommand::Revoke { user }) => {
            let user_id = m.resolve_user(&user).await.map_err(err)?;
            m.revoke_sessions(None, &user_id).await.map_err(err)?;
            print(&Done { done: "sessions revoked", user_id: &user_id })
        }
        AdminCommand::Invite(InviteCommand::Create { uses, valid_for }) => {
            let ms = valid_for.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            print(&confab_server::invites::create(store, uses, ms).await.map_err(err)?)
        }
        AdminCommand::Invite(InviteCommand::List) => print(&store.invites().await.map_err(err)?),
        AdminCommand::Invite(InviteCommand::Revoke { invite_id }) => {
            print(&store.revoke_invite(&invite_id, confab_core::ids::now_millis()).await.map_err(err)?)
        }
        AdminCommand::ApiKey(ApiKeyCommand::Create { name }) => {
            print(&confab_server::api_keys::create(store, &name).await.map_err(err)?)
        }
        AdminCommand::ApiKey(ApiKeyCommand::List) => print(&store.api_keys().await.map_err(err)?),
        AdminCommand::ApiKey(ApiKeyCommand::Revoke { key_id }) => {
            print(&store.revoke_api_key(&key_id, confab_core::ids::now_millis()).await.map_err(err)?)
        }
        AdminCommand::Stats => {
            let s = m.stats().await.map_err(err)?;
            print(&serde_json::json!({
                "users": s.users,
                "conversations": s.conversations,
                "messages": s.messages,
                "openReports": s.open_reports,
                "activeBans": s.active_bans,
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        for bad in ["", "d", "5w", "0s", "-1h", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
