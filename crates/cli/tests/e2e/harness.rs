//! Starting real servers for tests: in-process on an ephemeral port with a temp data dir, or as the
//! real `confab` binary (for crash tests), and registering users against them.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use confab_client::{Client, Connection};
use confab_proto::AuthResponse;
use confab_server::{Server, ServerConfig};
use tokio::sync::oneshot;

pub const SECRET: &str = "e2e-test-secret";
pub const PASSWORD: &str = "e2e-correct-horse-42";

pub struct TestServer {
    pub url: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: Option<tempfile::TempDir>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// A server with its own temp data dir and port; `tune` adjusts the configuration.
    pub async fn start_with(tune: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut server = Self::start_in(dir.path(), tune).await;
        server._dir = Some(dir);
        server
    }

    pub async fn start_in(data_dir: &Path, tune: impl FnOnce(&mut ServerConfig)) -> TestServer {
        // `CONFAB_TEST_LOG=debug` shows the servers' logs for a failing test.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_env("CONFAB_TEST_LOG"))
            .with_test_writer()
            .try_init();
        let mut config = ServerConfig {
            listen: "127.0.0.1:0".parse().expect("address"),
            data_dir: data_dir.to_path_buf(),
            jwt_secret: Some(SECRET.into()),
            ..ServerConfig::default()
        };
        // Every test registers from 127.0.0.1; tests of the throttles set their own limits.
        config.auth.registrations_per_address = 100_000;
        config.auth.login_failures_per_address = 100_000;
        tune(&mut config);
        let server = Server::bind(config).await.expect("server starts");
        let url = format!("http://{}", server.local_addr());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        TestServer { url, stop: Some(stop), task: Some(task), _dir: None }
    }

    pub fn client(&self) -> Client {
        Client::new(&self.url)
    }

    /// Graceful shutdown, as on SIGTERM; waits until the server has finished.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server ran cleanly");
        }
    }
}

/// A registered user with an authenticated REST client.
pub struct TestUser {
    pub id: String,
    pub token: String,
    pub api: Client,
    pub url: String,
}

impl TestUser {
    pub async fn connect(&self, device: &str) -> Connection {
        Connection::connect(&self.url, &self.token, device).await.expect("websocket connects")
    }
}

pub async fn register(url: &str, name: &str) -> TestUser {
    let client = Client::new(url);
    let auth: AuthResponse = client.register(name, PASSWORD, None).await.expect("register");
    TestUser {
        id: auth.user_id,
        api: client.with_token(&auth.token),
        token: auth.token,
        url: url.to_string(),
    }
}

/// Registers `n` users named `{prefix}{i}` concurrently.
pub async fn register_many(url: &str, prefix: &str, n: usize) -> Vec<TestUser> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (url, name) = (url.to_string(), format!("{prefix}{i}"));
            tokio::spawn(async move { register(&url, &name).await })
        })
        .collect();
    let mut users = Vec::with_capacity(n);
    for t in tasks {
        users.push(t.await.expect("register task"));
    }
    users
}

/// Every message of a conversation, paging forwards through history.
pub async fn all_messages(api: &Client, id: &str) -> Vec<confab_proto::Message> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = api.history(id, None, Some(after), Some(200)).await.expect("history");
        out.extend(page.messages);
        match page.next_cursor {
            Some(c) => after = c,
            None => return out,
        }
    }
}

pub fn text(t: &str) -> serde_json::Value {
    serde_json::json!({"type": "text", "text": t})
}

/// The real `confab` binary, for tests that kill the process.
pub struct ServerProcess {
    pub url: String,
    child: Child,
    /// What the server wrote after its first line (stdout, then stderr as it came): shown when the
    /// test fails, so passing runs stay quiet.
    output: Arc<Mutex<String>>,
    /// Everything the server wrote to stderr (its log lines).
    stderr: Arc<Mutex<String>>,
}

impl ServerProcess {
    pub fn spawn(data_dir: &Path) -> ServerProcess {
        Self::spawn_with(data_dir, &[])
    }

    /// The binary with extra `serve` arguments (e.g. a database and Redis for a cluster node).
    pub fn spawn_with(data_dir: &Path, extra: &[String]) -> ServerProcess {
        Self::spawn_with_env(data_dir, extra, &[])
    }

    /// [`spawn_with`](Self::spawn_with), with extra environment variables.
    pub fn spawn_with_env(data_dir: &Path, extra: &[String], env: &[(String, String)]) -> ServerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_confab"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(["--jwt-secret", SECRET, "--messages-per-second", "100000", "--message-burst", "100000"])
            .args(["--registrations-per-address", "100000", "--login-failures-per-address", "100000"])
            .args(extra)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("CONFAB_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn confab");
        let output = Arc::new(Mutex::new(String::new()));
        let stderr_lines = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr");
        collect_lines(BufReader::new(stderr), vec![output.clone(), stderr_lines.clone()]);
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read listening line");
        let Some(url) = line.trim().strip_prefix("confab listening on ") else {
            std::thread::sleep(Duration::from_millis(200));
            panic!("the server did not start: {line}\n{}", output.lock().unwrap_or_else(|e| e.into_inner()));
        };
        collect_lines(stdout, vec![output.clone()]);
        ServerProcess { url: url.to_string(), child, output, stderr: stderr_lines }
    }

    /// What the server wrote after its first line so far (stdout and stderr).
    pub fn output(&self) -> String {
        self.output.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// What the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown path runs.
    pub fn kill_9(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("reap");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let output = self.output.lock().unwrap_or_else(|e| e.into_inner());
            eprintln!("--- output of the confab server at {} ---\n{output}", self.url);
        }
    }
}

/// Appends every line `from` yields to each of `into`, on a thread of its own, until the pipe closes.
fn collect_lines(from: impl BufRead + Send + 'static, into: Vec<Arc<Mutex<String>>>) {
    std::thread::spawn(move || {
        for line in from.lines().map_while(Result::ok) {
            for into in &into {
                let mut into = into.lock().unwrap_or_else(|e| e.into_inner());
                into.push_str(&line);
                into.push('\n');
            }
        }
    });
}

pub fn temp_path() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().to_path_buf();
    (dir, path)
}

pub const WAIT: Duration = Duration::from_secs(20);

/// The value of `series` (a series without labels) in `url`'s `/metrics`; 0 when absent.
pub async fn metric(url: &str, series: &str) -> f64 {
    let text = reqwest::get(format!("{url}/metrics")).await.expect("metrics").text().await.expect("text");
    text.lines().find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok())).unwrap_or(0.0)
}
