//! Benchmark users: registered over REST, many at once (argon2 makes each registration take tens
//! of milliseconds of server CPU), and their tokens reused for every connection of the run.

use std::time::Duration;

use anyhow::Context;
use confab_client::Client;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressStyle};

pub const PASSWORD: &str = "bench-password-1";

/// A registered user.
#[derive(Debug, Clone)]
pub struct BenchUser {
    pub id: String,
    pub username: String,
    pub token: String,
}

/// A progress bar, hidden when `quiet`.
pub fn progress(len: u64, what: &str, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg:>14} [{bar:40}] {pos}/{len} ({per_sec}, {elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A short random tag so repeated runs against one server get fresh usernames.
pub fn run_tag() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    id[..8].to_string()
}

/// `n` users named `{prefix}{tag}{i}`, each made by `make(i, username)`, `concurrency` at a time,
/// in order, behind a progress bar labelled `what`.
async fn make_users<F, Fut>(
    prefix: &str,
    n: usize,
    concurrency: usize,
    what: &str,
    quiet: bool,
    make: F,
) -> anyhow::Result<Vec<BenchUser>>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<BenchUser>>,
{
    let tag = run_tag();
    let bar = progress(n as u64, what, quiet);
    let users: Vec<BenchUser> = stream::iter(0..n)
        .map(|i| {
            let user = make(format!("{prefix}{tag}{i}"));
            let bar = bar.clone();
            async move {
                let user = user.await?;
                bar.inc(1);
                anyhow::Ok(user)
            }
        })
        .buffered(concurrency.max(1))
        .try_collect()
        .await?;
    bar.finish_and_clear();
    Ok(users)
}

/// Registers `n` users named `{prefix}{tag}{i}` on `url`, `concurrency` at a time.
pub async fn register(
    url: &str,
    prefix: &str,
    n: usize,
    concurrency: usize,
    quiet: bool,
) -> anyhow::Result<Vec<BenchUser>> {
    let client = Client::new(url);
    make_users(prefix, n, concurrency, "registering", quiet, |username| {
        let client = client.clone();
        async move {
            let auth = client
                .register(&username, PASSWORD, None)
                .await
                .with_context(|| format!("registering {username}"))?;
            Ok(BenchUser { id: auth.user_id, username, token: auth.token })
        }
    })
    .await
}

/// `n` users from tokens minted with the servers' HS256 `secret` (`sub` a fresh id, `username`
/// `{prefix}{tag}{i}`), each provisioned by one request to `url`, `concurrency` at a time.
pub async fn mint(
    url: &str,
    prefix: &str,
    n: usize,
    secret: &str,
    concurrency: usize,
    quiet: bool,
) -> anyhow::Result<Vec<BenchUser>> {
    let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes());
    let client = Client::new(url);
    let now = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?).as_secs() as i64;
    make_users(prefix, n, concurrency, "provisioning", quiet, |username| {
        let (client, key) = (client.clone(), key.clone());
        async move {
            let id = uuid::Uuid::new_v4().to_string();
            let claims =
                serde_json::json!({"sub": id, "iat": now, "exp": now + 86_400, "username": username});
            let token = jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key)?;
            client.with_token(&token).me().await.with_context(|| format!("provisioning {username}"))?;
            Ok(BenchUser { id, username, token })
        }
    })
    .await
}

/// A group of every one of `users`, created by the first: created with the first few thousand and
/// grown in chunks (each answer lists every member, so chunks keep the answers bounded).
pub async fn large_group(
    url: &str,
    users: &[BenchUser],
    quiet: bool,
) -> anyhow::Result<confab_proto::Conversation> {
    // About 40 bytes an id: a chunk needs the servers to take bodies of about 800 KB.
    const CHUNK: usize = 20_000;
    let creator = Client::new(url).with_token(&users[0].token);
    let others: Vec<String> = users[1..].iter().map(|u| u.id.clone()).collect();
    let mut chunks = others.chunks(CHUNK);
    let first = chunks.next().unwrap_or_default();
    let group = creator.create_group("bench", first, None).await?;
    let bar = progress(others.len() as u64, "adding members", quiet);
    bar.inc(first.len() as u64);
    for chunk in chunks {
        creator.add_members(&group.conversation_id, chunk).await?;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    Ok(group)
}
