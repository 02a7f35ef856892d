//! Confab through its own SDK: REST to register and open conversations, one WebSocket per user.

use std::net::IpAddr;

use anyhow::{bail, Context};
use async_trait::async_trait;
use confab_client::ws::{ConnectionReader, ConnectionWriter};
use confab_client::{Client, Connection};
use confab_proto::frames::SendPayload;
use confab_proto::{ClientFrame, Content, ServerEnvelope, ServerFrame};
use futures_util::stream::StreamExt;
use tokio_tungstenite::tungstenite::Message;

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
        let frame = ClientFrame::MessageSend(SendPayload {
            message_id: Some(message_id(sent_us, &self.who, seq)),
            conversation_id: self.conversation_id.clone(),
            content: serde_json::json!({"type": "text", "text": self.body.text(sent_us, seq)}),
            reply_to: None,
            expires_in_seconds: None,
        });
        self.writer.send(frame).await?;
        Ok(())
    }
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
        let ws_url = confab_client::ws::ws_url(url, &account.secret, &format!("d{device}"));
        let mut ws = super::ws_connect(&ws_url, local, None).await?;
        // Authenticated once the server's `connected` frame has arrived.
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => match ServerEnvelope::parse(&text) {
                    Ok(Some(ServerEnvelope { frame: ServerFrame::Connected(_), .. })) => break,
                    Ok(_) => continue,
                    Err(e) => bail!("unreadable first frame: {}", e.body.message),
                },
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
                None => bail!("closed before `connected`"),
            }
        }
        Ok(Box::new(ws))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_ids_carry_the_send_time() {
        assert_eq!(ack_sent_time(&message_id(42, "3a", 9)), Some(42));
        assert_eq!(ack_sent_time("other"), None);
    }
}
