//! The edge of the server against abusive clients: slow or half-sent requests, too many
//! connections, foreign origins, tokens of users who do not exist, and error bodies for what axum
//! answers by itself.

use std::time::Duration;

use confab_client::{ClientError, Connection};
use confab_proto::ErrorCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::*;

fn addr(server: &TestServer) -> String {
    server.url.trim_start_matches("http://").to_string()
}

/// Reads until the peer closes the connection (or resets it); fails after `within`.
async fn closed_within(tcp: &mut TcpStream, within: Duration) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(within, async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the server closed the connection");
    received
}

/// One response on a fresh connection: status code and body (the server closes after it, or the
/// body's `content-length` says where it ends).
async fn raw_request(server: &TestServer, request: String) -> (u16, String) {
    let mut tcp = TcpStream::connect(addr(server)).await.expect("connect");
    tcp.write_all(request.as_bytes()).await.expect("send request");
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(WAIT, async {
        loop {
            let text = String::from_utf8_lossy(&received).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                if body.len() >= length {
                    return;
                }
            }
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("a response");
    let text = String::from_utf8_lossy(&received).to_string();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// A WebSocket upgrade request with extra header lines (each ending in `\r\n`).
fn upgrade_request(server: &TestServer, token: &str, extra: &str) -> String {
    format!(
        "GET /ws?token={token} HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n",
        addr(server)
    )
}

fn error_code(body: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(body).expect("a JSON error body");
    assert!(value["message"].is_string(), "{body}");
    value["error"].as_str().expect("an error code").to_string()
}

#[tokio::test]
async fn a_half_sent_request_is_disconnected_after_the_header_timeout() {
    let server = TestServer::start_with(|c| c.http_header_timeout = Duration::from_millis(300)).await;
    let mut tcp = TcpStream::connect(addr(&server)).await.expect("connect");
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.expect("half a request");
    closed_within(&mut tcp, Duration::from_secs(10)).await;
    // A connection that never sends anything is closed too.
    let mut silent = TcpStream::connect(addr(&server)).await.expect("connect");
    closed_within(&mut silent, Duration::from_secs(10)).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_stalled_request_body_is_disconnected_after_the_idle_timeout() {
    let server = TestServer::start_with(|c| c.http_idle_timeout = Duration::from_millis(300)).await;
    let mut tcp = TcpStream::connect(addr(&server)).await.expect("connect");
    tcp.write_all(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"use")
        .await
        .expect("headers and part of the body");
    closed_within(&mut tcp, Duration::from_secs(10)).await;
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_does_not_wait_for_a_half_sent_request() {
    let server = TestServer::start().await;
    let mut tcp = TcpStream::connect(addr(&server)).await.expect("connect");
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.expect("half a request");
    // The server has read the bytes once a second connection is answered after them.
    let (status, _) = raw_request(&server, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".into()).await;
    assert_eq!(status, 200);
    tokio::time::timeout(Duration::from_secs(5), server.shutdown())
        .await
        .expect("shutdown finished without waiting for the half-sent request");
    closed_within(&mut tcp, Duration::from_secs(5)).await;
}

#[tokio::test]
async fn connections_over_the_http_limit_get_503_and_health_checks_recover() {
    let server = TestServer::start_with(|c| c.limits.max_http_connections = 2).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut tcp = TcpStream::connect(addr(&server)).await.expect("connect");
        tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.expect("half a request");
        held.push(tcp);
    }
    // Accepting is asynchronous: wait until both slots are taken.
    let body = tokio::time::timeout(WAIT, async {
        loop {
            let (status, body) =
                raw_request(&server, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".into()).await;
            if status == 503 {
                return body;
            }
        }
    })
    .await
    .expect("the third connection is refused");
    assert_eq!(error_code(&body), "UNAVAILABLE");
    drop(held);
    tokio::time::timeout(WAIT, async {
        while raw_request(&server, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".into())
            .await
            .0
            != 200
        {}
    })
    .await
    .expect("health checks answer again once the slots are free");
    server.shutdown().await;
}

#[tokio::test]
async fn one_user_cannot_hold_more_websockets_than_the_per_user_cap() {
    let server = TestServer::start_with(|c| c.limits.max_connections_per_user = 2).await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let first = alice.connect("d1").await;
    let _second = alice.connect("d2").await;
    match Connection::connect(&server.url, &alice.token, "d3").await {
        Err(ClientError::Api { status, body }) => {
            assert_eq!(status, 429);
            assert_eq!(body.error, ErrorCode::RateLimited);
            assert!(body.retry_after.is_some_and(|s| s >= 1), "{body:?}");
        }
        Err(other) => panic!("refused with {other:?}"),
        Ok(_) => panic!("a third connection was accepted"),
    }
    // Other users are not affected, and a closed connection frees its slot.
    let _bob = bob.connect("d1").await;
    drop(first);
    tokio::time::timeout(WAIT, async {
        loop {
            match Connection::connect(&server.url, &alice.token, "d3").await {
                Ok(conn) => return conn,
                Err(ClientError::Api { status: 429, .. }) => tokio::task::yield_now().await,
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
    })
    .await
    .expect("the slot is given back");
    server.shutdown().await;
}

#[tokio::test]
async fn websockets_from_foreign_origins_are_forbidden() {
    let server = TestServer::start().await;
    let alice = register(&server.url, "alice").await;
    let own = format!("Origin: {}\r\n", server.url);
    for (extra, expected) in
        [("Origin: https://evil.example\r\n", 403), ("Origin: null\r\n", 403), (own.as_str(), 101), ("", 101)]
    {
        let (status, body) = raw_request(&server, upgrade_request(&server, &alice.token, extra)).await;
        assert_eq!(status, expected, "{extra:?}: {body}");
        if status == 403 {
            assert_eq!(error_code(&body), "FORBIDDEN");
        }
    }
    server.shutdown().await;

    let server = TestServer::start_with(|c| c.allowed_origins = vec!["https://app.example".into()]).await;
    let alice = register(&server.url, "alice").await;
    let request = upgrade_request(&server, &alice.token, "Origin: https://app.example\r\n");
    assert_eq!(raw_request(&server, request).await.0, 101);
    let request = upgrade_request(&server, &alice.token, "Origin: https://other.example\r\n");
    assert_eq!(raw_request(&server, request).await.0, 403);
    server.shutdown().await;

    let server = TestServer::start_with(|c| c.allowed_origins = vec!["*".into()]).await;
    let alice = register(&server.url, "alice").await;
    let request = upgrade_request(&server, &alice.token, "Origin: https://evil.example\r\n");
    assert_eq!(raw_request(&server, request).await.0, 101);
    server.shutdown().await;
}

#[tokio::test]
async fn a_confab_token_of_a_user_who_does_not_exist_is_refused_at_upgrade() {
    let server = TestServer::start().await;
    let exp =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() + 600;
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &serde_json::json!({"sub": "ghost", "exp": exp, "iss": "confab"}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("token");
    match Connection::connect(&server.url, &token, "d1").await {
        Err(ClientError::Api { status, body }) => {
            assert_eq!(status, 401);
            assert_eq!(body.error, ErrorCode::Unauthorized);
        }
        Err(other) => panic!("refused with {other:?}"),
        Ok(_) => panic!("a token of a user who does not exist was accepted"),
    }
    // Application-minted tokens still provision their user on first use.
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &serde_json::json!({"sub": "app-user-1", "exp": exp, "username": "appuser"}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("token");
    Connection::connect(&server.url, &token, "d1").await.expect("provisioned and connected");
    server.shutdown().await;
}

/// Every authenticated REST call refuses a token Confab issued to a user the store does not hold
/// (here: a server whose database was started afresh with the same secret), as the WebSocket
/// upgrade does; an application's token still provisions its user on its first REST call.
#[tokio::test]
async fn a_confab_token_of_a_user_who_does_not_exist_is_refused_by_rest() {
    let before = TestServer::start().await;
    let alice = register(&before.url, "alice").await;
    alice.api.conversations().await.expect("the token works where alice exists");
    before.shutdown().await;

    let server = TestServer::start().await;
    let bob = register(&server.url, "bob").await;
    let stale = server.client().with_token(&alice.token);
    for (what, answer) in [
        ("GET /conversations", stale.conversations().await.map(|_| ())),
        ("GET /users/me", stale.me().await.map(|_| ())),
        ("GET /users?query=", stale.search_users("b", 10).await.map(|_| ())),
        ("POST /conversations", stale.open_direct(&bob.id).await.map(|_| ())),
    ] {
        match answer {
            Err(ClientError::Api { status, body }) => {
                assert_eq!((status, body.error), (401, ErrorCode::Unauthorized), "{what}");
            }
            other => panic!("{what}: {other:?}"),
        }
    }
    // The refusal is not remembered as success: the same token stays refused.
    assert!(stale.conversations().await.is_err());

    let exp =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() + 600;
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &serde_json::json!({"sub": "app-user-2", "exp": exp, "username": "appuser2"}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("token");
    let app_user = server.client().with_token(&token);
    assert_eq!(app_user.me().await.expect("provisioned on first use").user.user_id, "app-user-2");
    app_user.conversations().await.expect("and known afterwards");
    server.shutdown().await;
}

#[tokio::test]
async fn every_error_response_has_the_protocol_body() {
    let server = TestServer::start_with(|c| c.limits.max_frame_bytes = 1024).await;
    let http = reqwest::Client::new();
    for (method, path, status, code) in [
        (reqwest::Method::DELETE, "/healthz", 405, "INVALID_REQUEST"),
        (reqwest::Method::PUT, "/api/v1/auth/login", 405, "INVALID_REQUEST"),
        (reqwest::Method::POST, "/metrics", 405, "INVALID_REQUEST"),
        (reqwest::Method::GET, "/api/v1/no/such/thing", 404, "NOT_FOUND"),
        (reqwest::Method::GET, "/no-such-file.js", 404, "NOT_FOUND"),
        (reqwest::Method::POST, "/api/v1/auth/login", 413, "PAYLOAD_TOO_LARGE"),
    ] {
        let body = if status == 413 { "x".repeat(4 * 1024) } else { String::new() };
        let response = http.request(method.clone(), format!("{}{path}", server.url)).body(body).send().await;
        let response = response.expect("a response");
        assert_eq!(response.status().as_u16(), status, "{method} {path}");
        if status == 405 {
            assert!(response.headers().contains_key("allow"), "{method} {path} keeps `Allow`");
        }
        let text = response.text().await.expect("body");
        assert_eq!(error_code(&text), code, "{method} {path}: {text}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn the_web_client_is_served_with_a_restrictive_policy() {
    let server = TestServer::start().await;
    for path in ["/", "/app.js"] {
        let response = reqwest::get(format!("{}{path}", server.url)).await.expect("a response");
        assert_eq!(response.status().as_u16(), 200);
        let header = |name: &str| {
            response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
        };
        let csp = header("content-security-policy");
        for directive in ["default-src 'self'", "frame-ancestors 'none'", "connect-src 'self' ws: wss:"] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert_eq!(header("x-frame-options"), "DENY");
        assert_eq!(header("x-content-type-options"), "nosniff");
        assert_eq!(header("referrer-policy"), "no-referrer");
    }
    server.shutdown().await;
}

#[test]
fn connection_limits_are_lowered_to_fit_the_open_file_limit() {
    use std::io::BufRead;
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};

    let (_dir, data_dir) = temp_path();
    let mut command = Command::new(env!("CARGO_BIN_EXE_confab"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data_dir)
        .args(["--jwt-secret", SECRET, "--max-connections", "100000"])
        .env("CONFAB_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: only `setrlimit`, which is async-signal-safe, runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit { rlim_cur: 1024, rlim_max: 1024 };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().expect("spawn confab");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let warning = loop {
        match rx.recv_timeout(WAIT) {
            Ok(line) if line.contains("open-file limit") => break line,
            Ok(_) => continue,
            Err(e) => {
                let _ = child.kill();
                panic!("no warning about the open-file limit: {e}");
            }
        }
    };
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("stdout");
    let _ = child.kill();
    let _ = child.wait();
    assert!(warning.contains("max connections lowered from 100000 to 576"), "{warning}");
    assert!(line.starts_with("confab listening on "), "the server still starts: {line}");
}

/// A client that closes normally gets the server's close frame back, so browsers report a clean
/// close (1000, `wasClean`) rather than 1006; the SDK's `close` fails when it does not.
#[tokio::test]
async fn a_client_close_is_answered_with_a_close_frame() {
    let server = TestServer::start().await;
    let alice = register(&server.url, "alice").await;
    alice.connect("d1").await.close().await.expect("the server completes the close handshake");
    // Also with frames in flight: replies queued before the close still precede it.
    let mut conn = alice.connect("d2").await;
    conn.heartbeat().await.expect("heartbeat sent");
    conn.close().await.expect("the server completes the close handshake");
    server.shutdown().await;
}
