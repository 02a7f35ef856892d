//! Every scenario, tiny, against a real in-process server: the bench tool must keep working.
//! No timing assertions — only that each run completes and counts what it should.

use confab_bench::{BenchArgs, BenchCli, Report};
use confab_server::{Server, ServerConfig};
use tokio::sync::oneshot;

struct TestServer {
    url: String,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    async fn start() -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = ServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().to_path_buf(),
            jwt_secret: Some("bench-smoke-secret".into()),
            ..ServerConfig::default()
        };
        config.limits.messages_per_second = 1_000_000;
        config.limits.message_burst = 1_000_000;
        config.expiry.sweep_interval = std::time::Duration::from_millis(200);
        let server = Server::bind(config).await.unwrap();
        let url = format!("http://{}", server.local_addr());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        TestServer { url, stop: Some(stop), task, _dir: dir }
    }

    async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap();
    }
}

/// Runs `confab bench <argv>` against `server`, writing its reports to a temp dir; returns the
/// report and the files written.
async fn bench(server: &TestServer, argv: &[&str]) -> (Report, Vec<String>) {
    let out = tempfile::tempdir().unwrap();
    let pid = std::process::id().to_string();
    let out_dir = out.path().display().to_string();
    let mut full = vec!["bench"];
    full.extend_from_slice(argv);
    full.extend_from_slice(&["--url", &server.url, "--server-pid", &pid, "--out", &out_dir, "--quiet"]);
    let cli = BenchCli::try_parse_from_args(&full);
    let report = confab_bench::run_async(BenchArgs { scenario: cli.scenario }).await.unwrap();
    let mut files: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join(&files[0])).unwrap()).unwrap();
    assert_eq!(json["scenario"], report.scenario);
    (report, files)
}

trait ParseArgs {
    fn try_parse_from_args(argv: &[&str]) -> BenchCli;
}

impl ParseArgs for BenchCli {
    fn try_parse_from_args(argv: &[&str]) -> BenchCli {
        <BenchCli as clap::Parser>::try_parse_from(argv).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_delivers_every_message_and_writes_reports() {
    let server = TestServer::start().await;
    let (report, files) =
        bench(&server, &["latency", "--pairs", "2", "--messages", "20", "--rate", "400", "--grace", "20"])
            .await;
    assert_eq!(files, vec!["latency-confab.json", "latency-confab.svg"]);
    let step = &report.steps[0];
    assert_eq!(step.get("sent"), Some(20.0));
    assert_eq!(step.get("acked"), Some(20.0));
    assert_eq!(step.get("delivered"), Some(20.0));
    assert_eq!(step.get("lost"), Some(0.0));
    assert_eq!(step.get("errors"), Some(0.0));
    assert_eq!(step.latency("send→ack").unwrap().count, 20);
    let delivery = step.latency("send→delivery").unwrap();
    assert_eq!(delivery.count, 20);
    assert!(delivery.p50_ms > 0.0 && delivery.p50_ms <= delivery.max_ms);
    assert!(step.get("server_cpu_per_delivered_msg").is_some());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_steps_through_several_rates() {
    let server = TestServer::start().await;
    let (report, _) =
        bench(&server, &["latency", "--pairs", "1", "--messages", "10", "--rate", "200,400", "--no-svg"])
            .await;
    assert_eq!(report.steps.len(), 3, "two rates and a summary");
    for step in &report.steps[..2] {
        assert_eq!(step.get("delivered"), Some(10.0));
    }
    assert!(report.steps[2].metrics[0].name.starts_with("sustained_rate"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_accepts_several_urls() {
    let server = TestServer::start().await;
    let url = server.url.clone();
    let (report, _) =
        bench(&server, &["cluster", "--pairs", "2", "--messages", "20", "--rate", "400", "--url", &url])
            .await;
    assert_eq!(report.scenario, "cluster");
    assert_eq!(report.server.urls.len(), 2);
    assert_eq!(report.metric("delivered"), Some(20.0));
    assert_eq!(report.metric("acked"), Some(20.0));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_reaches_every_member() {
    let server = TestServer::start().await;
    let (report, _) =
        bench(&server, &["fanout", "--members", "5", "--senders", "2", "--messages", "10", "--rate", "100"])
            .await;
    assert_eq!(report.metric("sent"), Some(10.0));
    assert_eq!(report.metric("acked"), Some(10.0));
    assert_eq!(report.metric("expected_deliveries"), Some(40.0));
    assert_eq!(report.metric("delivered"), Some(40.0));
    assert_eq!(report.steps[0].latency("send→delivery").unwrap().count, 40);
    server.shutdown().await;
}

/// Users from tokens minted with the server's secret, in a group larger than the connected part.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_into_a_larger_group_of_minted_users_reaches_every_connected_member() {
    let server = TestServer::start().await;
    let argv = ["fanout", "--jwt-secret", "bench-smoke-secret", "--group-size", "30", "--members", "5"];
    let (report, _) =
        bench(&server, &[&argv[..], &["--senders", "1", "--messages", "4", "--rate", "100"]].concat()).await;
    assert_eq!(report.metric("sent"), Some(4.0));
    assert_eq!(report.metric("acked"), Some(4.0));
    assert_eq!(report.metric("expected_deliveries"), Some(16.0));
    assert_eq!(report.metric("delivered"), Some(16.0));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_open_and_measure_memory() {
    let server = TestServer::start().await;
    let (report, _) = bench(
        &server,
        &["connections", "--connections", "20", "--per-user", "5", "--spread", "4", "--settle", "0.1"],
    )
    .await;
    assert_eq!(report.metric("connections"), Some(20.0));
    assert_eq!(report.metric("failed"), Some(0.0));
    assert!(report.metric("server_memory_per_connection").is_some());
    assert!(report.metric("connect_rate").unwrap() > 0.0);
    assert_eq!(report.steps[0].latency("connect+auth").unwrap().count, 20);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_recovers_the_whole_backlog() {
    let server = TestServer::start().await;
    let (report, _) = bench(
        &server,
        &["sync", "--messages", "20", "--conversations", "3", "--rounds", "3", "--limit", "4"],
    )
    .await;
    assert_eq!(report.metric("synced_messages"), Some(60.0));
    assert_eq!(report.steps[0].latency("reconnect→synced").unwrap().count, 3);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_persists_over_websocket_and_rest() {
    let server = TestServer::start().await;
    let (report, _) = bench(
        &server,
        &["store", "--messages", "40", "--senders", "2", "--window", "8", "--rest-concurrency", "4"],
    )
    .await;
    assert_eq!(report.steps.len(), 2);
    for step in &report.steps {
        assert_eq!(step.get("acknowledged"), Some(40.0));
        assert_eq!(step.latencies[0].count, 40);
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_measure_uploads_and_downloads() {
    let server = TestServer::start().await;
    let (report, _) =
        bench(&server, &["attachments", "--size-mib", "0.25", "--files", "3", "--concurrency", "2"]).await;
    assert_eq!(report.steps.len(), 2);
    for step in &report.steps {
        assert!(step.get("mib_per_sec").is_some_and(|v| v > 0.0), "{step:?}");
        assert_eq!(step.latencies[0].count, 3);
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_probes_idle_and_during_the_sweep() {
    let server = TestServer::start().await;
    let (report, _) = bench(
        &server,
        &[
            "sweep",
            "--messages",
            "60",
            "--conversations",
            "2",
            "--expire-after",
            "4",
            "--idle-secs",
            "0.5",
            "--probe-rate",
            "40",
            "--sweep-timeout",
            "30",
        ],
    )
    .await;
    assert_eq!(report.steps.len(), 3);
    assert_eq!(report.steps[0].get("seeded"), Some(60.0));
    assert_eq!(report.steps[1].get("probe_sent"), Some(20.0));
    assert_eq!(report.steps[2].get("erased"), Some(60.0));
    assert!(report.steps[2].latencies[0].count > 0, "the probe ran during the sweep");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_seeds_through_the_store_and_measures_each_kind_of_query() {
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().display().to_string();
    let argv = [
        "bench",
        "search",
        "--messages",
        "300",
        "--conversations",
        "6",
        "--member-of",
        "3",
        "--queries",
        "8",
        "--out",
        &out_dir,
        "--quiet",
        "--no-svg",
    ];
    let cli = BenchCli::try_parse_from_args(&argv);
    let report = confab_bench::run_async(BenchArgs { scenario: cli.scenario }).await.unwrap();
    let step = &report.steps[0];
    for kind in ["common word", "rare word", "prefix", "phrase"] {
        assert_eq!(step.latency(kind).unwrap().count, 8, "{kind}");
    }
    assert!(step.get("common word: results per search").unwrap() > 0.0);
    assert!(step.get("index_bytes_per_message").unwrap() > 0.0);
}
