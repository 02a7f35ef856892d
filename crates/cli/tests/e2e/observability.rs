//! What operators see: `/metrics` (every series described, present at zero from the start, moving
//! with traffic, on its own listener with `--metrics-listen`) and the logs (`--log-format json`,
//! access lines, never a token).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{register, temp_path, ServerProcess, WAIT};

/// Polls `check` until it yields a value (the server's output arrives through a pipe read on
/// another thread) or `WAIT` passes.
async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A parsed exposition: `# HELP` and `# TYPE` names, and every sample by its full series text
/// (`name{labels}`).
struct Exposition {
    help: BTreeSet<String>,
    types: BTreeMap<String, String>,
    samples: BTreeMap<String, f64>,
}

impl Exposition {
    fn parse(text: &str) -> Exposition {
        let mut exposition =
            Exposition { help: BTreeSet::new(), types: BTreeMap::new(), samples: BTreeMap::new() };
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').expect("HELP has a name and a text");
                assert!(!help.trim().is_empty(), "empty help for {name}");
                exposition.help.insert(name.to_string());
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("TYPE has a name and a type");
                exposition.types.insert(name.to_string(), kind.to_string());
            } else {
                let (series, value) = line.rsplit_once(' ').expect("a sample is `series value`");
                let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {line}"));
                exposition.samples.insert(series.to_string(), value);
            }
        }
        exposition
    }

    /// The value of the one sample whose series text starts with `name` and contains every label
    /// in `labels`.
    fn value(&self, name: &str, labels: &[&str]) -> Option<f64> {
        self.samples
            .iter()
            .find(|(series, _)| {
                let base = series.split('{').next().unwrap_or("");
                base == name && labels.iter().all(|l| series.contains(l))
            })
            .map(|(_, v)| *v)
    }

    fn every_sample_is_described(&self) {
        for name in self.types.keys() {
            assert!(self.help.contains(name), "{name} has a TYPE but no HELP");
        }
        for series in self.samples.keys() {
            let base = series.split('{').next().unwrap_or("");
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| {
                    base.strip_suffix(suffix).filter(|f| self.types.get(*f).is_some_and(|t| t == "histogram"))
                })
                .unwrap_or(base);
            assert!(self.types.contains_key(family), "{series} has no TYPE");
        }
    }
}

async fn scrape(url: &str) -> Exposition {
    let response = reqwest::get(url).await.expect("metrics answer");
    assert_eq!(response.status(), 200, "GET {url}");
    let text = response.text().await.expect("metrics body");
    let exposition = Exposition::parse(&text);
    exposition.every_sample_is_described();
    exposition
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_logs_tell_operators_what_happened_and_never_a_token() {
    let (_dir, path) = temp_path();
    let extra: Vec<String> =
        ["--metrics-listen", "127.0.0.1:0", "--log-format", "json", "--log", "info"].map(String::from).into();
    let server = ServerProcess::spawn_with(&path, &extra);
    let metrics_url = eventually("the metrics address in the startup summary", || {
        let output = server.output();
        let line = output.lines().find(|l| l.trim_start().starts_with("metrics:"))?;
        line.split_whitespace().nth(1).map(String::from)
    })
    .await;
    assert!(metrics_url.ends_with("/metrics") && !metrics_url.starts_with(&server.url), "{metrics_url}");

    // Before any traffic: every key series is there, at zero.
    let before = scrape(&metrics_url).await;
    for (name, labels) in [
        ("confab_connections", &[][..]),
        ("confab_messages_stored_total", &[]),
        ("confab_ws_frames_received_total", &["type=\"message.send\""]),
        ("confab_ws_frames_received_total", &["type=\"other\""]),
        ("confab_ws_frames_sent_total", &["type=\"message.new\""]),
        ("confab_fanout_lag_seconds_count", &[]),
        ("confab_store_append_seconds_count", &[]),
        ("confab_ws_sessions_ended_total", &["code=\"1000\""]),
        ("confab_bans_total", &[]),
    ] {
        assert_eq!(before.value(name, labels), Some(0.0), "{name}{labels:?} before any traffic");
    }
    for kind in ["confab_fanout_lag_seconds", "confab_store_append_seconds"] {
        assert_eq!(before.types.get(kind).map(String::as_str), Some("histogram"), "{kind}");
    }
    assert!(before.value("process_resident_memory_bytes", &[]).is_some_and(|v| v > 0.0));
    assert!(before.value("process_open_fds", &[]).is_some_and(|v| v > 0.0));
    assert!(before.value("process_start_time_seconds", &[]).is_some_and(|v| v > 1.6e9));
    assert!(before.value("process_cpu_seconds_total", &[]).is_some());
    assert_eq!(before.value("confab_build_info", &["version=\""]), Some(1.0));
    // The main listener no longer serves them.
    let main = reqwest::get(format!("{}/metrics", server.url)).await.expect("an answer");
    assert_eq!(main.status(), 404);

    // Some traffic: two users, a conversation, one message over a WebSocket opened with `?token=`.
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let id = alice.api.open_direct(&bob.id).await.expect("direct conversation").0.conversation_id;
    let mut bob_ws = bob.connect("laptop").await;
    let mut alice_ws = alice.connect("phone").await;
    alice_ws.send_text(&id, "m-1", "hello operators").await.expect("acknowledged");
    bob_ws
        .wait_for(WAIT, "message.new", |f| match &f.frame {
            confab_proto::ServerFrame::MessageNew(m) if m.message_id == "m-1" => Some(()),
            _ => None,
        })
        .await
        .expect("bob gets the message");
    alice_ws.close().await.expect("clean close");

    let after = scrape(&metrics_url).await;
    assert_eq!(after.value("confab_messages_stored_total", &[]), Some(1.0));
    assert!(after.value("confab_ws_frames_received_total", &["type=\"message.send\""]) >= Some(1.0));
    assert!(after.value("confab_ws_frames_sent_total", &["type=\"message.new\""]) >= Some(1.0));
    assert!(after.value("confab_ws_frames_sent_total", &["type=\"message.ack\""]) >= Some(1.0));
    assert_eq!(after.value("confab_fanout_lag_seconds_count", &[]), Some(1.0));
    assert!(after.value("confab_store_append_seconds_count", &[]) >= Some(1.0));
    assert!(after.value("confab_fanout_lag_seconds_bucket", &["le=\"+Inf\""]) == Some(1.0));
    assert!(after.value("confab_connections", &[]) >= Some(1.0), "bob is still connected");
    let register_route = "route=\"/api/v1/auth/register\"";
    assert!(
        after.value("confab_http_request_duration_seconds_count", &[register_route, "method=\"POST\""])
            >= Some(2.0),
        "requests are counted by route template"
    );
    let conversation_route = "route=\"/api/v1/conversations\"";
    assert!(after.value("confab_http_request_duration_seconds_count", &[conversation_route]).is_some());
    assert!(!after.samples.keys().any(|s| s.contains(&id)), "no raw path (with its ids) became a label");

    // The logs: JSON lines only, with an access line per request and per ended WebSocket session.
    let alice_id = alice.id.clone();
    let session_line = eventually("alice's WebSocket session line", || {
        parse_logs(&server.stderr())
            .into_iter()
            .find(|l| l["message"] == "websocket session" && l["user"] == alice_id.as_str())
    })
    .await;
    assert_eq!(session_line["target"], "confab::access");
    assert_eq!(session_line["device"], "phone");
    assert!(session_line["frames_in"].as_u64() >= Some(1), "{session_line}");
    assert!(session_line["frames_out"].as_u64() >= Some(2), "connected and the ack: {session_line}");
    assert_eq!(session_line["close_code"], 1000);
    assert!(session_line["duration_ms"].as_f64().is_some());

    let logs = parse_logs(&server.stderr());
    let access: Vec<&Value> = logs.iter().filter(|l| l["target"] == "confab::access").collect();
    let opened = access
        .iter()
        .find(|l| l["route"] == "/api/v1/conversations" && l["method"] == "POST")
        .expect("an access line for opening the conversation");
    assert!(opened["status"].as_u64().is_some_and(|s| s == 200 || s == 201), "{opened}");
    assert_eq!(opened["user"], alice.id.as_str());
    assert_eq!(opened["client"], "127.0.0.1");
    assert!(opened["duration_ms"].as_f64().is_some());
    let upgrade = access
        .iter()
        .find(|l| l["route"] == "/ws" && l["user"] == alice.id.as_str())
        .expect("an access line for alice's WebSocket upgrade");
    assert_eq!(upgrade["status"], 101);
    let query = upgrade["query"].as_str().expect("the query is logged");
    assert!(query.contains("token=REDACTED") && query.contains("device_id=phone"), "{query}");

    let output = server.output();
    for token in [&alice.token, &bob.token] {
        assert!(!output.contains(token.as_str()), "a token was logged");
        // Nor any recognisable piece of it (the signature).
        let signature = token.rsplit('.').next().unwrap_or(token);
        assert!(!output.contains(signature), "a token's signature was logged");
    }
}

/// Every stderr line, parsed: each must be a JSON object.
fn parse_logs(stderr: &str) -> Vec<Value> {
    stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let value: Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {l}"));
            assert!(value.is_object() && value.get("level").is_some(), "{l}");
            value
        })
        .collect()
}
