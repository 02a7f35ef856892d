//! `confab admin` on the store of a running `confab serve`: its bans, unbans and revocations reach
//! the server through the moderation log, within its poll interval.

use std::path::Path;
use std::process::Command;

use confab_client::{Client, Connection};
use serde_json::Value;

use crate::admin::banned;
use crate::harness::{register, temp_path, ServerProcess, PASSWORD, WAIT};
use crate::sessions::{closed_with, refused};

/// Runs `confab admin` with `store` arguments; its JSON output, or its error text.
pub(crate) fn confab_admin(store: &[String], args: &[&str]) -> Result<Value, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_confab"))
        .arg("admin")
        .args(store)
        .args(args)
        .env_remove("CONFAB_ADMIN_USERS")
        .output()
        .expect("run confab admin");
    if out.status.success() {
        serde_json::from_slice(&out.stdout).map_err(|e| format!("not JSON ({e}): {out:?}"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Waits until `check` holds, asking again every 50 ms (the change arrives by polling).
pub(crate) async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "{what} within {WAIT:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn embedded(dir: &Path) -> Vec<String> {
    vec!["--data-dir".into(), dir.display().to_string(), "--admin-users".into(), "root".into()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bans_and_revocations_from_the_command_line_reach_a_running_server() {
    let (_dir, path) = temp_path();
    let server = ServerProcess::spawn_with(
        &path,
        &["--admin-users".into(), "root".into(), "--moderation-poll-ms".into(), "200".into()],
    );
    let store = embedded(&path);
    register(&server.url, "root").await;
    let alice = register(&server.url, "alice").await;
    let mut phone = alice.connect("phone").await;

    let ban = confab_admin(&store, &["ban", "alice", "--reason", "spam", "--for", "7d"]).unwrap();
    assert_eq!((ban["userId"].as_str(), ban["reason"].as_str()), (Some(alice.id.as_str()), Some("spam")));
    assert!(ban["bannedBy"].is_null());
    // The socket was open before the ban: the server closes it once it reads the log.
    assert_eq!(closed_with(&mut phone).await, Some(4004));
    assert!(banned(&alice.api.me().await.unwrap_err()));
    assert!(banned(&Client::new(&server.url).login("alice", PASSWORD).await.unwrap_err()));
    let err = confab_admin(&store, &["ban", "root", "--reason", "x"]).unwrap_err();
    assert!(err.contains("FORBIDDEN"), "{err}");
    let listed = confab_admin(&store, &["users", "search", "ali"]).unwrap();
    assert_eq!(listed["users"][0]["ban"]["reason"], "spam");
    assert_eq!(confab_admin(&store, &["stats"]).unwrap()["activeBans"], 1);

    confab_admin(&store, &["unban", "alice"]).unwrap();
    eventually("the unban", || async { alice.api.me().await.is_ok() }).await;
    let mut phone = alice.connect("phone").await;

    confab_admin(&store, &["sessions", "revoke", &alice.id]).unwrap();
    assert_eq!(closed_with(&mut phone).await, Some(4003));
    assert!(refused(alice.api.me().await.unwrap_err()));
    assert!(confab_admin(&store, &["ban", "nobody", "--reason", "x"])
        .unwrap_err()
        .contains("USER_NOT_FOUND"));
    assert!(confab_admin(&store, &["ban", "alice", "--reason", "x", "--for", "5w"]).is_err());
    let _ = Connection::connect(&server.url, &alice.token, "x").await.err().expect("revoked");
}

#[tokio::test]
async fn reports_are_listed_and_resolved_from_the_command_line() {
    let (_dir, path) = temp_path();
    let server = ServerProcess::spawn(&path);
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let conv = alice.api.open_direct(&bob.id).await.unwrap().0.conversation_id;
    bob.api.send_message(&conv, Some("m1"), crate::harness::text("rude")).await.unwrap();
    let (report, _) = alice.api.report("m1", "rude", None).await.unwrap();
    let store = embedded(&path);
    let open = confab_admin(&store, &["reports", "list"]).unwrap();
    assert_eq!(open["reports"][0]["reportId"], report.report_id.as_str());
    assert_eq!(open["reports"][0]["message"]["content"]["text"], "rude");
    let resolved =
        confab_admin(&store, &["reports", "resolve", &report.report_id, "--resolution", "ok"]).unwrap();
    assert_eq!((resolved["status"].as_str(), resolved["resolvedBy"].as_null()), (Some("resolved"), Some(())));
    assert!(confab_admin(&store, &["reports", "list"]).unwrap()["reports"].as_array().unwrap().is_empty());
    let done = confab_admin(&store, &["reports", "list", "--resolved"]).unwrap();
    assert_eq!(done["reports"][0]["resolution"], "ok");
    let stats = confab_admin(&store, &["stats"]).unwrap();
    assert_eq!((stats["users"].as_u64(), stats["messages"].as_u64()), (Some(2), Some(1)));
}
