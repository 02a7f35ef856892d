//! Startup configuration as an operator meets it: the real `confab` binary refuses a database or
//! Redis URL it does not understand, with a message naming the accepted forms, instead of quietly
//! starting something else.

use std::path::Path;
use std::process::Stdio;

use crate::harness::{temp_path, WAIT};

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
