//! The README's first chat, run exactly as written there (with this test server's address and
//! binary substituted), so the walkthrough a newcomer pastes cannot rot.

use std::process::Command;

use crate::harness::{temp_path, ServerProcess};

const README: &str = include_str!("../../../../README.md");

/// The first `sh` block under the heading `## A first chat`.
fn first_chat_block() -> &'static str {
    let section = README.split_once("## A first chat").expect("README has `## A first chat`").1;
    let block = section.split_once("```sh\n").expect("a sh block in that section").1;
    block.split_once("```").expect("the block ends").0
}

#[test]
fn the_readme_first_chat_runs_as_written() {
    for tool in ["bash", "curl", "jq"] {
        let found = Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().expect("sh");
        assert!(found.status.success(), "the README walkthrough needs `{tool}` (.ci/run installs it)");
    }
    let (_dir, data_dir) = temp_path();
    let server = ServerProcess::spawn(&data_dir);
    let host = server.url.trim_start_matches("http://").to_string();
    let script = first_chat_block()
        .replace("127.0.0.1:8080", &host)
        .replace("target/release/confab", env!("CARGO_BIN_EXE_confab"));
    assert!(script.contains(&host), "the block talks to the server at 127.0.0.1:8080");
    let (_work, work_dir) = temp_path();
    std::fs::create_dir_all(&work_dir).expect("work dir");
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(&work_dir)
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the walkthrough failed ({}):\n{stdout}\n{stderr}", output.status);

    let frames: Vec<serde_json::Value> = std::fs::read_to_string(work_dir.join("bob.jsonl"))
        .expect("bob.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON frame per line"))
        .collect();
    let types: Vec<&str> = frames.iter().filter_map(|f| f["type"].as_str()).collect();
    assert_eq!(&types[..2], ["connected", "presence.bulk"], "as the README says: {types:?}");
    let new = frames.iter().find(|f| f["type"] == "message.new").expect("Bob's laptop got message.new");
    assert_eq!(new["payload"]["sequenceNumber"], 1);
    assert_eq!(new["payload"]["content"]["text"], "hi Bob");
    assert!(stdout.contains("\"message.ack\""), "Bob's phone got its ack:\n{stdout}");
    assert!(stdout.contains("hi Bob, edited"), "the edit answered with the message:\n{stdout}");
    let history = stdout.rsplit_once("\"messages\"").expect("the history is printed last").1;
    let (answer, reply) = (history.find("hi!").expect("hi!"), history.find("hi Alice").expect("hi Alice"));
    assert!(answer < reply, "history in ascending order:\n{history}");
    assert!(!history.contains("hi Bob"), "the deleted message's text is gone:\n{history}");
    assert!(history.contains("\"deleted\": true"), "a tombstone keeps its place:\n{history}");
}
