//! A WebSocket connection to `/ws`: typed frames out, typed frames in.
//!
//! Frames that arrive while the caller waits for something else are kept, in order, so waiting for
//! an ack never loses a `message.new`. The connection does not heartbeat by itself: call
//! [`Connection::heartbeat`] at the `heartbeatInterval` the server announced (or use
//! [`Connection::split`] and drive the halves from separate tasks).

use std::collections::VecDeque;
use std::time::Duration;

use confab_proto::frames::{ConnectedPayload, EditPayload, MessageRefPayload, ReactionPayload, SendPayload};
use confab_proto::{
    ClientEnvelope, ClientFrame, Message as ChatMessage, MessageAck, ServerEnvelope, ServerFrame,
};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::{ClientError, Result};

type Stream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long helpers wait for a reply by default.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);

/// The sending half of a connection.
pub struct ConnectionWriter {
    sink: SplitSink<Stream, Message>,
    next_id: u64,
}

/// The receiving half of a connection.
pub struct ConnectionReader {
    stream: SplitStream<Stream>,
    buffered: VecDeque<ServerEnvelope>,
}

pub struct Connection {
    pub writer: ConnectionWriter,
    pub reader: ConnectionReader,
    /// The server's `connected` frame.
    pub connected: ConnectedPayload,
}

/// `http://host:port` (or `ws://…`) → `ws://host:port/ws?token=…&device_id=…`.
pub fn ws_url(base: &str, token: &str, device_id: &str) -> String {
    let base = base.trim_end_matches('/');
    let base = if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else {
        base.to_string()
    };
    format!("{base}/ws?token={token}&device_id={device_id}")
}

impl Connection {
    /// Connects, and waits for the `connected` frame. A refused token is `ClientError::Api` (401).
    /// An `https://` (or `wss://`) base is checked against the system's roots.
    pub async fn connect(base: &str, token: &str, device_id: &str) -> Result<Connection> {
        Self::connect_with(base, token, device_id, None).await
    }

    /// [`Connection::connect`] to a server whose certificate `roots` vouch for (besides the
    /// system's roots).
    pub async fn connect_with_roots(
        base: &str,
        token: &str,
        device_id: &str,
        roots: &crate::Roots,
    ) -> Result<Connection> {
        Self::connect_with(base, token, device_id, Some(roots)).await
    }

    async fn connect_with(
        base: &str,
        token: &str,
        device_id: &str,
        roots: Option<&crate::Roots>,
    ) -> Result<Connection> {
        let request = ws_url(base, token, device_id).into_client_request()?;
        // Small buffers: a client needs no more, and a load generator opens thousands.
        let config = WebSocketConfig::default().read_buffer_size(16 * 1024).write_buffer_size(0);
        let secure = request.uri().scheme_str() == Some("wss");
        let connector = if secure {
            let roots = roots.cloned().unwrap_or_default();
            Some(tokio_tungstenite::Connector::Rustls(roots.rustls_config()?))
        } else {
            None
        };
        let connecting =
            tokio_tungstenite::connect_async_tls_with_config(request, Some(config), true, connector);
        let (stream, _) = match connecting.await {
            Ok(ok) => ok,
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                let status = resp.status().as_u16();
                let body = resp.body().as_deref().unwrap_or_default();
                return Err(match serde_json::from_slice(body) {
                    Ok(body) => ClientError::Api { status, body },
                    Err(_) => ClientError::Protocol(format!("upgrade refused with {status}")),
                });
            }
            Err(e) => return Err(e.into()),
        };
        let (sink, stream) = stream.split();
        let mut reader = ConnectionReader { stream, buffered: VecDeque::new() };
        let connected = reader
            .wait_for(DEFAULT_WAIT, "connected", |f| match &f.frame {
                ServerFrame::Connected(c) => Some(c.clone()),
                _ => None,
            })
            .await?;
        Ok(Connection { writer: ConnectionWriter { sink, next_id: 0 }, reader, connected })
    }

    pub fn split(self) -> (ConnectionWriter, ConnectionReader) {
        (self.writer, self.reader)
    }

    /// Sends a frame with a fresh request id, which is returned.
    pub async fn send(&mut self, frame: ClientFrame) -> Result<String> {
        self.writer.send(frame).await
    }

    pub async fn send_raw(&mut self, text: &str) -> Result<()> {
        self.writer.send_raw(text).await
    }

    pub async fn next_frame(&mut self) -> Result<ServerEnvelope> {
        self.reader.next_frame().await
    }

    /// Waits up to `timeout` for a frame `pick` accepts; other frames stay queued for later reads.
    pub async fn wait_for<T>(
        &mut self,
        timeout: Duration,
        what: &str,
        pick: impl FnMut(&ServerEnvelope) -> Option<T>,
    ) -> Result<T> {
        self.reader.wait_for(timeout, what, pick).await
    }

    /// The reply (or `error` frame) carrying request id `id`.
    pub async fn reply_to(&mut self, id: &str) -> Result<ServerEnvelope> {
        self.reader
            .wait_for(DEFAULT_WAIT, &format!("reply to request {id}"), |f| {
                (f.id.as_deref() == Some(id)).then(|| f.clone())
            })
            .await
    }

    /// Sends a text message and waits for its `message.ack` (an `error` reply becomes `Api`).
    pub async fn send_text(
        &mut self,
        conversation_id: &str,
        message_id: &str,
        text: &str,
    ) -> Result<MessageAck> {
        let content = serde_json::json!({"type": "text", "text": text});
        self.send_message(conversation_id, message_id, content).await
    }

    pub async fn send_message(
        &mut self,
        conversation_id: &str,
        message_id: &str,
        content: serde_json::Value,
    ) -> Result<MessageAck> {
        self.send_reply(conversation_id, message_id, content, None).await
    }

    /// Sends a message replying to `reply_to` (a `messageId` of the same conversation) and waits
    /// for its `message.ack`.
    pub async fn send_reply(
        &mut self,
        conversation_id: &str,
        message_id: &str,
        content: serde_json::Value,
        reply_to: Option<&str>,
    ) -> Result<MessageAck> {
        self.send_payload(SendPayload {
            message_id: Some(message_id.into()),
            conversation_id: conversation_id.into(),
            content,
            reply_to: reply_to.map(Into::into),
            expires_in_seconds: None,
        })
        .await
    }

    /// Sends a disappearing message (it expires `expires_in_seconds` after it is stored) and
    /// waits for its `message.ack`.
    pub async fn send_expiring(
        &mut self,
        conversation_id: &str,
        message_id: &str,
        content: serde_json::Value,
        expires_in_seconds: u64,
    ) -> Result<MessageAck> {
        self.send_payload(SendPayload {
            message_id: Some(message_id.into()),
            conversation_id: conversation_id.into(),
            content,
            reply_to: None,
            expires_in_seconds: Some(expires_in_seconds),
        })
        .await
    }

    /// Sends `message.send` with every option of the payload and waits for its `message.ack`.
    pub async fn send_payload(&mut self, payload: SendPayload) -> Result<MessageAck> {
        let id = self.send(ClientFrame::MessageSend(payload)).await?;
        match self.reply_to(&id).await?.frame {
            ServerFrame::MessageAck(ack) => Ok(ack),
            ServerFrame::Error(body) => Err(ClientError::Api { status: body.error.http_status(), body }),
            other => Err(ClientError::Protocol(format!("unexpected reply {other:?}"))),
        }
    }

    /// `message.edit`: waits for the `message.updated` reply with the message as edited.
    pub async fn edit(
        &mut self,
        conversation_id: &str,
        message_id: &str,
        content: serde_json::Value,
    ) -> Result<ChatMessage> {
        let frame = ClientFrame::MessageEdit(EditPayload {
            conversation_id: conversation_id.into(),
            message_id: message_id.into(),
            content,
        });
        self.change(frame).await
    }

    /// `message.delete`: waits for the `message.updated` reply with the tombstone.
    pub async fn delete(&mut self, conversation_id: &str, message_id: &str) -> Result<ChatMessage> {
        let frame = ClientFrame::MessageDelete(MessageRefPayload {
            conversation_id: conversation_id.into(),
            message_id: message_id.into(),
            sender_id: None,
        });
        self.change(frame).await
    }

    /// `reaction.add` (`add`) or `reaction.remove`: waits for the `message.updated` reply.
    pub async fn react(
        &mut self,
        conversation_id: &str,
        message_id: &str,
        emoji: &str,
        add: bool,
    ) -> Result<ChatMessage> {
        let payload = ReactionPayload {
            conversation_id: conversation_id.into(),
            message_id: message_id.into(),
            emoji: emoji.into(),
            sender_id: None,
        };
        let frame =
            if add { ClientFrame::ReactionAdd(payload) } else { ClientFrame::ReactionRemove(payload) };
        self.change(frame).await
    }

    async fn change(&mut self, frame: ClientFrame) -> Result<ChatMessage> {
        let id = self.send(frame).await?;
        match self.reply_to(&id).await?.frame {
            ServerFrame::MessageUpdated(updated) => Ok(updated.message),
            ServerFrame::Error(body) => Err(ClientError::Api { status: body.error.http_status(), body }),
            other => Err(ClientError::Protocol(format!("unexpected reply {other:?}"))),
        }
    }

    pub async fn heartbeat(&mut self) -> Result<String> {
        self.send(ClientFrame::Heartbeat(Default::default())).await
    }

    /// Closes normally (1000): sends a close frame and waits for the server's, skipping frames
    /// still in flight. A server that drops the connection without answering is
    /// `ClientError::Protocol`: the close was not clean.
    pub async fn close(mut self) -> Result<()> {
        self.writer
            .sink
            .send(Message::Close(Some(CloseFrame { code: CloseCode::Normal, reason: "".into() })))
            .await?;
        while let Some(msg) = self.reader.stream.next().await {
            match msg {
                Ok(Message::Close(_)) => return Ok(()),
                Ok(_) => continue,
                Err(e) => return Err(ClientError::Protocol(format!("closed without a close frame: {e}"))),
            }
        }
        Err(ClientError::Protocol("closed without a close frame".into()))
    }
}

impl ConnectionWriter {
    pub async fn send(&mut self, frame: ClientFrame) -> Result<String> {
        self.next_id += 1;
        let id = self.next_id.to_string();
        let text = ClientEnvelope::new(Some(id.clone()), frame).to_json();
        self.sink.send(Message::Text(text.into())).await?;
        Ok(id)
    }

    pub async fn send_raw(&mut self, text: &str) -> Result<()> {
        self.sink.send(Message::Text(text.into())).await?;
        Ok(())
    }
}

impl ConnectionReader {
    /// The next frame: a queued one first, then from the socket. Unknown frame types are skipped.
    pub async fn next_frame(&mut self) -> Result<ServerEnvelope> {
        if let Some(frame) = self.buffered.pop_front() {
            return Ok(frame);
        }
        self.read_socket().await
    }

    async fn read_socket(&mut self) -> Result<ServerEnvelope> {
        loop {
            match self.stream.next().await {
                None => return Err(ClientError::Closed(None)),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(Message::Text(text))) => match ServerEnvelope::parse(&text) {
                    Ok(Some(frame)) => return Ok(frame),
                    Ok(None) => continue,
                    Err(e) => return Err(ClientError::Protocol(e.body.message)),
                },
                Some(Ok(Message::Close(frame))) => {
                    return Err(ClientError::Closed(frame.map(|f| u16::from(f.code))));
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Waits up to `timeout` for a frame `pick` accepts; other frames stay queued, in order.
    pub async fn wait_for<T>(
        &mut self,
        timeout: Duration,
        what: &str,
        mut pick: impl FnMut(&ServerEnvelope) -> Option<T>,
    ) -> Result<T> {
        if let Some(pos) = self.buffered.iter().position(|f| pick(f).is_some()) {
            let frame = self.buffered.remove(pos).expect("position is in range");
            return pick(&frame).ok_or_else(|| ClientError::Protocol("frame changed".into()));
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let frame = match tokio::time::timeout_at(deadline, self.read_socket()).await {
                Ok(frame) => frame?,
                Err(_) => return Err(ClientError::Timeout(what.to_string())),
            };
            if let Some(found) = pick(&frame) {
                return Ok(found);
            }
            self.buffered.push_back(frame);
        }
    }

    /// Frames read so far and not yet consumed.
    pub fn buffered(&self) -> impl Iterator<Item = &ServerEnvelope> {
        self.buffered.iter()
    }
}
