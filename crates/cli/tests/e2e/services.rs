//! PostgreSQL and Redis for cluster tests: the shared local services (each test isolated by its
//! own schema and key prefix), or private instances on spare ports for tests that stop them.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub fn database_url() -> String {
    std::env::var("CONFAB_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

pub fn redis_url() -> String {
    std::env::var("CONFAB_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn required() -> bool {
    std::env::var("CONFAB_REQUIRE_SERVICES").as_deref() == Ok("1")
}

/// Whether the shared PostgreSQL and Redis answer. When they do not, the test is skipped with a
/// note, or fails when `CONFAB_REQUIRE_SERVICES=1`.
pub async fn available() -> bool {
    let pg = tokio_postgres::connect(&database_url(), tokio_postgres::NoTls).await.map(|_| ());
    let redis = async {
        let client = redis::Client::open(redis_url())?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await
    }
    .await
    .map(|_| ());
    match (pg, redis) {
        (Ok(()), Ok(())) => true,
        (pg, redis) => {
            let why = format!("PostgreSQL: {pg:?}, Redis: {redis:?}");
            if required() {
                panic!("PostgreSQL and Redis are required (CONFAB_REQUIRE_SERVICES=1): {why}");
            }
            eprintln!(
                "skipping: services not reachable ({why}); set CONFAB_REQUIRE_SERVICES=1 to fail instead"
            );
            false
        }
    }
}

/// A unique schema name and Redis prefix for one test, cleaned up on drop.
pub struct Isolation {
    pub schema: String,
    pub prefix: String,
    pub database_url: String,
    pub redis_url: String,
}

impl Isolation {
    pub fn new(database_url: String, redis_url: String) -> Isolation {
        let id = confab_core::ids::new_id().replace('-', "");
        Isolation {
            schema: format!("confab_e2e_{id}"),
            prefix: format!("confab-e2e-{id}"),
            database_url,
            redis_url,
        }
    }

    pub fn shared() -> Isolation {
        Self::new(database_url(), redis_url())
    }

    /// `serve` arguments selecting this test's database schema and Redis prefix.
    pub fn args(&self) -> Vec<String> {
        vec![
            "--database-url".into(),
            self.database_url.clone(),
            "--database-schema".into(),
            self.schema.clone(),
            "--redis-url".into(),
            self.redis_url.clone(),
            "--redis-prefix".into(),
            self.prefix.clone(),
        ]
    }
}

impl Drop for Isolation {
    fn drop(&mut self) {
        let (db, schema, redis_url, prefix) =
            (self.database_url.clone(), self.schema.clone(), self.redis_url.clone(), self.prefix.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                let _ = tokio::time::timeout(
                    Duration::from_secs(5),
                    confab_store::PostgresStore::drop_schema(&db, &schema),
                )
                .await;
                let cleanup = async {
                    let client = redis::Client::open(redis_url)?;
                    let mut conn = client.get_multiplexed_async_connection().await?;
                    let keys: Vec<String> =
                        redis::cmd("KEYS").arg(format!("{prefix}:*")).query_async(&mut conn).await?;
                    if !keys.is_empty() {
                        redis::cmd("DEL").arg(keys).query_async::<()>(&mut conn).await?;
                    }
                    redis::RedisResult::Ok(())
                };
                let _ = tokio::time::timeout(Duration::from_secs(5), cleanup).await;
            });
            Some(())
        })
        .join();
    }
}

pub fn spare_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// Starts `cmd` (output discarded) and waits until it accepts connections on `port`.
fn spawn_listening(mut cmd: Command, port: u16, what: &str) -> Child {
    let mut child =
        cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap_or_else(|e| panic!("{what}: {e}"));
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return child;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("private {what} did not start");
}

/// Kills a private server (`SIGKILL`) and reaps it.
fn kill(child: &mut Option<Child>) {
    if let Some(mut child) = child.take() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A private `redis-server` on a spare port, for tests that restart Redis.
pub struct PrivateRedis {
    pub port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    pub fn start() -> PrivateRedis {
        let mut r = PrivateRedis { port: spare_port(), child: None };
        r.restart();
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        kill(&mut self.child);
    }

    /// (Re)starts on the same port with no data, and waits until it answers.
    pub fn restart(&mut self) {
        self.stop();
        let port = self.port.to_string();
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
        self.child = Some(spawn_listening(cmd, self.port, "redis-server"));
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A private PostgreSQL cluster (initdb + pg_ctl) in a temp dir on a spare port, for tests that
/// stop the database. Runs as the `postgres` user when started as root.
pub struct PrivatePostgres {
    pub port: u16,
    dir: tempfile::TempDir,
    bin: PathBuf,
}

fn pg_bin() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<PathBuf> = std::fs::read_dir(root)
        .expect("PostgreSQL binaries")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    versions.sort();
    versions.pop().expect("a PostgreSQL version").join("bin")
}

fn as_postgres(program: &Path) -> Command {
    // initdb refuses to run as root.
    if unsafe { libc::geteuid() } == 0 {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

impl PrivatePostgres {
    pub fn start() -> PrivatePostgres {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .expect("chmod");
        let pg = PrivatePostgres { port: spare_port(), dir, bin: pg_bin() };
        let status = as_postgres(&pg.bin.join("initdb"))
            .args(["-D"])
            .arg(pg.data())
            .args(["-A", "trust", "-U", "postgres", "--no-sync"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("initdb runs");
        assert!(status.success(), "initdb failed");
        pg.ctl("start");
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn ctl(&self, action: &str) {
        let mut cmd = as_postgres(&self.bin.join("pg_ctl"));
        cmd.arg("-D").arg(self.data()).args(["-w", "-t", "30", "-m", "fast"]);
        if action == "start" {
            let opts = format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
                self.port,
                self.dir.path().display()
            );
            cmd.args(["-o", &opts, "-l"]).arg(self.dir.path().join("log"));
        }
        let status =
            cmd.arg(action).stdout(Stdio::null()).stderr(Stdio::null()).status().expect("pg_ctl runs");
        assert!(status.success(), "pg_ctl {action} failed");
    }

    pub fn stop(&self) {
        self.ctl("stop");
    }

    pub fn start_again(&self) {
        self.ctl("start");
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = as_postgres(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

pub fn nats_url() -> String {
    std::env::var("CONFAB_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// Whether NATS answers at [`nats_url`] (a node started on one without JetStream fails loudly). When it does not, the test is skipped
/// with a note, or fails when `CONFAB_REQUIRE_SERVICES=1`.
pub async fn nats_available() -> bool {
    let reached = async {
        let client = async_nats::connect(nats_url()).await?;
        client.flush().await?;
        Ok::<(), async_nats::Error>(())
    };
    match tokio::time::timeout(Duration::from_secs(5), reached).await {
        Ok(Ok(())) => true,
        outcome => {
            let why = format!("{outcome:?}");
            if required() {
                panic!("NATS JetStream is required (CONFAB_REQUIRE_SERVICES=1): {why}");
            }
            eprintln!("skipping: NATS JetStream not reachable ({why}); set CONFAB_REQUIRE_SERVICES=1 to fail instead");
            false
        }
    }
}

/// The Kafka-protocol brokers the log tests use: `CONFAB_TEST_KAFKA_BROKERS`, or one on the local
/// default port (`.ci/run` starts tansu there).
pub fn kafka_brokers() -> String {
    std::env::var("CONFAB_TEST_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

/// Whether a Kafka-protocol broker answers a metadata request at [`kafka_brokers`]. When it does
/// not, the test is skipped with a note, or fails when `CONFAB_REQUIRE_SERVICES=1`.
pub async fn kafka_available() -> bool {
    let reached = async {
        let brokers: Vec<String> = kafka_brokers().split(',').map(str::to_string).collect();
        let client = rskafka::client::ClientBuilder::new(brokers).build().await?;
        client.list_topics().await.map(|_| ())
    };
    let reached = tokio::time::timeout(Duration::from_secs(5), reached).await;
    match reached {
        Ok(Ok(())) => true,
        outcome => {
            let why = format!("{outcome:?}");
            if required() {
                panic!("a Kafka broker is required (CONFAB_REQUIRE_SERVICES=1): {why}");
            }
            eprintln!(
                "skipping: no Kafka broker reachable ({why}); set CONFAB_REQUIRE_SERVICES=1 to fail instead"
            );
            false
        }
    }
}

/// The broker a test's log lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogBroker {
    JetStream,
    Kafka,
}

impl LogBroker {
    /// Whether the shared broker of this kind answers (see [`nats_available`], [`kafka_available`]).
    pub async fn available(self) -> bool {
        match self {
            LogBroker::JetStream => nats_available().await,
            LogBroker::Kafka => kafka_available().await,
        }
    }
}

/// One test's log on a shared broker: `serve` arguments naming a stream (topic) of its own,
/// deleted on drop.
pub struct LogIsolation {
    pub prefix: String,
    pub broker: LogBroker,
}

impl LogIsolation {
    /// A stream on the shared NATS JetStream.
    pub fn new() -> LogIsolation {
        LogIsolation::on(LogBroker::JetStream)
    }

    pub fn on(broker: LogBroker) -> LogIsolation {
        LogIsolation { prefix: format!("confab-e2e-{}", confab_core::ids::new_id().replace('-', "")), broker }
    }

    pub fn url(&self) -> String {
        match self.broker {
            LogBroker::JetStream => nats_url(),
            LogBroker::Kafka => format!("kafka://{}", kafka_brokers()),
        }
    }

    /// `serve` arguments for this log, with conversations of `threshold` members or more on it.
    pub fn args(&self, threshold: u32) -> Vec<String> {
        vec![
            "--log-url".into(),
            self.url(),
            "--log-prefix".into(),
            self.prefix.clone(),
            "--log-fanout-threshold".into(),
            threshold.to_string(),
        ]
    }
}

impl Drop for LogIsolation {
    fn drop(&mut self) {
        let name = format!("{}-log", self.prefix);
        let broker = self.broker;
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                let cleanup = async {
                    match broker {
                        LogBroker::JetStream => {
                            let client = async_nats::connect(nats_url()).await.ok()?;
                            async_nats::jetstream::new(client).delete_stream(&name).await.ok().map(|_| ())
                        }
                        LogBroker::Kafka => {
                            let brokers: Vec<String> =
                                kafka_brokers().split(',').map(str::to_string).collect();
                            let client = rskafka::client::ClientBuilder::new(brokers).build().await.ok()?;
                            client.controller_client().ok()?.delete_topic(name, 5_000).await.ok()
                        }
                    }
                };
                tokio::time::timeout(Duration::from_secs(5), cleanup).await.ok().flatten()
            })
        })
        .join();
    }
}

/// A private `nats-server` with JetStream on a spare port, its store in a temp dir kept across
/// restarts, for tests that stop the broker.
pub struct PrivateNats {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl PrivateNats {
    pub fn start() -> PrivateNats {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut n = PrivateNats { port: spare_port(), dir, child: None };
        n.restart();
        n
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server (`SIGKILL`, as a crash would).
    pub fn stop(&mut self) {
        kill(&mut self.child);
    }

    /// (Re)starts on the same port and store, and waits until it answers.
    pub fn restart(&mut self) {
        self.stop();
        let mut cmd = Command::new("nats-server");
        cmd.args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string(), "-sd"]).arg(self.dir.path());
        self.child = Some(spawn_listening(cmd, self.port, "nats-server"));
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The tansu binary (a Kafka-protocol broker): `CONFAB_TANSU`, the one `.ci/run` builds into
/// `~/.cache/confab-tools`, or `tansu` on the `PATH`.
fn tansu_bin() -> PathBuf {
    if let Ok(path) = std::env::var("CONFAB_TANSU") {
        return PathBuf::from(path);
    }
    let cached =
        std::env::var("HOME").map(|home| PathBuf::from(home).join(".cache/confab-tools/tansu/bin/tansu"));
    match cached {
        Ok(path) if path.exists() => path,
        _ => PathBuf::from("tansu"),
    }
}

/// A private Kafka-protocol broker (tansu, in-memory storage) on a spare port, for tests that stop
/// the broker. A restart loses its topics, as a broker that lost its disk would.
pub struct PrivateKafka {
    pub port: u16,
    child: Option<Child>,
}

impl PrivateKafka {
    pub fn start() -> PrivateKafka {
        let mut k = PrivateKafka { port: spare_port(), child: None };
        k.restart();
        k
    }

    pub fn url(&self) -> String {
        format!("kafka://127.0.0.1:{}", self.port)
    }

    /// Kills the broker (`SIGKILL`, as a crash would).
    pub fn stop(&mut self) {
        kill(&mut self.child);
    }

    /// (Re)starts on the same port, and waits until it answers.
    pub fn restart(&mut self) {
        self.stop();
        let listener = format!("tcp://127.0.0.1:{}", self.port);
        let mut cmd = Command::new(tansu_bin());
        cmd.args(["broker", "--silent", "--storage-engine", "memory://tansu/", "--listener-url", &listener])
            .args(["--advertised-listener-url", &listener]);
        self.child = Some(spawn_listening(cmd, self.port, "tansu"));
    }
}

impl Drop for PrivateKafka {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A private broker of either kind, for the outage tests.
pub enum PrivateLogBroker {
    JetStream(PrivateNats),
    Kafka(PrivateKafka),
}

impl PrivateLogBroker {
    pub fn start(broker: LogBroker) -> PrivateLogBroker {
        match broker {
            LogBroker::JetStream => PrivateLogBroker::JetStream(PrivateNats::start()),
            LogBroker::Kafka => PrivateLogBroker::Kafka(PrivateKafka::start()),
        }
    }

    pub fn url(&self) -> String {
        match self {
            PrivateLogBroker::JetStream(b) => b.url(),
            PrivateLogBroker::Kafka(b) => b.url(),
        }
    }

    pub fn stop(&mut self) {
        match self {
            PrivateLogBroker::JetStream(b) => b.stop(),
            PrivateLogBroker::Kafka(b) => b.stop(),
        }
    }

    pub fn restart(&mut self) {
        match self {
            PrivateLogBroker::JetStream(b) => b.restart(),
            PrivateLogBroker::Kafka(b) => b.restart(),
        }
    }
}
