//! The Prometheus metrics this process exports: the recorder (one per process), every series'
//! name, type and help text, their registration at zero on start, the bounded label values (frame
//! types, HTTP methods), and the process metrics read from `/proc/self` when rendered.
//!
//! Every series is registered when the recorder is installed, so a scrape before any traffic
//! already lists it (at zero) and dashboards and alerts never see a series appear out of nothing.
//! The exceptions are the per-route HTTP series, whose label sets are only known per request.

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::Duration;

use confab_proto::ClientFrame;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Live WebSocket connections on this node.
pub(crate) const CONNECTIONS: &str = "confab_connections";
/// Client frames read, by `type`.
pub(crate) const FRAMES_IN: &str = "confab_ws_frames_received_total";
/// Server frames handed to the socket, by `type`.
pub(crate) const FRAMES_OUT: &str = "confab_ws_frames_sent_total";
/// Messages committed to the store (idempotent resends excluded).
pub(crate) const MESSAGES_STORED: &str = "confab_messages_stored_total";
/// Commit → `message.new` queued on every local recipient connection.
pub(crate) const FANOUT_LAG: &str = "confab_fanout_lag_seconds";
/// A send queued to the store → durable.
pub(crate) const STORE_APPEND: &str = "confab_store_append_seconds";
/// HTTP requests, by `method`, `route` (template) and `status`.
pub(crate) const HTTP_DURATION: &str = "confab_http_request_duration_seconds";
/// WebSocket sessions ended, by the close code the server sent.
pub(crate) const WS_SESSIONS_ENDED: &str = "confab_ws_sessions_ended_total";
/// Webhook events, by `outcome`: delivered, failed (refused or out of attempts), dropped.
pub(crate) const WEBHOOK_EVENTS: &str = "confab_webhook_events_total";
/// Webhook requests that failed and were tried again.
pub(crate) const WEBHOOK_RETRIES: &str = "confab_webhook_retries_total";
/// Webhook `outcome` labels.
const WEBHOOK_OUTCOMES: &[&str] = &["delivered", "failed", "dropped"];
/// Attachment bytes, by `direction`: upload (stored) or download (sent).
pub(crate) const ATTACHMENT_BYTES: &str = "confab_attachment_bytes_total";
/// Attachments removed because no message links them any more.
pub(crate) const ATTACHMENTS_COLLECTED: &str = "confab_attachments_collected_total";
pub(crate) const PUSH_COALESCED: &str = "confab_push_coalesced_total";
pub(crate) const PUSH_SKIPPED: &str = "confab_push_skipped_total";

/// Label value for anything outside a fixed list.
pub(crate) const OTHER: &str = "other";

/// Every client frame type (the `type` label of [`FRAMES_IN`]), besides [`OTHER`] for frames that
/// do not parse.
pub(crate) const CLIENT_FRAME_TYPES: &[&str] = &[
    "message.send",
    "message.received",
    "message.read",
    "message.edit",
    "message.delete",
    "reaction.add",
    "reaction.remove",
    "typing.start",
    "typing.stop",
    "presence.subscribe",
    "presence.set",
    "sync",
    "heartbeat",
];

/// Every server frame type (the `type` label of [`FRAMES_OUT`]).
pub(crate) const SERVER_FRAME_TYPES: &[&str] = &[
    "connected",
    "message.ack",
    "message.new",
    "message.updated",
    "message.delivered",
    "message.read_receipt",
    "typing.update",
    "presence.bulk",
    "presence.update",
    "conversation.updated",
    "sync.result",
    "heartbeat.ack",
    "error",
];

/// Bucket bounds (seconds) of every latency histogram: 0.5 ms to 10 s.
const LATENCY_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Every series without labels: name, type, help. Registered at zero on start.
const SERIES: &[(&str, Kind, &str)] = &[
    (CONNECTIONS, Kind::Gauge, "WebSocket connections open on this node."),
    (MESSAGES_STORED, Kind::Counter, "Messages committed to the store (idempotent resends excluded)."),
    (
        FANOUT_LAG,
        Kind::Histogram,
        "Seconds from a message's commit until its message.new is queued on every local recipient \
         connection (with Redis: until handed to the bus for other nodes).",
    ),
    (
        STORE_APPEND,
        Kind::Histogram,
        "Seconds from a send being queued to the store until it is durable (queueing and commit).",
    ),
    ("confab_messages_fanned_out_total", Kind::Counter, "Committed messages published to their members."),
    ("confab_message_changes_total", Kind::Counter, "Edits, deletions and reaction changes stored."),
    (
        "confab_messages_expired_total",
        Kind::Counter,
        "Disappearing messages the sweeper erased into tombstones on this node.",
    ),
    (
        "confab_messages_purged_total",
        Kind::Counter,
        "Messages the sweeper removed for being older than the retention, on this node.",
    ),
    (
        "confab_frames_delivered_total",
        Kind::Counter,
        "Frames queued on local connections by fan-out (one per recipient connection).",
    ),
    (
        "confab_fanout_spilled_total",
        Kind::Counter,
        "Messages not pushed one by one because a fan-out queue was full (clients fetch them with sync).",
    ),
    (
        "confab_slow_consumer_disconnects_total",
        Kind::Counter,
        "WebSocket connections closed because their outbound queue filled up.",
    ),
    (
        "confab_http_connections_refused_total",
        Kind::Counter,
        "HTTP connections answered 503 at once: over --max-http-connections.",
    ),
    (
        "confab_http_idle_disconnects_total",
        Kind::Counter,
        "HTTP connections closed after moving no bytes for the idle timeout.",
    ),
    (
        "confab_tls_handshake_failures_total",
        Kind::Counter,
        "TLS handshakes that failed or took longer than the header timeout (--tls-cert).",
    ),
    (
        "confab_rest_rate_limited_users",
        Kind::Gauge,
        "Users and devices whose send or change budget is being tracked (not yet full again).",
    ),
    ("confab_password_verifications_total", Kind::Counter, "Password hashes verified (logins and changes)."),
    (
        "confab_password_hash_rejected_total",
        Kind::Counter,
        "Password hashing requests refused because the hashing queue was full.",
    ),
    (
        "confab_auth_throttled_total",
        Kind::Counter,
        "Logins, registrations and password changes refused by a throttle.",
    ),
    (
        "confab_sessions_revoked_total",
        Kind::Counter,
        "Sessions revoked: logouts, logout-alls, password changes, administrators closing sessions.",
    ),
    ("confab_reports_total", Kind::Counter, "Reports filed."),
    ("confab_reports_throttled_total", Kind::Counter, "Reports refused by the per-user hourly limit."),
    ("confab_bans_total", Kind::Counter, "Bans applied."),
    (
        "confab_order_gaps_filled_total",
        Kind::Counter,
        "Holes in a conversation's message.new frames this node filled from the store (a frame ahead of its predecessor waited 50 ms).",
    ),
    (
        "confab_order_caught_up_total",
        Kind::Counter,
        "Messages handed out after another node died: read back from the store because the dead node may have committed them without publishing.",
    ),
    (
        "confab_log_appended_total",
        Kind::Counter,
        "Large groups' messages appended to the log (--log-url) instead of being routed over the bus.",
    ),
    (
        "confab_log_append_failed_total",
        Kind::Counter,
        "Log appends that failed or timed out: the message, and large groups' messages for the next 5 s, took the bus.",
    ),
    ("confab_log_records_read_total", Kind::Counter, "Records this node read from the log and handed to its connections."),
    (
        "confab_order_gaps_skipped_total",
        Kind::Counter,
        "Holes stepped over without reading them back: no connection here old enough to need them, or beyond 1000 messages (clients sync).",
    ),
    (
        "confab_order_repeats_dropped_total",
        Kind::Counter,
        "message.new frames dropped for arriving after later ones of their conversation were handed out.",
    ),
    (WEBHOOK_RETRIES, Kind::Counter, "Webhook requests that failed and were tried again (--webhook-url)."),
    (
        ATTACHMENTS_COLLECTED,
        Kind::Counter,
        "Attachments removed (bytes and thumbnail) because no message links them any more.",
    ),
    (
        "confab_server_api_requests_total",
        Kind::Counter,
        "Server API requests authenticated with an API key (--api-key holders, /api/v1/server).",
    ),
];

/// The process-wide recorder (one per process, shared by every server in it), with every series
/// described and registered.
pub(crate) fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .map(|b| b.build_recorder())
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
            let handle = recorder.handle();
            // Fails only if another recorder is installed; metrics then go there instead.
            if metrics::set_global_recorder(recorder).is_ok() {
                register_all();
            }
            handle
        })
        .clone()
}

fn register_all() {
    for (name, kind, help) in SERIES {
        match kind {
            Kind::Counter => {
                metrics::describe_counter!(*name, *help);
                metrics::counter!(*name).absolute(0);
            }
            Kind::Gauge => {
                metrics::describe_gauge!(*name, *help);
                let _ = metrics::gauge!(*name);
            }
            Kind::Histogram => {
                metrics::describe_histogram!(*name, *help);
                let _ = metrics::histogram!(*name);
            }
        }
    }
    metrics::describe_counter!(FRAMES_IN, "WebSocket frames read from clients, by frame type.");
    for kind in CLIENT_FRAME_TYPES.iter().chain([&OTHER]) {
        metrics::counter!(FRAMES_IN, "type" => *kind).absolute(0);
    }
    metrics::describe_counter!(FRAMES_OUT, "WebSocket frames written to clients, by frame type.");
    let frames_out = SERVER_FRAME_TYPES
        .iter()
        .chain([&OTHER])
        .map(|kind| {
            let counter = metrics::counter!(FRAMES_OUT, "type" => *kind);
            counter.absolute(0);
            counter
        })
        .collect();
    let _ = FRAMES_OUT_BY_TYPE.set(frames_out);
    metrics::describe_counter!(
        WS_SESSIONS_ENDED,
        "WebSocket sessions ended, by the close code the server sent (1000: the client closed)."
    );
    for code in CLOSE_CODES {
        metrics::counter!(WS_SESSIONS_ENDED, "code" => *code).absolute(0);
    }
    metrics::describe_counter!(
        WEBHOOK_EVENTS,
        "Webhook events, by outcome: delivered, failed (refused or out of attempts), dropped (queue full)."
    );
    for outcome in WEBHOOK_OUTCOMES {
        metrics::counter!(WEBHOOK_EVENTS, "outcome" => *outcome).absolute(0);
    }
    metrics::describe_counter!(
        ATTACHMENT_BYTES,
        "Attachment bytes, by direction: upload (stored), download (sent)."
    );
    for direction in ["upload", "download"] {
        metrics::counter!(ATTACHMENT_BYTES, "direction" => direction).absolute(0);
    }
    confab_push::metrics::describe();
    for provider in confab_push::metrics::PROVIDERS {
        metrics::counter!(confab_push::metrics::SENT, "provider" => provider).absolute(0);
        metrics::counter!(PUSH_COALESCED, "provider" => provider).absolute(0);
        for reason in confab_push::metrics::FAILURE_REASONS {
            metrics::counter!(confab_push::metrics::FAILED, "provider" => provider, "reason" => reason)
                .absolute(0);
        }
    }
    metrics::describe_counter!(
        PUSH_COALESCED,
        "Messages that rode along in a push for a later one (coalesced per device and conversation), by provider."
    );
    metrics::describe_counter!(PUSH_SKIPPED, "Pushes not sent, by reason: live (the device was connected).");
    metrics::counter!(PUSH_SKIPPED, "reason" => "live").absolute(0);
    metrics::describe_histogram!(
        HTTP_DURATION,
        "Seconds to answer HTTP requests, by method, route template and status code (a series \
         appears with its first request)."
    );
    metrics::describe_gauge!(
        "confab_build_info",
        "Always 1; the labels name the running build (version, and commit when built with CONFAB_GIT_COMMIT)."
    );
    match option_env!("CONFAB_GIT_COMMIT") {
        Some(commit) => {
            metrics::gauge!("confab_build_info", "version" => env!("CARGO_PKG_VERSION"), "commit" => commit)
                .set(1.0)
        }
        None => metrics::gauge!("confab_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0),
    }
}

/// Close codes the server sends (the `code` label of [`WS_SESSIONS_ENDED`]).
pub(crate) const CLOSE_CODES: &[&str] = &["1000", "1001", "1009", "4000", "4001", "4003", "4004"];

/// The `type` label of a client frame.
pub(crate) fn client_frame_type(frame: &ClientFrame) -> &'static str {
    match frame {
        ClientFrame::MessageSend(_) => "message.send",
        ClientFrame::MessageReceived(_) => "message.received",
        ClientFrame::MessageRead(_) => "message.read",
        ClientFrame::MessageEdit(_) => "message.edit",
        ClientFrame::MessageDelete(_) => "message.delete",
        ClientFrame::ReactionAdd(_) => "reaction.add",
        ClientFrame::ReactionRemove(_) => "reaction.remove",
        ClientFrame::TypingStart(_) => "typing.start",
        ClientFrame::TypingStop(_) => "typing.stop",
        ClientFrame::PresenceSubscribe(_) => "presence.subscribe",
        ClientFrame::PresenceSet(_) => "presence.set",
        ClientFrame::Sync(_) => "sync",
        ClientFrame::Heartbeat(_) => "heartbeat",
    }
}

/// A server frame's type: its index in [`SERVER_FRAME_TYPES`], or that list's length for [`OTHER`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ServerFrameType(usize);

impl ServerFrameType {
    /// The `type` label.
    pub(crate) fn label(self) -> &'static str {
        SERVER_FRAME_TYPES.get(self.0).copied().unwrap_or(OTHER)
    }
}

/// The type of an encoded server frame, read without parsing it: the server writes compact JSON,
/// and inside a string value every `"` is escaped, so the first `"type":"` is the envelope's.
pub(crate) fn server_frame_type(frame: &str) -> ServerFrameType {
    const KEY: &str = "\"type\":\"";
    const OTHER_TYPE: ServerFrameType = ServerFrameType(SERVER_FRAME_TYPES.len());
    // A frame without a request id (every delivery) starts with its type: no search needed.
    let rest = match frame.strip_prefix("{\"type\":\"") {
        Some(rest) => rest,
        None => match frame.find(KEY) {
            Some(at) => &frame[at + KEY.len()..],
            None => return OTHER_TYPE,
        },
    };
    let Some(end) = rest.find('"') else { return OTHER_TYPE };
    let kind = &rest[..end];
    SERVER_FRAME_TYPES.iter().position(|k| *k == kind).map_or(OTHER_TYPE, ServerFrameType)
}

/// `confab_ws_frames_out_total` for each frame type, in [`ServerFrameType`] order, taken from the
/// recorder once: every frame written is counted, and looking the series up by name and label
/// each time (hashing both) showed in profiles of large fan-outs.
static FRAMES_OUT_BY_TYPE: OnceLock<Vec<metrics::Counter>> = OnceLock::new();

/// Counts one frame written to a client.
pub(crate) fn count_frame_out(kind: ServerFrameType) {
    match FRAMES_OUT_BY_TYPE.get().and_then(|counters| counters.get(kind.0)) {
        Some(counter) => counter.increment(1),
        // Another recorder was installed first: it gets the frames the usual way.
        None => metrics::counter!(FRAMES_OUT, "type" => kind.label()).increment(1),
    }
}

/// The `method` label: the standard methods, anything else [`OTHER`].
pub(crate) fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => OTHER,
    }
}

/// Records one answered HTTP request.
pub(crate) fn record_http(method: &'static str, route: &str, status: u16, elapsed: Duration) {
    metrics::histogram!(
        HTTP_DURATION,
        "method" => method,
        "route" => route.to_string(),
        "status" => status.to_string(),
        "class" => format!("{}xx", status / 100),
    )
    .record(elapsed.as_secs_f64());
}

/// The exposition text: the recorder's series, then this process's own.
pub(crate) fn render(handle: &PrometheusHandle) -> String {
    let mut text = handle.render();
    render_process(&mut text);
    text
}

/// `process_*` series in the names Prometheus' own client libraries use, read from `/proc/self`.
/// Nothing is written where `/proc` is missing (not Linux).
fn render_process(out: &mut String) {
    let Some(stats) = ProcessStats::read() else { return };
    for (name, kind, help, value) in stats.series() {
        let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n\n");
    }
}

/// What `/proc/self` says about this process.
#[derive(Debug)]
struct ProcessStats {
    cpu_seconds: f64,
    resident_bytes: f64,
    virtual_bytes: f64,
    open_fds: f64,
    max_fds: f64,
    start_time: f64,
}

/// The `process_*` series' names, in [`ProcessStats::series`] order.
#[cfg(test)]
const PROCESS_SERIES: &[&str] = &[
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_open_fds",
    "process_max_fds",
    "process_start_time_seconds",
];

impl ProcessStats {
    /// Name, type, help and value of each `process_*` series.
    fn series(&self) -> [(&'static str, &'static str, &'static str, f64); 6] {
        [
            (
                "process_cpu_seconds_total",
                "counter",
                "User and system CPU time spent, in seconds.",
                self.cpu_seconds,
            ),
            ("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", self.resident_bytes),
            ("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", self.virtual_bytes),
            ("process_open_fds", "gauge", "Open file descriptors.", self.open_fds),
            ("process_max_fds", "gauge", "The open file descriptor limit.", self.max_fds),
            (
                "process_start_time_seconds",
                "gauge",
                "Start time of the process since the Unix epoch, in seconds.",
                self.start_time,
            ),
        ]
    }

    #[cfg(target_os = "linux")]
    fn read() -> Option<ProcessStats> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let boot_time = std::fs::read_to_string("/proc/stat").ok().and_then(|s| parse_boot_time(&s));
        // SAFETY: `sysconf` reads configuration values and touches no memory of ours.
        let (ticks, page) = unsafe { (libc::sysconf(libc::_SC_CLK_TCK), libc::sysconf(libc::_SC_PAGESIZE)) };
        let fields = parse_stat(&stat)?;
        let ticks = if ticks > 0 { ticks as f64 } else { 100.0 };
        let open_fds = std::fs::read_dir("/proc/self/fd").map(|d| d.count() as f64).unwrap_or(0.0);
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: `getrlimit` writes into the struct we own and reads nothing else.
        let max_fds = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
            limit.rlim_cur as f64
        } else {
            0.0
        };
        Some(ProcessStats {
            cpu_seconds: (fields.utime + fields.stime) as f64 / ticks,
            resident_bytes: (fields.rss_pages.max(0) as f64) * page.max(0) as f64,
            virtual_bytes: fields.vsize as f64,
            open_fds,
            max_fds,
            start_time: boot_time.map_or(0.0, |boot| boot as f64 + fields.start_ticks as f64 / ticks),
        })
    }

    #[cfg(not(target_os = "linux"))]
    fn read() -> Option<ProcessStats> {
        None
    }
}

/// The fields of `/proc/self/stat` used here.
#[derive(Debug, PartialEq)]
struct StatFields {
    utime: u64,
    stime: u64,
    start_ticks: u64,
    vsize: u64,
    rss_pages: i64,
}

/// Parses `/proc/<pid>/stat`. The command name (field 2) is in parentheses and may itself contain
/// spaces and parentheses, so fields are counted from the last `)`.
fn parse_stat(stat: &str) -> Option<StatFields> {
    let after = &stat[stat.rfind(')')? + 1..];
    // `after` starts at field 3 (state): field n is at index n - 3.
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).copied();
    Some(StatFields {
        utime: field(14)?.parse().ok()?,
        stime: field(15)?.parse().ok()?,
        start_ticks: field(22)?.parse().ok()?,
        vsize: field(23)?.parse().ok()?,
        rss_pages: field(24)?.parse().ok()?,
    })
}

/// The `btime` line of `/proc/stat`: boot time in seconds since the epoch.
fn parse_boot_time(stat: &str) -> Option<u64> {
    stat.lines().find_map(|l| l.strip_prefix("btime ")).and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use confab_proto::frames::HeartbeatAckPayload;
    use confab_proto::{ServerEnvelope, ServerFrame};

    #[test]
    fn server_frame_types_are_read_from_the_envelope_only() {
        let frame = ServerEnvelope::new(
            Some(r#""type":"error" sneaky"#.into()),
            ServerFrame::HeartbeatAck(HeartbeatAckPayload { server_time: 1 }),
        )
        .to_json();
        assert_eq!(server_frame_type(&frame).label(), "heartbeat.ack");
        assert_eq!(server_frame_type(r#"{"type":"future.frame","payload":{}}"#).label(), OTHER);
        assert_eq!(server_frame_type(r#"{"type":"message.new"#).label(), OTHER, "unterminated");
        assert_eq!(server_frame_type("not json").label(), OTHER);
        for kind in SERVER_FRAME_TYPES {
            assert_eq!(server_frame_type(&format!(r#"{{"type":"{kind}","payload":{{}}}}"#)).label(), *kind);
            assert_eq!(
                server_frame_type(&format!(r#"{{"id":"7","type":"{kind}","payload":{{}}}}"#)).label(),
                *kind
            );
        }
    }

    #[test]
    fn client_frame_labels_are_the_wire_names() {
        for kind in CLIENT_FRAME_TYPES {
            let payload = match *kind {
                "sync" | "heartbeat" => "{}".to_string(),
                _ => r#"{"conversationId":"c","messageId":"m","content":{"type":"text","text":"x"},
                        "upToSequence":1,"emoji":"x","userIds":[],"status":"online"}"#
                    .to_string(),
            };
            let text = format!(r#"{{"type":"{kind}","payload":{payload}}}"#);
            match confab_proto::ClientEnvelope::parse(&text) {
                Ok(envelope) => assert_eq!(client_frame_type(&envelope.frame), *kind),
                Err(e) => panic!("{kind}: {:?}", e.body),
            }
        }
    }

    /// Every series name this process exports.
    fn exported_names() -> Vec<&'static str> {
        let mut names: Vec<&str> = SERIES.iter().map(|(name, _, _)| *name).collect();
        names.extend([
            FRAMES_IN,
            FRAMES_OUT,
            WS_SESSIONS_ENDED,
            HTTP_DURATION,
            WEBHOOK_EVENTS,
            "confab_build_info",
        ]);
        names.extend(PROCESS_SERIES);
        names
    }

    /// The `confab_*` and `process_*` names in `text`, histogram suffixes removed.
    fn names_in(text: &str) -> std::collections::BTreeSet<String> {
        let mut found = std::collections::BTreeSet::new();
        for prefix in ["confab_", "process_"] {
            for (at, _) in text.match_indices(prefix) {
                let name: String =
                    text[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                let name = ["_bucket", "_count", "_sum"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s).filter(|n| n.ends_with("_seconds")))
                    .map(str::to_string)
                    .unwrap_or(name);
                found.insert(name);
            }
        }
        found
    }

    #[test]
    fn the_dashboard_and_the_docs_use_the_exported_names() {
        let exported = exported_names();
        let dashboard = include_str!("../../../deploy/grafana/confab.json");
        let used = names_in(dashboard);
        assert!(used.len() > 15, "{used:?}");
        for name in &used {
            assert!(exported.contains(&name.as_str()), "the dashboard uses {name}, which is not exported");
        }
        let docs = include_str!("../../../docs/operations.md");
        for name in exported {
            assert!(docs.contains(name), "docs/operations.md does not describe {name}");
        }
        assert!(serde_json::from_str::<serde_json::Value>(dashboard).is_ok(), "the dashboard is JSON");
    }

    #[test]
    fn the_stat_line_is_read_past_a_command_with_parentheses() {
        let line = "1234 (my (odd) cmd) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 \
                    4200 123456789 321 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(
            parse_stat(line),
            Some(StatFields { utime: 250, stime: 50, start_ticks: 4200, vsize: 123456789, rss_pages: 321 })
        );
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_boot_time("cpu 1 2 3\nbtime 1700000000\nprocesses 9\n"), Some(1_700_000_000));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_is_measured() {
        let stats = ProcessStats::read().expect("/proc/self is readable");
        assert!(stats.resident_bytes > 0.0 && stats.open_fds >= 3.0, "{stats:?}");
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs_f64();
        assert!(stats.start_time > now - 3600.0 && stats.start_time <= now + 1.0, "{stats:?}");
        let mut text = String::new();
        render_process(&mut text);
        for name in PROCESS_SERIES {
            assert!(
                text.contains(&format!("# HELP {name} ")) && text.contains(&format!("\n{name} ")),
                "{name}"
            );
        }
    }
}
