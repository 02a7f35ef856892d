//! One WebSocket connection: a reader loop that parses client frames and hands each to its
//! [`handlers`](super::handlers) function, and a writer task that drains the connection's bounded
//! [`Outbox`] to the socket. Requests are pipelined: each is started at once (a `message.send` is
//! queued to the store on arrival, keeping this device's order) and answered when done, in request
//! order, while the reader goes on reading, up to `max_inflight_sends` unanswered requests.
//!
//! Both loops are generic over a `Stream`/`Sink` of messages, so tests drive a session over
//! channels instead of a socket.

use std::fmt::Display;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message};
use confab_core::ids::{new_id, now_millis};
use confab_core::rules::sessions::TokenSession;
use confab_core::Error;
use confab_proto::frames::ConnectedPayload;
use confab_proto::{ClientEnvelope, ServerFrame};
use futures_util::stream::FuturesOrdered;
use futures_util::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use tokio::time::{sleep_until, Instant};

use super::handlers;
use super::requests::{bulk_reply, encode, max_outbound, too_large, Session, FRAME_HEADER_ROOM};
use crate::app::App;
use crate::hub::ConnectionHandle;
use crate::outbox::{CloseReason, Outbox, OutboxReceiver};

/// Close codes the server uses besides the standard ones (documented in docs/protocol.md).
pub(super) const CLOSE_HEARTBEAT_TIMEOUT: u16 = 4000;
pub(super) const CLOSE_SLOW_CONSUMER: u16 = 4001;
/// The token the connection was opened with was revoked; reconnecting needs a new login.
pub(super) const CLOSE_SESSION_REVOKED: u16 = 4003;
/// The user was banned; reconnecting is refused with `403 BANNED` until the ban ends.
pub(super) const CLOSE_BANNED: u16 = 4004;
/// Frames written to the socket before one flush.
const WRITE_BATCH: usize = 64;
/// How long a closing connection gets to take its last frames and the close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// How long the session waits for its writer to finish after the reader has stopped.
const WRITER_GRACE: Duration = Duration::from_secs(5);

/// Runs one connection until either side closes it. `reader` and `writer` are the two halves of
/// the socket; `connected` is the first frame the client gets. `slots` (the connection's places
/// in the node's and the user's connection limits) are given back when the session has ended.
pub(crate) async fn run<R, W>(
    app: Arc<App>,
    user_id: String,
    session: TokenSession,
    device_id: String,
    reader: R,
    writer: W,
    slots: impl Send,
) where
    R: Stream<Item = Result<Message, axum::Error>> + Unpin + Send,
    W: Sink<Message> + Unpin + Send + 'static,
    W::Error: Display,
{
    let started = Instant::now();
    let connection_id: Arc<str> = new_id().into();
    let (outbox, rx) = Outbox::new(app.config.limits.outbound_queue);

    // `connected` is queued before registering, so it is always the first frame.
    outbox.push(encode(
        None,
        ServerFrame::Connected(ConnectedPayload {
            connection_id: connection_id.to_string(),
            user_id: user_id.clone(),
            device_id: device_id.clone(),
            server_time: now_millis(),
            heartbeat_interval: app.config.heartbeat_interval.as_millis() as u64,
            resume_token: new_id(),
        }),
    ));
    let session = Arc::new(session);
    app.connections().register(
        &user_id,
        ConnectionHandle::new(connection_id.clone(), outbox.clone(), session.clone(), &device_id),
    );
    // A revocation or ban between the upgrade's check and the registration above closed nothing
    // here; checked again now that a later one would find the connection.
    match app.accounts().is_revoked(&user_id, &session).await {
        Ok(false) => {}
        Ok(true) => outbox.close(CloseReason::SessionRevoked),
        Err(e) => tracing::warn!(error = %e, "revocation not rechecked after the upgrade"),
    }
    match app.accounts().ban_of(&user_id).await {
        Ok(None) => {}
        Ok(Some(_)) => outbox.close(CloseReason::Banned),
        Err(e) => tracing::warn!(error = %e, "ban not rechecked after the upgrade"),
    }
    let writer = tokio::spawn(write_loop(writer, rx, outbox.clone(), max_outbound(&app)));

    app.presence().connect(&user_id, &connection_id);
    let mut session = Session {
        device_id,
        app: app.clone(),
        user_id,
        connection_id,
        outbox: outbox.clone(),
        pending: FuturesOrdered::new(),
        typing_in: Default::default(),
        frames_in: 0,
    };
    session.watch_contacts();
    let reason = session.read_loop(reader).await;
    tracing::debug!(connection = %session.connection_id, ?reason, outbox = ?outbox.close_reason(), "session ending");
    // Requests already started (sends queued to the store) complete and are answered before the
    // socket closes.
    while let Some(reply) = session.pending.next().await {
        if let Some(reply) = reply {
            reply.queue(&outbox);
        }
    }
    app.connections().unregister(&session.user_id, &session.connection_id);
    let typing_in: Vec<String> = session.typing_in.lock().drain().collect();
    for conversation in typing_in {
        app.typing().device_gone(&conversation, &session.user_id);
    }
    app.presence().disconnect(&session.user_id, &session.connection_id).await;
    match reason {
        Some(reason) => outbox.close(reason),
        None => outbox.closed().cancel(),
    }
    let written = tokio::time::timeout(WRITER_GRACE, writer).await.ok().and_then(Result::ok);
    let (frames_out, close_code) = match written {
        Some(Written { frames, close_code }) => (Some(frames), Some(close_code)),
        None => (None, None),
    };
    if let Some(code) = close_code {
        metrics::counter!(crate::metrics::WS_SESSIONS_ENDED, "code" => close_code_label(code)).increment(1);
    }
    tracing::info!(
        target: crate::access::TARGET,
        user = %session.user_id,
        device = %session.device_id,
        connection = %session.connection_id,
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        frames_in = session.frames_in,
        frames_out,
        close_code,
        closed_by = if reason.is_some() { "server" } else { "client" },
        "websocket session"
    );
    drop(slots);
}

/// The `code` label of a close code: one the server sends, or `other`.
fn close_code_label(code: u16) -> &'static str {
    let text = code.to_string();
    crate::metrics::CLOSE_CODES.iter().find(|c| **c == text).copied().unwrap_or(crate::metrics::OTHER)
}

/// What the writer did: frames written and the close code it sent.
struct Written {
    frames: u64,
    close_code: u16,
}

impl Session {
    /// On connect: watch every user sharing a conversation (capped) and send their presence. It
    /// takes a request slot like any request, so its bulk precedes the replies that follow.
    fn watch_contacts(&mut self) {
        let (app, outbox, user, connection) =
            (self.app.clone(), self.outbox.clone(), self.user_id.clone(), self.connection_id.clone());
        let max = max_outbound(&app);
        self.pending.push_back(
            async move {
                match app.presence().watch_contacts(&user, &connection, &outbox).await {
                    Ok(bulk) => Some(bulk_reply(None, bulk, max)),
                    Err(e) => {
                        tracing::warn!(error = %e, "presence.bulk not sent");
                        None
                    }
                }
            }
            .boxed(),
        );
    }

    /// Reads until the client goes away or the server closes the connection; returns why the server
    /// closed it (`None` when the client did, or when the outbox was closed from elsewhere).
    async fn read_loop<R>(&mut self, mut reader: R) -> Option<CloseReason>
    where
        R: Stream<Item = Result<Message, axum::Error>> + Unpin,
    {
        let timeout = self.app.config.heartbeat_interval * 3;
        let max_inflight = self.app.config.limits.max_inflight_sends.max(1);
        let mut deadline = Instant::now() + timeout;
        let shutdown = self.app.shutdown_signal().clone();
        let closed = self.outbox.closed().clone();
        loop {
            tokio::select! {
                biased;
                _ = closed.cancelled() => return None,
                _ = shutdown.cancelled() => return Some(CloseReason::Shutdown),
                Some(reply) = self.pending.next(), if !self.pending.is_empty() => {
                    if let Some(reply) = reply {
                        reply.queue(&self.outbox);
                    }
                }
                _ = sleep_until(deadline) => return Some(CloseReason::HeartbeatTimeout),
                // With `max_inflight` requests unanswered the socket is not read: back-pressure
                // reaches the client through TCP instead of growing this queue.
                incoming = reader.next(), if self.pending.len() < max_inflight => match incoming {
                    None | Some(Ok(Message::Close(_))) => return None,
                    Some(Ok(Message::Text(text))) => {
                        deadline = Instant::now() + timeout;
                        self.frames_in += 1;
                        self.handle_text(&text);
                    }
                    Some(Ok(Message::Binary(_))) => {
                        deadline = Instant::now() + timeout;
                        self.refuse(None, Error::InvalidRequest("binary frames are not supported; send JSON text frames".into()));
                    }
                    // Control frames are the network library's, not a sign the application is alive.
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Err(e)) => {
                        if is_capacity_error(e) {
                            self.refuse(None, Error::PayloadTooLarge(format!(
                                "frame is over {} bytes", self.app.config.limits.max_frame_bytes
                            )));
                            return Some(CloseReason::FrameTooLarge);
                        }
                        return None;
                    }
                },
            }
        }
    }

    fn handle_text(&mut self, text: &str) {
        let limit = self.app.config.limits.max_frame_bytes;
        if text.len() > limit {
            metrics::counter!(crate::metrics::FRAMES_IN, "type" => crate::metrics::OTHER).increment(1);
            let id = ClientEnvelope::peek_id(text);
            self.refuse(id, Error::PayloadTooLarge(format!("frame is over {limit} bytes")));
            return;
        }
        match ClientEnvelope::parse(text) {
            Ok(envelope) => {
                let kind = crate::metrics::client_frame_type(&envelope.frame);
                metrics::counter!(crate::metrics::FRAMES_IN, "type" => kind).increment(1);
                handlers::dispatch(self, envelope)
            }
            Err(e) => {
                metrics::counter!(crate::metrics::FRAMES_IN, "type" => crate::metrics::OTHER).increment(1);
                self.refuse_with(e.id, e.body)
            }
        }
    }
}

/// A frame over the hard cap: the socket library refused to read it.
fn is_capacity_error(e: axum::Error) -> bool {
    matches!(e.into_inner().downcast::<tungstenite::Error>().map(|e| *e), Ok(tungstenite::Error::Capacity(_)))
}

/// Drains the outbox to the socket, several frames per flush. `max_frame` is the largest frame the
/// socket's write buffer takes: the buffer is flushed before a frame that would not fit beside
/// what it holds, and a frame larger than that (a delivery; replies are checked when encoded) is
/// replaced by a `PAYLOAD_TOO_LARGE` error rather than ending the connection without a word.
async fn write_loop<W>(mut sink: W, mut rx: OutboxReceiver, outbox: Outbox, max_frame: usize) -> Written
where
    W: Sink<Message> + Unpin,
    W::Error: Display,
{
    let closed = outbox.closed().clone();
    // Bytes fed since the last flush.
    let mut buffered = 0usize;
    let mut write_failed = false;
    let mut frames = 0u64;
    'outer: loop {
        tokio::select! {
            biased;
            _ = closed.cancelled() => break,
            frame = rx.recv() => {
                let Some(first) = frame else { break };
                let mut first = Some(first);
                // Whatever else is queued goes out in the same flush.
                for _ in 0..WRITE_BATCH {
                    let mut frame = match first.take() {
                        Some(frame) => frame,
                        None => match rx.try_recv() {
                            Some(frame) => frame,
                            None => break,
                        },
                    };
                    if frame.len() > max_frame {
                        frame = too_large(None, frame.len(), max_frame);
                    }
                    if buffered > 0 && buffered.saturating_add(frame.len() + FRAME_HEADER_ROOM) > max_frame {
                        if let Err(e) = sink.flush().await {
                            tracing::debug!(error = %e, "socket flush failed");
                            write_failed = true;
                            break 'outer;
                        }
                        buffered = 0;
                    }
                    buffered += frame.len() + FRAME_HEADER_ROOM;
                    let kind = crate::metrics::server_frame_type(&frame);
                    if let Err(e) = sink.feed(Message::Text(frame)).await {
                        tracing::debug!(error = %e, "socket write failed");
                        write_failed = true;
                        break 'outer;
                    }
                    count_out(kind, &mut frames);
                }
                if let Err(e) = sink.flush().await {
                    tracing::debug!(error = %e, "socket flush failed");
                    write_failed = true;
                    break;
                }
                buffered = 0;
            }
        }
    }
    // Closing is done once per connection, and its state would otherwise widen every idle
    // connection's writer task (which is sized for its largest state): it is boxed.
    Box::pin(close_out(sink, rx, outbox, max_frame, buffered, frames, write_failed)).await
}

/// The writer's end: the close code for the reason the connection is closing, after the frames
/// still queued (unless the client is too slow for them). `buffered` bytes are fed but not flushed.
async fn close_out<W>(
    mut sink: W,
    mut rx: OutboxReceiver,
    outbox: Outbox,
    max_frame: usize,
    mut buffered: usize,
    mut frames: u64,
    write_failed: bool,
) -> Written
where
    W: Sink<Message> + Unpin,
    W::Error: Display,
{
    let closed = outbox.closed().clone();
    if write_failed {
        // Usually the client closed first (the socket then refuses frames): its close is echoed
        // only once the session has ended (unregistered, offline), so a client whose close
        // completed is gone everywhere. A peer that vanished instead is given up on shortly.
        let _ = tokio::time::timeout(CLOSE_GRACE, closed.cancelled()).await;
    }
    // Whatever ended the writer ends the session too (the reader watches the same token).
    outbox.closed().cancel();
    let reason = outbox.close_reason();
    let (code, text) = match reason {
        None => (1000, ""),
        Some(CloseReason::Shutdown) => (1001, "server shutting down"),
        Some(CloseReason::FrameTooLarge) => (1009, "frame too large"),
        Some(CloseReason::HeartbeatTimeout) => (CLOSE_HEARTBEAT_TIMEOUT, "heartbeat timeout"),
        Some(CloseReason::SlowConsumer) => (CLOSE_SLOW_CONSUMER, "slow consumer"),
        Some(CloseReason::SessionRevoked) => (CLOSE_SESSION_REVOKED, "session revoked"),
        Some(CloseReason::Banned) => (CLOSE_BANNED, "account suspended"),
    };
    let finish = async {
        let frames = &mut frames;
        // Replies already queued (acks of committed sends, a last error) still go out, except to a
        // client that is too slow to take them.
        if reason != Some(CloseReason::SlowConsumer) {
            while let Some(mut frame) = rx.try_recv() {
                if frame.len() > max_frame {
                    frame = too_large(None, frame.len(), max_frame);
                }
                if buffered > 0 && buffered.saturating_add(frame.len() + FRAME_HEADER_ROOM) > max_frame {
                    if sink.flush().await.is_err() {
                        return;
                    }
                    buffered = 0;
                }
                buffered += frame.len() + FRAME_HEADER_ROOM;
                let kind = crate::metrics::server_frame_type(&frame);
                if sink.feed(Message::Text(frame)).await.is_err() {
                    return;
                }
                count_out(kind, frames);
            }
        }
        if sink.send(Message::Close(Some(CloseFrame { code, reason: text.into() }))).await.is_err() {
            // The client closed first: the socket refuses a second close frame but sends its
            // echo of the client's on flush, which completes the handshake (a clean close).
            let _ = sink.close().await;
        }
    };
    let _ = tokio::time::timeout(CLOSE_GRACE, finish).await;
    Written { frames, close_code: code }
}

/// Counts a frame handed to the socket.
fn count_out(kind: crate::metrics::ServerFrameType, frames: &mut u64) {
    crate::metrics::count_frame_out(kind);
    *frames += 1;
}
