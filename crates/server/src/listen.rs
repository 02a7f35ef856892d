//! The HTTP/1 connection loop. `axum::serve` has no header-read or idle timeout and waits forever
//! on a half-sent request at shutdown, so Confab serves connections itself:
//!
//! - a client has [`HttpSettings::header_timeout`] to send each request's headers (hyper's
//!   header-read timer, which also runs while a kept-alive connection waits for its next request);
//! - a connection with no bytes read or written for [`HttpSettings::idle_timeout`] is closed
//!   (covers a request body trickled in, or never finished);
//! - at most [`HttpSettings::max_connections`] connections are open before their upgrade to a
//!   WebSocket; more are answered `503` and closed at once, so file descriptors stay for the
//!   WebSockets, the store and `/healthz`;
//! - on shutdown, connections with no request being answered close at once; the others get
//!   [`SHUTDOWN_DRAIN`] to finish theirs.
//!
//! With TLS, the handshake happens in the connection's own task and must finish within the header
//! timeout; the loop above is the same for the decrypted stream.
//!
//! An upgraded connection leaves this loop (and its slot): the WebSocket session owns it from then
//! on, with its own heartbeat timeout.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// Longest a request being answered when shutdown starts may still take.
pub const SHUTDOWN_DRAIN: Duration = Duration::from_secs(10);
/// Pause after a failed `accept` (typically out of file descriptors), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Written, without waiting, to a connection over the limit before it is closed.
const BUSY_RESPONSE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
content-length: 72\r\nretry-after: 1\r\nconnection: close\r\n\r\n\
{\"error\":\"UNAVAILABLE\",\"message\":\"this node is at its connection limit\"}";

#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

/// Accepts and serves connections until `stop` is cancelled, then drains them (see the module doc).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: HttpSettings,
    tls: Option<TlsAcceptor>,
    stop: CancellationToken,
) {
    let connections = TaskTracker::new();
    let slots = Arc::new(Semaphore::new(settings.max_connections.max(1)));
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "cannot accept a connection");
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                }
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            metrics::counter!("confab_http_connections_refused_total").increment(1);
            // Best effort and never waiting: the socket is closed right after either way.
            let _ = tcp.try_write(BUSY_RESPONSE);
            continue;
        };
        // Frames are small and latency-sensitive: never let Nagle's algorithm hold one back.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
        let (router, settings, stop) = (router.clone(), settings.clone(), stop.clone());
        match tls.clone() {
            None => connections.spawn(serve_connection(tcp, peer, router, settings, stop, slot)),
            Some(acceptor) => connections.spawn(async move {
                match tokio::time::timeout(settings.header_timeout, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => serve_connection(stream, peer, router, settings, stop, slot).await,
                    Ok(Err(e)) => {
                        metrics::counter!("confab_tls_handshake_failures_total").increment(1);
                        tracing::debug!(error = %e, %peer, "TLS handshake failed");
                    }
                    Err(_) => {
                        metrics::counter!("confab_tls_handshake_failures_total").increment(1);
                        tracing::debug!(%peer, "TLS handshake timed out");
                    }
                }
            }),
        };
    }
    connections.close();
    connections.wait().await;
}

async fn serve_connection<S>(
    stream: S,
    peer: SocketAddr,
    router: Router,
    settings: HttpSettings,
    stop: CancellationToken,
    _slot: OwnedSemaphorePermit,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity::new());
    let answering = Arc::new(AtomicUsize::new(0));
    let io = TokioIo::new(Watched { inner: stream, activity: activity.clone() });
    let counter = answering.clone();
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        let answer = Answering::start(&counter);
        // The peer address feeds the per-address login and registration throttles.
        request.extensions_mut().insert(ConnectInfo(peer));
        let response = router.clone().oneshot(request.map(Body::new));
        async move {
            let response = response.await;
            drop(answer);
            response
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(settings.header_timeout);
    let connection = builder.serve_connection(io, service).with_upgrades();
    tokio::pin!(connection);
    let mut drain: Option<Pin<Box<tokio::time::Sleep>>> = None;
    loop {
        let idle_at = activity.last() + settings.idle_timeout;
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "HTTP connection ended with an error");
                }
                return;
            }
            _ = tokio::time::sleep_until(idle_at) => {
                if activity.last() + settings.idle_timeout <= Instant::now() {
                    metrics::counter!("confab_http_idle_disconnects_total").increment(1);
                    return;
                }
            }
            _ = stop.cancelled(), if drain.is_none() => {
                connection.as_mut().graceful_shutdown();
                if answering.load(Ordering::Acquire) == 0 {
                    // Idle, or a request only partly received: nothing to finish.
                    return;
                }
                drain = Some(Box::pin(tokio::time::sleep(SHUTDOWN_DRAIN)));
            }
            _ = async { if let Some(d) = drain.as_mut() { d.await } }, if drain.is_some() => return,
        }
    }
}

/// Counts a request as being answered from the moment its headers are in until its response is
/// ready.
struct Answering(Arc<AtomicUsize>);

impl Answering {
    fn start(counter: &Arc<AtomicUsize>) -> Answering {
        counter.fetch_add(1, Ordering::AcqRel);
        Answering(counter.clone())
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// When a connection last moved a byte, in milliseconds since it opened.
struct Activity {
    opened: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity { opened: Instant::now(), last_ms: AtomicU64::new(0) }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.opened + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// A socket that records when it last read or wrote a byte.
struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
