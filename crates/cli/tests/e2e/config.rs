//! Startup configuration as an operator meets it: the real `confab` binary refuses a database or
//! Redis URL it does not understand, with a message naming the accepted forms, instead of quietly
//! starting something else.

use std::path::Path;
use std::process::Stdio;

use crate::harness::{register, temp_path, ServerProcess, WAIT};

/// Runs `confab serve` with `extra` arguments; returns its exit status and stderr once it exits.
async fn serve_until_exit(data_dir: &Path, extra: &[&str]) -> (std::process::ExitStatus, String) {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env_remove("CONFAB_DATABASE_URL")
        .env_remove("CONFAB_REDIS_URL")
        .env_remove("CONFAB_CONFIG")
        .env("CONFAB_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn confab");
    let output = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .expect("confab exits instead of serving")
        .expect("confab output");
    (output.status, String::from_utf8_lossy(&output.stderr).into_owned())
}

#[tokio::test]
async fn a_misspelt_database_url_is_a_startup_error() {
    let (_dir, data_dir) = temp_path();
    let (status, stderr) = serve_until_exit(&data_dir, &["--database-url", "postgress://x"]).await;
    assert!(!status.success(), "exit status {status}; stderr: {stderr}");
    for expected in ["postgress:", "postgres://", "postgresql://", "sqlite:"] {
        assert!(stderr.contains(expected), "stderr names {expected}: {stderr}");
    }
    assert!(!data_dir.join("confab.db").exists(), "no embedded store was created instead");
}

#[tokio::test]
async fn a_misspelt_redis_url_is_a_startup_error() {
    let (_dir, data_dir) = temp_path();
    let (status, stderr) = serve_until_exit(&data_dir, &["--redis-url", "reddis://cache:6379"]).await;
    assert!(!status.success(), "exit status {status}; stderr: {stderr}");
    for expected in ["reddis:", "redis://"] {
        assert!(stderr.contains(expected), "stderr names {expected}: {stderr}");
    }
    assert!(!data_dir.join("confab.db").exists(), "nothing was opened before the URLs were checked");
}

#[tokio::test]
async fn a_sqlite_url_puts_the_embedded_store_in_that_file() {
    let (_dir, data_dir) = temp_path();
    let (_elsewhere, other) = temp_path();
    let file = other.join("chat.db");
    let server = ServerProcess::spawn_with(
        &data_dir,
        &["--database-url".into(), format!("sqlite:{}", file.display())],
    );
    let alice = register(&server.url, "alice").await;
    assert!(!alice.id.is_empty());
    assert!(file.exists(), "the store is the named file");
    assert!(!data_dir.join("confab.db").exists(), "not the default file in --data-dir");
}

/// A person starting the server is told where to point a browser, where the data is, which
/// backends are in use and where the token secret is kept; logs written to a pipe carry no colour
/// codes.
#[tokio::test]
async fn startup_says_what_a_person_needs_and_pipes_get_plain_logs() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let (_dir, data_dir) = temp_path();
    let start = |data_dir: &Path| {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_confab"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env_remove("CONFAB_DATABASE_URL")
            .env_remove("CONFAB_REDIS_URL")
            .env_remove("CONFAB_CONFIG")
            .env_remove("CONFAB_JWT_SECRET")
            .env_remove("NO_COLOR")
            .env("CONFAB_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn confab")
    };
    for (run, secret) in [(1, "generated now"), (2, "since the first start")] {
        let mut child = start(&data_dir);
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut summary = Vec::new();
        while summary.len() < 6 {
            let line = tokio::time::timeout(WAIT, stdout.next_line()).await.expect("startup output");
            summary.push(line.expect("stdout").expect("a line"));
        }
        let text = summary.join("\n");
        let url = summary[0].strip_prefix("confab listening on ").expect("first line").to_string();
        let canonical = std::fs::canonicalize(&data_dir).expect("data dir");
        for expected in [
            format!("open in a browser:  {url}/"),
            format!("data directory:     {}", canonical.display()),
            "storage:            embedded SQLite".to_string(),
            "in-process".to_string(),
            secret.to_string(),
        ] {
            assert!(text.contains(&expected), "run {run}: `{expected}` missing from:\n{text}");
        }
        let mut stderr = BufReader::new(child.stderr.take().expect("stderr")).lines();
        loop {
            let line = tokio::time::timeout(WAIT, stderr.next_line()).await.expect("log line");
            let line = line.expect("stderr").expect("the listening log line");
            assert!(!line.contains('\u{1b}'), "colour codes in a piped log: {line:?}");
            if line.contains("listening") {
                break;
            }
        }
        child.kill().await.expect("stop");
    }
}
