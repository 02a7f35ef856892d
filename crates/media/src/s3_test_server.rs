//! A real S3-compatible server for tests: `moto_server` (PyPI `moto[server]`), started on a spare
//! loopback port with a fresh bucket, stopped on drop. `.ci/run` installs it under
//! `~/.cache/confab-tools/moto-venv`; `CONFAB_MOTO_SERVER` names another binary. Without it a test
//! is skipped with a note, or fails when `CONFAB_REQUIRE_SERVICES=1`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct S3TestServer {
    child: Child,
    pub endpoint: String,
    pub bucket: String,
}

impl S3TestServer {
    /// A running server with an empty bucket, or `None` (skip) when moto is not installed and
    /// services are not required.
    pub fn start() -> Option<S3TestServer> {
        let Some(binary) = binary() else {
            if std::env::var("CONFAB_REQUIRE_SERVICES").as_deref() == Ok("1") {
                panic!(
                    "moto_server is required (CONFAB_REQUIRE_SERVICES=1): install moto[server] (see .ci/run)"
                );
            }
            eprintln!("skipping: moto_server not installed; set CONFAB_REQUIRE_SERVICES=1 to fail instead");
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let child = Command::new(&binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        let bucket = format!("confab-{}", std::process::id());
        let mut server = S3TestServer { child, endpoint: format!("http://127.0.0.1:{port}"), bucket };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(status) = server.request("PUT", &format!("/{}", server.bucket)) {
                assert!(status == 200, "creating the test bucket answered {status}");
                break;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("moto_server exited at start: {status}");
            }
            assert!(Instant::now() < deadline, "moto_server did not answer within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(server)
    }

    /// `s3://bucket/prefix` in this server.
    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{}/{prefix}", self.bucket)
    }

    /// The settings a blob store (or a Confab server's `media_s3_overrides`) needs for it.
    pub fn overrides(&self) -> Vec<(String, String)> {
        [
            ("endpoint", self.endpoint.as_str()),
            ("allow_http", "true"),
            ("region", "us-east-1"),
            ("access_key_id", "confab-test"),
            ("secret_access_key", "confab-test-secret"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// An unsigned request (moto accepts them), answered with its status.
    fn request(&self, method: &str, path: &str) -> std::io::Result<u16> {
        let address = self.endpoint.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("not HTTP: {response:.80}")))
    }
}

impl Drop for S3TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn binary() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("CONFAB_MOTO_SERVER") {
        return Some(PathBuf::from(path));
    }
    let cached = std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".cache/confab-tools/moto-venv/bin/moto_server"))
        .filter(|p| p.exists());
    cached.or_else(|| {
        let on_path = std::env::var_os("PATH")?;
        std::env::split_paths(&on_path).map(|dir| dir.join("moto_server")).find(|p| p.exists())
    })
}
