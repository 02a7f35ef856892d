//! The data lifecycle on the server's host: `confab migrate` (explicit schema migration, with
//! `--dry-run`), `confab backup` / `confab restore` (the embedded store; PostgreSQL has
//! `pg_dump`), and `confab export --user` (one user's data as JSON, for access requests). Each
//! finds the store as `confab serve` does (`--data-dir`, `--database-url`, `--config`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use confab_core::store::{HistoryCursor, SharedStore};
use confab_proto::{BlockedUser, Conversation, Message, User};
use confab_store::schema::{self, SchemaStatus};
use confab_store::StoreLocation;
use serde::Serialize;

/// Where the store is, as for `confab serve`.
#[derive(Args, Debug, Clone)]
pub struct StoreArgs {
    /// TOML file of `confab serve` (its data-dir, database-url and database-schema are used).
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
}

impl StoreArgs {
    fn location(&self) -> anyhow::Result<StoreLocation> {
        let file = match &self.config {
            Some(path) => Some(crate::serve::read_file(path)?),
            None => None,
        };
        let (file_dir, file_url, file_schema, _) =
            file.map(|f| f.store_and_admins()).unwrap_or((None, None, None, None));
        let data_dir = self.data_dir.clone().or(file_dir).unwrap_or_else(|| PathBuf::from("./confab-data"));
        let url = self.database_url.clone().or(file_url);
        let schema = self.database_schema.clone().or(file_schema);
        Ok(StoreLocation::resolve(url.as_deref(), schema.as_deref(), &data_dir)?)
    }
}

#[derive(Args, Debug)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Only say which migrations would run.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
pub struct BackupArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The backup file to write (must not exist).
    pub dest: PathBuf,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// A backup written by `confab backup`.
    pub source: PathBuf,
    /// Replace an existing database (it is kept beside the new one, renamed).
    #[arg(long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Username of the user whose data is exported.
    #[arg(long)]
    pub user: String,
    /// Write to this file instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MigrateReport<'a> {
    store: String,
    version_before: usize,
    version: usize,
    known: usize,
    applied: &'a [&'static str],
    pending: &'a [&'static str],
    dry_run: bool,
}

pub fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    let location = args.store.location()?;
    runtime()?.block_on(async {
        let before: SchemaStatus = schema::status(&location).await.context("reading the schema version")?;
        schema::check_readable(&before)?;
        let (after, applied): (SchemaStatus, &[&'static str]) = if args.dry_run || before.pending.is_empty() {
            (before.clone(), &[])
        } else {
            let store = confab_store::open(&location).await.context("migrating")?;
            store.shutdown().await;
            (schema::status(&location).await?, &before.pending)
        };
        let report = MigrateReport {
            store: location.to_string(),
            version_before: before.version,
            version: after.version,
            known: after.known,
            applied,
            pending: if args.dry_run { &before.pending } else { &after.pending },
            dry_run: args.dry_run,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
        Ok(())
    })
}

pub fn backup(args: BackupArgs) -> anyhow::Result<()> {
    match args.store.location()? {
        StoreLocation::Embedded { file } => {
            if !file.exists() {
                bail!("no database at {}", file.display());
            }
            confab_store::sqlite::backup(&file, &args.dest)
                .with_context(|| format!("backing up {} to {}", file.display(), args.dest.display()))?;
            println!("{}", serde_json::json!({"backup": args.dest, "from": file}));
            Ok(())
        }
        StoreLocation::Postgres { .. } => bail!(
            "confab backup copies the embedded store; back up PostgreSQL with pg_dump \
             (see docs/operations.md, \"Backups\")"
        ),
    }
}

pub fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let file = match args.store.location()? {
        StoreLocation::Embedded { file } => file,
        StoreLocation::Postgres { .. } => {
            bail!("confab restore writes the embedded store; restore PostgreSQL with pg_restore or psql")
        }
    };
    let runtime = runtime()?;
    let source = StoreLocation::Embedded { file: args.source.clone() };
    let status = runtime.block_on(schema::status(&source)).context("reading the backup")?;
    if !args.source.exists() || status.version == 0 {
        bail!("{} is not a Confab database", args.source.display());
    }
    schema::check_readable(&status)?;
    let replaced = if file.exists() {
        if !args.force {
            bail!("{} exists: stop the server and pass --force to replace it", file.display());
        }
        Some(set_aside(&file)?)
    } else {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        None
    };
    confab_store::sqlite::backup(&args.source, &file)
        .with_context(|| format!("copying {} to {}", args.source.display(), file.display()))?;
    println!("{}", serde_json::json!({"restored": file, "from": args.source, "previous": replaced}));
    Ok(())
}

/// Renames the database at `file` (and its WAL files) out of the way; returns its new name.
fn set_aside(file: &Path) -> anyhow::Result<PathBuf> {
    let stamp = confab_core::ids::now_millis();
    let aside = PathBuf::from(format!("{}.replaced-{stamp}", file.display()));
    std::fs::rename(file, &aside).with_context(|| format!("renaming {}", file.display()))?;
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", file.display()));
        if side.exists() {
            std::fs::rename(&side, format!("{}{suffix}", aside.display()))?;
        }
    }
    Ok(aside)
}

/// One user's data: what an access request is answered with.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserExport {
    exported_at: i64,
    user: User,
    show_last_seen: bool,
    blocks: Vec<BlockedUser>,
    conversations: Vec<ExportedConversation>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExportedConversation {
    conversation: Conversation,
    /// The messages this user sent, in their current state (tombstones included).
    messages_sent: Vec<Message>,
}

pub fn export(args: ExportArgs) -> anyhow::Result<()> {
    let location = args.store.location()?;
    runtime()?.block_on(async {
        let store = confab_store::open_with(&location, schema::Migrations::RequireCurrent)
            .await
            .context("opening the store")?;
        let outcome = export_user(&store, &args.user).await;
        store.shutdown().await;
        let json = serde_json::to_string_pretty(&outcome?)?;
        match &args.out {
            Some(path) => {
                std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?
            }
            None => println!("{json}"),
        }
        Ok(())
    })
}

async fn export_user(store: &SharedStore, username: &str) -> anyhow::Result<UserExport> {
    let name = confab_core::validate::username(username).map_err(|e| anyhow::anyhow!("{e}"))?;
    let user = store.credentials(&name).await?.with_context(|| format!("no user named {name}"))?.user;
    let id = user.user_id.clone();
    let mut conversations = Vec::new();
    for conversation in store.conversations_of(&id).await? {
        let mut messages_sent = Vec::new();
        let mut after = 0;
        loop {
            let page =
                store.history(&conversation.conversation_id, &id, HistoryCursor::After(after), 100).await?;
            after = page.messages.last().map_or(after, |m| m.sequence_number);
            messages_sent.extend(page.messages.into_iter().filter(|m| m.sender_id == id));
            if !page.has_more {
                break;
            }
        }
        conversations.push(ExportedConversation { conversation, messages_sent });
    }
    Ok(UserExport {
        exported_at: confab_core::ids::now_millis(),
        show_last_seen: store.show_last_seen(&id).await?,
        blocks: store.blocks_of(&id).await?,
        user,
        conversations,
    })
}
