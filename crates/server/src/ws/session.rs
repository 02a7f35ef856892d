//! One WebSocket connection: a reader loop that parses and handles client frames, and a writer task
//! that drains the connection's bounded [`Outbox`] to the socket. Sends are pipelined: each
//! `message.send` is queued to the store at once (keeping this device's order) and answered when
//! durable, while the reader goes on reading, up to `max_inflight_sends`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use confab_core::ids::{new_id, now_millis};
use confab_core::Error;
use confab_proto::frames::{ConnectedPayload, HeartbeatAckPayload};
use confab_proto::{
    ClientEnvelope, ClientFrame, ErrorBody, MessageAck, PresenceStatus, ServerEnvelope, ServerFrame,
};
use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesOrdered, SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use governor::{DefaultDirectRateLimiter, RateLimiter};
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};

use crate::app::{message_quota, rate_limited, App};
use crate::hub::{CloseReason, ConnectionHandle, Outbox};
use crate::state::AppState;

/// Close codes the server uses besides the standard ones (documented in docs/protocol.md).
const CLOSE_HEARTBEAT_TIMEOUT: u16 = 4000;
const CLOSE_SLOW_CONSUMER: u16 = 4001;
/// Frames written to the socket before one flush.
const WRITE_BATCH: usize = 64;

fn encode(id: Option<String>, frame: ServerFrame) -> Utf8Bytes {
    ServerEnvelope::new(id, frame).to_json().into()
}

fn error_frame(id: Option<String>, body: ErrorBody) -> Utf8Bytes {
    encode(id, ServerFrame::Error(body))
}

struct Session {
    app: Arc<App>,
    user_id: String,
    connection_id: Arc<str>,
    outbox: Outbox,
    sends: DefaultDirectRateLimiter,
    /// Requests being handled; their replies go out in request order as they are yielded.
    pending: FuturesOrdered<BoxFuture<'static, Option<Utf8Bytes>>>,
    /// Conversations this device said it is typing in, to stop on disconnect.
    typing_in: Arc<parking_lot::Mutex<HashSet<String>>>,
}

pub async fn run(socket: WebSocket, state: AppState, user_id: String, device_id: String) {
    let app = state.app.clone();
    let connection_id: Arc<str> = new_id().into();
    let (outbox, rx) = Outbox::new(app.config.limits.outbound_queue);
    let (sink, stream) = socket.split();

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
    app.hub.register(
        &user_id,
        ConnectionHandle {
            connection_id: connection_id.clone(),
            device_id: device_id.into(),
            outbox: outbox.clone(),
        },
    );
    let writer = tokio::spawn(write_loop(sink, rx, outbox.clone()));

    app.presence.connect(&user_id, &connection_id);
    let mut session = Session {
        sends: RateLimiter::direct(message_quota(&app.config)),
        app: app.clone(),
        user_id,
        connection_id,
        outbox: outbox.clone(),
        pending: FuturesOrdered::new(),
        typing_in: Default::default(),
    };
    session.send_presence_bulk();
    let reason = session.read_loop(stream).await;
    tracing::debug!(connection = %session.connection_id, ?reason, outbox = ?outbox.close_reason(), "session ending");
    // Sends already queued to the store complete and are answered before the socket closes.
    while let Some(reply) = session.pending.next().await {
        if let Some(frame) = reply {
            outbox.push(frame);
        }
    }
    app.hub.unregister(&session.user_id, &session.connection_id);
    let typing_in: Vec<String> = session.typing_in.lock().drain().collect();
    for conversation in typing_in {
        app.typing.stop(&app, &conversation, &session.user_id);
    }
    app.presence.disconnect(&session.user_id, &session.connection_id).await;
    match reason {
        Some(reason) => outbox.close(reason),
        None => outbox.closed().cancel(),
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
}

impl Session {
    /// On connect: watch every user sharing a conversation (capped) and send their presence.
    fn send_presence_bulk(&mut self) {
        let (app, outbox, user, connection) =
            (self.app.clone(), self.outbox.clone(), self.user_id.clone(), self.connection_id.clone());
        self.pending.push_back(Box::pin(async move {
            let result = async {
                let contacts = app.store.contacts_of(&user, app.config.limits.presence_bulk_cap).await?;
                app.presence.watch(&connection, &outbox, &contacts, None).await
            }
            .await;
            if let Err(e) = result {
                tracing::warn!(error = %e, "presence.bulk not sent");
            }
            None
        }));
    }

    /// Runs `work` in order with this connection's other requests; its error becomes an `error`
    /// frame carrying the request id.
    fn spawn_request<F>(&mut self, id: Option<String>, work: F)
    where
        F: std::future::Future<Output = Result<Option<ServerFrame>, Error>> + Send + 'static,
    {
        self.pending.push_back(Box::pin(async move {
            match work.await {
                Ok(Some(frame)) => Some(encode(id, frame)),
                Ok(None) => None,
                Err(e) => Some(error_frame(id, e.body())),
            }
        }));
    }

    /// Reads until the client goes away or the server closes the connection; returns why the server
    /// closed it (`None` when the client did).
    async fn read_loop(&mut self, mut stream: SplitStream<WebSocket>) -> Option<CloseReason> {
        let timeout = self.app.config.heartbeat_interval * 3;
        let max_inflight = self.app.config.limits.max_inflight_sends.max(1);
        let mut deadline = Instant::now() + timeout;
        let shutdown = self.app.shutdown.clone();
        let closed = self.outbox.closed().clone();
        loop {
            tokio::select! {
                biased;
                _ = closed.cancelled() => return None,
                _ = shutdown.cancelled() => return Some(CloseReason::Shutdown),
                Some(reply) = self.pending.next(), if !self.pending.is_empty() => {
                    if let Some(frame) = reply {
                        self.outbox.push(frame);
                    }
                }
                _ = sleep_until(deadline) => return Some(CloseReason::HeartbeatTimeout),
                incoming = stream.next(), if self.pending.len() < max_inflight => match incoming {
                    None | Some(Ok(Message::Close(_))) => return None,
                    Some(Ok(Message::Text(text))) => {
                        deadline = Instant::now() + timeout;
                        self.handle_text(&text);
                    }
                    Some(Ok(Message::Binary(_))) => {
                        deadline = Instant::now() + timeout;
                        self.reply_error(None, Error::InvalidRequest("binary frames are not supported; send JSON text frames".into()));
                    }
                    // Control frames are the network library's, not a sign the application is alive.
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Err(e)) => {
                        if is_capacity_error(e) {
                            self.reply_error(None, Error::PayloadTooLarge(format!(
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

    fn reply(&self, frame: Utf8Bytes) {
        self.outbox.push(frame);
    }

    fn reply_error(&self, id: Option<String>, error: Error) {
        self.reply(error_frame(id, error.body()));
    }

    fn handle_text(&mut self, text: &str) {
        let limit = self.app.config.limits.max_frame_bytes;
        if text.len() > limit {
            let id = ClientEnvelope::peek_id(text);
            self.reply_error(id, Error::PayloadTooLarge(format!("frame is over {limit} bytes")));
            return;
        }
        let envelope = match ClientEnvelope::parse(text) {
            Ok(envelope) => envelope,
            Err(e) => {
                self.reply(error_frame(e.id, e.body));
                return;
            }
        };
        let id = envelope.id;
        match envelope.frame {
            ClientFrame::MessageSend(p) => {
                if let Err(not_until) = self.sends.check() {
                    self.reply_error(id, rate_limited(not_until));
                    return;
                }
                let appended = self.app.send_message(
                    &self.user_id,
                    &p.conversation_id,
                    p.message_id,
                    &p.content,
                    Some(self.connection_id.clone()),
                );
                self.pending.push_back(Box::pin(async move {
                    let frame = match appended.await {
                        Ok(a) => encode(
                            id,
                            ServerFrame::MessageAck(MessageAck {
                                message_id: a.message.message_id,
                                conversation_id: a.message.conversation_id,
                                sequence_number: a.message.sequence_number,
                                timestamp: a.message.timestamp,
                            }),
                        ),
                        Err(e) => error_frame(id, e.body()),
                    };
                    Some(frame)
                }));
            }
            ClientFrame::Heartbeat(_) => {
                // Answered in order with the requests before it, so a client can use a heartbeat
                // to know its earlier frames were handled.
                self.spawn_request(id, async move {
                    Ok(Some(ServerFrame::HeartbeatAck(HeartbeatAckPayload { server_time: now_millis() })))
                });
            }
            ClientFrame::Sync(request) => {
                let (app, user) = (self.app.clone(), self.user_id.clone());
                self.spawn_request(id, async move {
                    Ok(Some(ServerFrame::SyncResult(app.sync(&user, &request).await?)))
                });
            }
            ClientFrame::MessageReceived(p) => {
                let (app, user) = (self.app.clone(), self.user_id.clone());
                self.spawn_request(id, async move {
                    app.received(&p.conversation_id, &user, p.up_to_sequence).await?;
                    Ok(None)
                });
            }
            ClientFrame::MessageRead(p) => {
                let (app, user, origin) =
                    (self.app.clone(), self.user_id.clone(), self.connection_id.clone());
                self.spawn_request(id, async move {
                    app.mark_read(&p.conversation_id, &user, p.up_to_sequence, Some(origin)).await?;
                    Ok(None)
                });
            }
            ClientFrame::TypingStart(p) | ClientFrame::TypingStop(p) if p.conversation_id.is_empty() => {
                self.reply_error(id, Error::InvalidRequest("`conversationId` must not be empty".into()));
            }
            ClientFrame::TypingStart(p) => {
                let (app, user, typing_in) = (self.app.clone(), self.user_id.clone(), self.typing_in.clone());
                self.spawn_request(id, async move {
                    app.members.require(&app.store, &p.conversation_id, &user).await?;
                    typing_in.lock().insert(p.conversation_id.clone());
                    app.typing.start(&app, &p.conversation_id, &user);
                    Ok(None)
                });
            }
            ClientFrame::TypingStop(p) => {
                let (app, user, typing_in) = (self.app.clone(), self.user_id.clone(), self.typing_in.clone());
                self.spawn_request(id, async move {
                    app.members.require(&app.store, &p.conversation_id, &user).await?;
                    typing_in.lock().remove(&p.conversation_id);
                    app.typing.stop(&app, &p.conversation_id, &user);
                    Ok(None)
                });
            }
            ClientFrame::PresenceSubscribe(p) => {
                let cap = self.app.config.limits.presence_bulk_cap as usize;
                if p.user_ids.len() > cap {
                    self.reply_error(
                        id,
                        Error::InvalidRequest(format!("at most {cap} userIds per subscribe")),
                    );
                    return;
                }
                if let Some(bad) =
                    p.user_ids.iter().find(|u| confab_core::validate::client_id("userIds", u).is_err())
                {
                    self.reply_error(id, Error::InvalidRequest(format!("invalid user id `{bad}`")));
                    return;
                }
                let (app, outbox, connection) =
                    (self.app.clone(), self.outbox.clone(), self.connection_id.clone());
                // The bulk goes out from `watch` itself (with this request's id), so that updates
                // arriving meanwhile follow it.
                self.spawn_request(id.clone(), async move {
                    app.presence.watch(&connection, &outbox, &p.user_ids, id).await?;
                    Ok(None)
                });
            }
            ClientFrame::PresenceSet(p) => {
                let away = match p.status {
                    PresenceStatus::Away => true,
                    PresenceStatus::Online => false,
                    PresenceStatus::Offline => {
                        self.reply_error(id, Error::InvalidRequest("`status` must be online or away".into()));
                        return;
                    }
                };
                self.app.presence.set_away(&self.user_id, &self.connection_id, away);
            }
        }
    }
}

fn is_capacity_error(e: axum::Error) -> bool {
    matches!(e.into_inner().downcast::<tungstenite::Error>().map(|e| *e), Ok(tungstenite::Error::Capacity(_)))
}

async fn write_loop(
    mut sink: SplitSink<WebSocket, Message>,
    mut rx: mpsc::Receiver<Utf8Bytes>,
    outbox: Outbox,
) {
    let closed = outbox.closed().clone();
    'outer: loop {
        tokio::select! {
            biased;
            _ = closed.cancelled() => break,
            frame = rx.recv() => {
                let Some(frame) = frame else { break };
                if let Err(e) = sink.feed(Message::Text(frame)).await {
                    tracing::debug!(error = %e, "socket write failed");
                    break 'outer;
                }
                for _ in 1..WRITE_BATCH {
                    match rx.try_recv() {
                        Ok(frame) => {
                            if let Err(e) = sink.feed(Message::Text(frame)).await {
                                tracing::debug!(error = %e, "socket write failed");
                                break 'outer;
                            }
                        }
                        Err(_) => break,
                    }
                }
                if let Err(e) = sink.flush().await {
                    tracing::debug!(error = %e, "socket flush failed");
                    break;
                }
            }
        }
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
    };
    let finish = async {
        // Replies already queued (acks of committed sends, a last error) still go out, except to a
        // client that is too slow to take them.
        if reason != Some(CloseReason::SlowConsumer) {
            while let Ok(frame) = rx.try_recv() {
                if sink.feed(Message::Text(frame)).await.is_err() {
                    return;
                }
            }
        }
        let _ = sink.send(Message::Close(Some(CloseFrame { code, reason: text.into() }))).await;
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), finish).await;
}
