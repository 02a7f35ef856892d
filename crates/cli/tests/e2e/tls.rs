//! HTTPS and WSS with the real binary: a certificate the test makes, REST and WebSocket over TLS
//! through the Rust client, a client that does not trust the certificate and plain HTTP on the
//! TLS port both refused, and a renewed certificate served after `SIGHUP` without a restart
//! (connections made before it go on).

use std::path::Path;
use std::time::{Duration, Instant};

use confab_client::{Client, ClientError, Connection, Roots};
use confab_proto::ServerFrame;

use crate::harness::*;

struct Certificate {
    pem: String,
    key: String,
}

/// A self-signed certificate for `localhost` and `127.0.0.1`.
fn certificate() -> Certificate {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("certificate");
    Certificate { pem: made.cert.pem(), key: made.signing_key.serialize_pem() }
}

fn install(dir: &Path, certificate: &Certificate) {
    std::fs::write(dir.join("cert.pem"), &certificate.pem).expect("write certificate");
    std::fs::write(dir.join("key.pem"), &certificate.key).expect("write key");
}

async fn receive_text(conn: &mut Connection) -> String {
    conn.wait_for(WAIT, "message.new over WSS", |f| match &f.frame {
        ServerFrame::MessageNew(m) => Some(m.content.text().unwrap_or_default().to_string()),
        _ => None,
    })
    .await
    .expect("message.new arrives")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_and_websocket_over_tls_with_the_certificate_renewed_on_sighup() {
    let data = tempfile::tempdir().expect("data dir");
    let files = tempfile::tempdir().expect("certificate dir");
    let first = certificate();
    install(files.path(), &first);
    let server = ServerProcess::spawn_with(
        data.path(),
        &[
            "--tls-cert".into(),
            files.path().join("cert.pem").display().to_string(),
            "--tls-key".into(),
            files.path().join("key.pem").display().to_string(),
        ],
    );
    assert!(server.url.starts_with("https://127.0.0.1:"), "{}", server.url);
    let roots = Roots::from_pem(first.pem.as_bytes()).expect("roots");

    let client = Client::with_roots(&server.url, &roots).expect("client");
    let tina = client.register("tina", PASSWORD, None).await.expect("register over HTTPS");
    let tom = client.register("tom", PASSWORD, None).await.expect("register over HTTPS");
    let api = client.with_token(&tina.token);
    let (conversation, _) = api.open_direct(&tom.user_id).await.expect("open direct");
    let mut toms_socket =
        Connection::connect_with_roots(&server.url, &tom.token, "phone", &roots).await.expect("WSS connects");
    api.send_message(&conversation.conversation_id, None, text("over TLS")).await.expect("send");
    assert_eq!(receive_text(&mut toms_socket).await, "over TLS");

    // The system's roots do not vouch for a self-signed certificate: refused by the client.
    let refused = Client::new(&server.url).login("tina", PASSWORD).await.expect_err("untrusted");
    assert!(matches!(refused, ClientError::Http(_)), "{refused:?}");
    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = server.url.replacen("https://", "http://", 1);
    assert!(Client::new(&plain).login("tina", PASSWORD).await.is_err());

    // A renewed certificate: new files, then SIGHUP.
    let second = certificate();
    install(files.path(), &second);
    let renewed = Roots::from_pem(second.pem.as_bytes()).expect("roots");
    let with_renewed = || Client::with_roots(&server.url, &renewed).expect("client");
    assert!(with_renewed().login("tina", PASSWORD).await.is_err(), "not served before the signal");
    // SAFETY: sends a signal to the child process this test started.
    assert_eq!(unsafe { libc::kill(server.pid() as libc::pid_t, libc::SIGHUP) }, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Err(e) = with_renewed().login("tina", PASSWORD).await {
        assert!(Instant::now() < deadline, "the renewed certificate is not served: {e}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let old = Client::with_roots(&server.url, &roots).expect("client");
    assert!(old.login("tina", PASSWORD).await.is_err(), "new connections get the renewed certificate");
    // The WebSocket opened before the renewal goes on.
    let renewed_api = with_renewed().with_token(&tina.token);
    renewed_api.send_message(&conversation.conversation_id, None, text("after renewal")).await.expect("send");
    assert_eq!(receive_text(&mut toms_socket).await, "after renewal");
}
