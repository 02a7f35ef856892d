//! The data lifecycle with the real binary: a backup taken while a server writes, restored into a
//! new data directory that a new server then serves; explicit migration and `--no-migrate`; one
//! user's export.

use std::path::Path;
use std::process::{Command, Output};

use confab_client::Client;
use serde_json::Value;

use crate::harness::{all_messages, register, temp_path, text, ServerProcess, PASSWORD};

fn confab(args: &[&str], data_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("CONFAB_DATABASE_URL")
        .output()
        .expect("run confab")
}

fn json(out: &Output) -> Value {
    assert!(out.status.success(), "confab failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_serving_restores_into_a_new_server() {
    let (_dir, path) = temp_path();
    let (live, restored) = (path.join("live"), path.join("restored"));
    let server = ServerProcess::spawn(&live);
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let (direct, _) = alice.api.open_direct(&bob.id).await.unwrap();
    let id = direct.conversation_id;
    for i in 0..30 {
        alice.api.send_message(&id, Some(&format!("m{i}")), text(&format!("message {i}"))).await.unwrap();
    }
    // The backup runs while the server is up (and a client keeps writing meanwhile).
    let dest = path.join("confab-backup.db");
    let writer = {
        let (api, id) = (bob.api.clone(), id.clone());
        tokio::spawn(async move {
            for i in 0..20 {
                api.send_message(&id, Some(&format!("during-{i}")), text("during")).await.unwrap();
            }
        })
    };
    let dest_arg = dest.to_str().unwrap().to_string();
    let out = tokio::task::spawn_blocking({
        let live = live.clone();
        move || confab(&["backup", &dest_arg], &live)
    })
    .await
    .unwrap();
    json(&out);
    writer.await.unwrap();
    alice.api.send_message(&id, Some("after"), text("after the backup")).await.unwrap();
    let refused = confab(&["backup", dest.to_str().unwrap()], &live);
    assert!(!refused.status.success(), "an existing backup file is never overwritten");
    drop(server);

    let out = confab(&["restore", dest.to_str().unwrap()], &restored);
    let report = json(&out);
    assert!(report["restored"].as_str().unwrap().ends_with("confab.db"));
    // Restoring over an existing database needs --force, and keeps the old one aside.
    assert!(!confab(&["restore", dest.to_str().unwrap()], &restored).status.success());
    let forced = json(&confab(&["restore", "--force", dest.to_str().unwrap()], &restored));
    assert!(forced["previous"].as_str().unwrap().contains(".replaced-"));

    let server = ServerProcess::spawn(&restored);
    let api = Client::new(&server.url);
    let auth = api.login("alice", PASSWORD).await.expect("alice's account came back");
    let api = api.with_token(&auth.token);
    let messages = all_messages(&api, &id).await;
    let ids: Vec<&str> = messages.iter().map(|m| m.message_id.as_str()).collect();
    assert!(ids.len() >= 30 && ids[..30].iter().enumerate().all(|(i, m)| *m == format!("m{i}")), "{ids:?}");
    assert!(!ids.contains(&"after"), "written after the backup");
    let seqs: Vec<u64> = messages.iter().map(|m| m.sequence_number).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "a consistent, gapless copy");
    // The restored server goes on from there.
    let ack = api.send_message(&id, Some("next"), text("next")).await.unwrap().0;
    assert_eq!(ack.sequence_number, seqs.len() as u64 + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_run_explicitly_and_no_migrate_refuses_a_database_behind() {
    let (_dir, path) = temp_path();
    let dir = path.join("data");
    let dry = json(&confab(&["migrate", "--dry-run"], &dir));
    assert_eq!(dry["versionBefore"], 0);
    assert!(dry["pending"].as_array().unwrap().len() > 5);
    assert_eq!(dry["pending"][0], "0001_init.sql");
    assert!(!dir.join("confab.db").exists(), "a dry run creates nothing");

    // A server that may not migrate refuses the new database and says what to do.
    let out = Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(["serve", "--listen", "127.0.0.1:0", "--no-migrate", "--data-dir"])
        .arg(&dir)
        .output()
        .expect("run confab serve");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("confab migrate"), "{stderr}");

    let applied = json(&confab(&["migrate"], &dir));
    assert_eq!(applied["applied"], dry["pending"]);
    assert_eq!(applied["pending"].as_array().unwrap().len(), 0);
    assert_eq!(applied["version"], applied["known"]);
    let again = json(&confab(&["migrate"], &dir));
    assert_eq!(again["applied"].as_array().unwrap().len(), 0, "nothing left to do");
    let server = ServerProcess::spawn_with(&dir, &["--no-migrate".to_string()]);
    register(&server.url, "carol").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_holds_one_users_profile_conversations_and_own_messages() {
    let (_dir, path) = temp_path();
    let dir = path.join("data");
    let server = ServerProcess::spawn(&dir);
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let (direct, _) = alice.api.open_direct(&bob.id).await.unwrap();
    let id = direct.conversation_id;
    alice.api.send_message(&id, Some("a1"), text("alice's words")).await.unwrap();
    bob.api.send_message(&id, Some("b1"), text("bob's words")).await.unwrap();
    alice.api.send_message(&id, Some("a2"), text("more of alice")).await.unwrap();
    alice.api.block_user(&bob.id).await.unwrap();
    drop(server);

    let export = json(&confab(&["export", "--user", "Alice"], &dir));
    assert_eq!(export["user"]["username"], "alice");
    assert_eq!(export["blocks"][0]["user"]["userId"], bob.id.as_str());
    let sent: Vec<&str> = export["conversations"][0]["messagesSent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(sent, ["alice's words", "more of alice"], "only her own messages");
    let unknown = confab(&["export", "--user", "nobody"], &dir);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no user named nobody"));
}
