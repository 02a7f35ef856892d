//! A local push service for the tests: it accepts connections on an ephemeral port (plain HTTP/1,
//! HTTP/2 without TLS, or HTTPS with a self-signed certificate for `localhost`) and hands each
//! request to the test, which inspects it and answers. Requests are awaited, never polled.

#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::HeaderMap;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, Uri, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// How the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http1,
    /// HTTP/2 with prior knowledge, as APNs (minus TLS).
    H2c,
    /// HTTP/1.1 over TLS with a self-signed certificate for `localhost` and `127.0.0.1`.
    Https,
}

/// One request, waiting for its answer.
pub struct Exchange {
    pub method: Method,
    pub uri: Uri,
    pub version: Version,
    pub headers: HeaderMap,
    pub body: Bytes,
    reply: oneshot::Sender<Response<Full<Bytes>>>,
}

impl Exchange {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_else(|| panic!("no {name} header"))
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub fn respond(self, status: u16, headers: &[(&str, &str)], body: impl Into<Bytes>) {
        let mut response = Response::builder().status(status);
        for (name, value) in headers {
            response = response.header(*name, *value);
        }
        let _ = self.reply.send(response.body(Full::new(body.into())).unwrap());
    }
}

pub struct Server {
    pub addr: SocketAddr,
    /// The certificate (DER) an HTTPS server presents; empty otherwise.
    pub cert_der: Vec<u8>,
    requests: mpsc::UnboundedReceiver<Exchange>,
    accept: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl Server {
    pub async fn start(protocol: Protocol) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, requests) = mpsc::unbounded_channel();
        let (tls, cert_der) = match protocol {
            Protocol::Https => {
                let (acceptor, der) = tls_acceptor();
                (Some(acceptor), der)
            }
            _ => (None, Vec::new()),
        };
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let tx = tx.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| handle(tx.clone(), request));
                    match (protocol, tls) {
                        (Protocol::Https, Some(tls)) => {
                            let Ok(stream) = tls.accept(stream).await else { return };
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                        (Protocol::H2c, _) => {
                            let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                        _ => {
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                    }
                });
            }
        });
        Server { addr, cert_der, requests, accept }
    }

    /// `scheme://host:port{path}`, with `localhost` for HTTPS (the certificate's name).
    pub fn url(&self, path: &str) -> String {
        match self.cert_der.is_empty() {
            true => format!("http://127.0.0.1:{}{path}", self.addr.port()),
            false => format!("https://localhost:{}{path}", self.addr.port()),
        }
    }

    /// The next request. A guard, not a wait: it only fails a test that would otherwise hang.
    pub async fn next(&mut self) -> Exchange {
        tokio::time::timeout(Duration::from_secs(20), self.requests.recv())
            .await
            .expect("no request within 20 s")
            .expect("server stopped")
    }

    /// Whether a request is waiting (after the client finished: whether it sent anything).
    pub fn pending(&mut self) -> bool {
        !self.requests.is_empty()
    }
}

async fn handle(
    tx: mpsc::UnboundedSender<Exchange>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let (reply, answer) = oneshot::channel();
    let exchange = Exchange {
        method: parts.method,
        uri: parts.uri,
        version: parts.version,
        headers: parts.headers,
        body,
        reply,
    };
    if tx.send(exchange).is_err() {
        return Ok(Response::builder().status(503).body(Full::new(Bytes::new())).unwrap());
    }
    Ok(answer
        .await
        .unwrap_or_else(|_| Response::builder().status(599).body(Full::new(Bytes::new())).unwrap()))
}

fn tls_acceptor() -> (tokio_rustls::TlsAcceptor, Vec<u8>) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let der = certified.cert.der().to_vec();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let mut config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![certified.cert.der().clone()], key)
            .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    (tokio_rustls::TlsAcceptor::from(Arc::new(config)), der)
}

/// A notification with everything shown.
pub fn notification() -> confab_push::Notification {
    confab_push::Notification {
        conversation_id: "conv-1".into(),
        conversation_title: Some("Team".into()),
        message_id: "msg-7".into(),
        sequence_number: 7,
        count: 2,
        sender_name: Some("Alice".into()),
        preview: Some("See you at 10".into()),
        badge: Some(4),
    }
}

/// A retry policy whose waits are a millisecond or two.
pub fn quick_retries() -> confab_push::RetryPolicy {
    confab_push::RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(2),
        max_retry_after: Duration::from_millis(2),
    }
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}
