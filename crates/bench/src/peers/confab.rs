//! Confab through its own SDK: REST to register and open conversations, one WebSocket per user.

use std::net::IpAddr;

use anyhow::{bail, Context};
use async_trait::async_trait;
use confab_client::ws::{ConnectionReader, ConnectionWriter};
use confab_client::{Client, Connection};
use confab_proto::frames::SendPayload;
use confab_proto::{ClientEnvelope, ClientFrame, Content, ServerEnvelope, ServerFrame};
use futures_util::stream::{SplitSink, SplitStream, StreamExt};
use futures_util::SinkExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::{body, sent_time, set_up, Account, Endpoint, Event, Receiver, Sender, System};
use crate::corpus::{self, Rng};
use crate::users::{self, BenchUser};

pub struct Confab;

struct ConfabSender {
    writer: ConnectionWriter,
    conversation_id: String,
    /// Distinguishes this sender's message ids from its peer's.
    who: String,
    body: Body,
}

/// What a benchmark's messages say.
pub enum Body {
    /// The send time and sequence number, padded with `x` to this many bytes (see [`body`]).
    Padded(usize),
    /// Chat-like words ([`corpus::text`]), from a stream seeded by the sender.
    Chat(Rng),
}

impl Body {
    fn text(&mut self, sent_us: u64, seq: u64) -> String {
        match self {
            Body::Padded(bytes) => body(sent_us, seq, *bytes),
            Body::Chat(rng) => corpus::text(rng, seq as usize),
        }
    }
}

struct ConfabReceiver {
    reader: ConnectionReader,
}

/// A Confab connection as a benchmark endpoint sending into `conversation_id`.
pub fn endpoint(connection: Connection, conversation_id: &str, who: String, body: Body) -> Endpoint {
    let (writer, reader) = connection.split();
    Endpoint {
        sender: Box::new(ConfabSender { writer, conversation_id: conversation_id.to_string(), who, body }),
        receiver: Box::new(ConfabReceiver { reader }),
    }
}

/// Message ids carry the send time too, so an ack alone tells the ack latency: `b<µs>-<who>-<seq>`.
fn message_id(sent_us: u64, who: &str, seq: u64) -> String {
    format!("b{sent_us}-{who}-{seq}")
}

fn ack_sent_time(message_id: &str) -> Option<u64> {
    message_id.strip_prefix('b')?.split('-').next()?.parse().ok()
}

#[async_trait]
impl Sender for ConfabSender {
    async fn send(&mut self, sent_us: u64, seq: u64) -> anyhow::Result<()> {
        let frame = send_frame(&self.conversation_id, &mut self.body, &self.who, sent_us, seq);
        self.writer.send(frame).await?;
        Ok(())
    }
}

/// The `message.send` of message `seq` sent at `sent_us`.
fn send_frame(conversation_id: &str, body: &mut Body, who: &str, sent_us: u64, seq: u64) -> ClientFrame {
    ClientFrame::MessageSend(SendPayload {
        message_id: Some(message_id(sent_us, who, seq)),
        conversation_id: conversation_id.to_string(),
        content: serde_json::json!({"type": "text", "text": body.text(sent_us, seq)}),
        reply_to: None,
        expires_in_seconds: None,
    })
}

/// What a Confab frame means to a benchmark.
pub fn classify(frame: &ServerEnvelope) -> Event {
    match &frame.frame {
        ServerFrame::MessageAck(ack) => match ack_sent_time(&ack.message_id) {
            Some(sent_us) => Event::Ack { sent_us },
            None => Event::Other,
        },
        ServerFrame::MessageNew(m) => match &m.content {
            Content::Text { text } => match sent_time(text) {
                Some(sent_us) => Event::Delivered { sent_us },
                None => Event::Other,
            },
            _ => Event::Other,
        },
        ServerFrame::Error(e) => Event::Error(format!("{}: {}", e.error, e.message)),
        _ => Event::Other,
    }
}

#[async_trait]
impl Receiver for ConfabReceiver {
    async fn next(&mut self) -> anyhow::Result<Event> {
        let frame = self.reader.next_frame().await?;
        Ok(classify(&frame))
    }
}

#[async_trait]
impl System for Confab {
    fn name(&self) -> &'static str {
        "confab"
    }

    fn acks(&self) -> bool {
        true
    }

    fn durability_note(&self) -> &'static str {
        "Confab acknowledges a message after its SQLite (WAL) group commit with fsync, then fans it out"
    }

    async fn pairs(
        &self,
        urls: &[String],
        n: usize,
        body_bytes: usize,
        concurrency: usize,
        quiet: bool,
    ) -> anyhow::Result<Vec<(Endpoint, Endpoint)>> {
        let first = urls.first().context("no URL")?;
        let last = urls.last().context("no URL")?;
        let users = users::register(first, "lat", 2 * n, concurrency, quiet).await?;
        let couples: Vec<(usize, (BenchUser, BenchUser))> =
            users.chunks(2).map(|c| (c[0].clone(), c[1].clone())).enumerate().collect();
        let pairs = set_up(couples, concurrency, "connecting", quiet, |(i, (a, b))| async move {
            let (conv, _) = Client::new(first).with_token(&a.token).open_direct(&b.id).await?;
            let ca = Connection::connect(first, &a.token, "bench").await?;
            let cb = Connection::connect(last, &b.token, "bench").await?;
            let id = &conv.conversation_id;
            anyhow::Ok((
                endpoint(ca, id, format!("{i}a"), Body::Padded(body_bytes)),
                endpoint(cb, id, format!("{i}b"), Body::Padded(body_bytes)),
            ))
        })
        .await?;
        Ok(pairs)
    }

    async fn accounts(
        &self,
        url: &str,
        n: usize,
        concurrency: usize,
        quiet: bool,
    ) -> anyhow::Result<Vec<Account>> {
        let users = users::register(url, "idle", n, concurrency, quiet).await?;
        Ok(users.into_iter().map(|u| Account { name: u.id, secret: u.token }).collect())
    }

    async fn idle_connection(
        &self,
        url: &str,
        account: &Account,
        device: usize,
        local: Option<IpAddr>,
    ) -> anyhow::Result<Box<dyn Send>> {
        Ok(Box::new(connect_raw(url, &account.secret, &format!("d{device}"), local).await?))
    }
}

/// A WebSocket to Confab as `token`'s user, from source address `local`, once the server's
/// `connected` frame has arrived (the token was accepted).
async fn connect_raw(
    url: &str,
    token: &str,
    device: &str,
    local: Option<IpAddr>,
) -> anyhow::Result<WebSocketStream<TcpStream>> {
    let ws_url = confab_client::ws::ws_url(url, token, device);
    let mut ws = super::ws_connect(&ws_url, local, None).await?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => match ServerEnvelope::parse(&text) {
                Ok(Some(ServerEnvelope { frame: ServerFrame::Connected(_), .. })) => return Ok(ws),
                Ok(_) => continue,
                Err(e) => bail!("unreadable first frame: {}", e.body.message),
            },
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.into()),
            None => bail!("closed before `connected`"),
        }
    }
}

/// A Confab connection read without decoding frames into `confab_proto` types, for scenarios
/// where the load generator reads far more frames than the server handles sends (fan-out): a
/// frame is classified by scanning its text ([`classify_text`]), which costs a fraction of
/// parsing it, so the generator's single core keeps up with the server's. Sends are the same
/// frames the SDK writes.
pub async fn lean_endpoint(
    url: &str,
    token: &str,
    conversation_id: &str,
    who: String,
    body: Body,
) -> anyhow::Result<Endpoint> {
    let (sink, stream) = connect_raw(url, token, "bench", None).await?.split();
    Ok(Endpoint {
        sender: Box::new(LeanSender {
            sink,
            next_id: 0,
            conversation_id: conversation_id.to_string(),
            who,
            body,
        }),
        receiver: Box::new(LeanReceiver { stream }),
    })
}

struct LeanSender {
    sink: SplitSink<WebSocketStream<TcpStream>, Message>,
    next_id: u64,
    conversation_id: String,
    who: String,
    body: Body,
}

#[async_trait]
impl Sender for LeanSender {
    async fn send(&mut self, sent_us: u64, seq: u64) -> anyhow::Result<()> {
        self.next_id += 1;
        let frame = send_frame(&self.conversation_id, &mut self.body, &self.who, sent_us, seq);
        let text = ClientEnvelope::new(Some(self.next_id.to_string()), frame).to_json();
        self.sink.send(Message::Text(text.into())).await?;
        Ok(())
    }
}

struct LeanReceiver {
    stream: SplitStream<WebSocketStream<TcpStream>>,
}

#[async_trait]
impl Receiver for LeanReceiver {
    async fn next(&mut self) -> anyhow::Result<Event> {
        loop {
            match self.stream.next().await {
                Some(Ok(Message::Text(text))) => return Ok(classify_text(&text)),
                Some(Ok(Message::Close(frame))) => bail!("closed by the server: {frame:?}"),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
                None => bail!("connection closed"),
            }
        }
    }
}

/// What a Confab frame means to a benchmark, read off its text: the envelope's `type` is the
/// first `"type":"…"` in it (the envelope's keys come before its payload, and a quote inside a
/// string is escaped, so no string can contain that pattern), a delivery's send time is the
/// first `bench:<µs>:` (only the message text holds one) and an ack's is its `messageId`.
pub fn classify_text(text: &str) -> Event {
    const TYPE: &str = "\"type\":\"";
    const MESSAGE_ID: &str = "\"messageId\":\"";
    let Some(start) = text.find(TYPE).map(|i| i + TYPE.len()) else { return Event::Other };
    let kind = text[start..].split('"').next().unwrap_or_default();
    match kind {
        "message.new" => sent_time(text).map_or(Event::Other, |sent_us| Event::Delivered { sent_us }),
        "message.ack" => text
            .find(MESSAGE_ID)
            .and_then(|i| ack_sent_time(&text[i + MESSAGE_ID.len()..]))
            .map_or(Event::Other, |sent_us| Event::Ack { sent_us }),
        "error" => Event::Error(text.to_string()),
        _ => Event::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scan reads the server's frames as a full parse does.
    #[test]
    fn frames_classify_the_same_scanned_or_parsed() {
        use confab_proto::{ErrorBody, ErrorCode, Message as ChatMessage, MessageAck};
        let text = body(1_700_000, 3, 100);
        let new = ChatMessage::new(
            message_id(1_700_000, "m2", 3),
            "conv-1".into(),
            "user-2".into(),
            Content::Text { text },
            7,
            1,
        );
        let frames = [
            ServerEnvelope::new(None, ServerFrame::MessageNew(new)),
            ServerEnvelope::new(
                Some("12".into()),
                ServerFrame::MessageAck(MessageAck {
                    message_id: message_id(1_800_000, "m1", 4),
                    conversation_id: "conv-1".into(),
                    sequence_number: 8,
                    timestamp: 2,
                }),
            ),
            ServerEnvelope::new(
                Some("13".into()),
                ServerFrame::Error(ErrorBody::new(ErrorCode::RateLimited, "slow")),
            ),
            ServerEnvelope::new(
                Some("\"type\":\"message.new\"".into()),
                ServerFrame::HeartbeatAck(confab_proto::frames::HeartbeatAckPayload { server_time: 5 }),
            ),
        ];
        let mut scanned = Vec::new();
        for frame in frames {
            let json = frame.to_json();
            let event = classify_text(&json);
            match (&event, classify(&frame)) {
                (Event::Error(text), Event::Error(_)) => assert_eq!(text, &json),
                (event, parsed) => assert_eq!(event, &parsed, "{json}"),
            }
            scanned.push(event);
        }
        assert_eq!(scanned[0], Event::Delivered { sent_us: 1_700_000 });
        assert_eq!(scanned[1], Event::Ack { sent_us: 1_800_000 });
        assert!(matches!(scanned[2], Event::Error(_)));
        assert_eq!(scanned[3], Event::Other);
        assert_eq!(classify_text("not json"), Event::Other);
    }

    #[test]
    fn ack_ids_carry_the_send_time() {
        assert_eq!(ack_sent_time(&message_id(42, "3a", 9)), Some(42));
        assert_eq!(ack_sent_time("other"), None);
    }
}
