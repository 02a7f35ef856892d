//! The Socket.IO chat server of `bench/peers/socketio/`: engine.io v4 over WebSocket only.
//!
//! Frames: `0{…}` open; the client joins the default namespace with `40{"user": NAME}` (the
//! server puts the socket in the room of that user); `42["chat",{to,id,text}]` sends; the server
//! answers `42["ack",ID]` once the message is appended and fsynced, and emits
//! `42["chat",{from,id,text}]` to the recipient's room. Pings (`2`) are answered with `3`.

use std::net::IpAddr;
use std::sync::Arc;

use anyhow::{bail, Context};
use async_trait::async_trait;
use futures_util::stream::{SplitSink, SplitStream, StreamExt};
use futures_util::SinkExt;
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::{
    body, sent_time, set_up, ws_base, ws_connect, Account, Endpoint, Event, Receiver, Sender, System,
};
use crate::users;

type Ws = WebSocketStream<TcpStream>;
type SharedSink = Arc<Mutex<SplitSink<Ws, Message>>>;

pub struct SocketIo;

/// Connects and joins the default namespace as `user`.
async fn connect(url: &str, user: &str, local: Option<IpAddr>) -> anyhow::Result<Ws> {
    let ws_url = format!("{}/socket.io/?EIO=4&transport=websocket", ws_base(url));
    let mut ws = ws_connect(&ws_url, local, None).await?;
    let open = next_text(&mut ws).await?;
    if !open.starts_with('0') {
        bail!("expected an engine.io open packet, got {open:.80}");
    }
    ws.send(Message::Text(format!("40{}", serde_json::json!({ "user": user })).into())).await?;
    loop {
        let text = next_text(&mut ws).await?;
        if text.starts_with("40") {
            return Ok(ws);
        }
        if text.starts_with("44") {
            bail!("namespace connect refused: {text:.120}");
        }
        if text == "2" {
            ws.send(Message::Text("3".into())).await?;
        }
    }
}

async fn next_text(ws: &mut Ws) -> anyhow::Result<String> {
    let wait = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => return Ok(t.to_string()),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(anyhow::Error::from(e)),
                None => bail!("connection closed"),
            }
        }
    });
    wait.await.context("timed out waiting for the server")?
}

struct SioSender {
    sink: SharedSink,
    to: String,
    who: String,
    body_bytes: usize,
}

struct SioReceiver {
    sink: SharedSink,
    stream: SplitStream<Ws>,
}

#[async_trait]
impl Sender for SioSender {
    async fn send(&mut self, sent_us: u64, seq: u64) -> anyhow::Result<()> {
        let id = format!("b{sent_us}-{}-{seq}", self.who);
        let payload = serde_json::json!(["chat", {"to": self.to, "id": id, "text": body(sent_us, seq, self.body_bytes)}]);
        self.sink.lock().await.send(Message::Text(format!("42{payload}").into())).await?;
        Ok(())
    }
}

/// What a Socket.IO frame means to a benchmark.
pub fn classify(text: &str) -> Event {
    if let Some(rest) = text.strip_prefix("42[\"ack\",\"b") {
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        return digits.parse().map(|sent_us| Event::Ack { sent_us }).unwrap_or(Event::Other);
    }
    if text.starts_with("42[\"chat\"") {
        return sent_time(text).map(|sent_us| Event::Delivered { sent_us }).unwrap_or(Event::Other);
    }
    if text.starts_with("42[\"error\"") {
        return Event::Error(text.to_string());
    }
    Event::Other
}

#[async_trait]
impl Receiver for SioReceiver {
    async fn next(&mut self) -> anyhow::Result<Event> {
        loop {
            match self.stream.next().await {
                Some(Ok(Message::Text(text))) => {
                    if text.as_str() == "2" {
                        self.sink.lock().await.send(Message::Text("3".into())).await?;
                        continue;
                    }
                    return Ok(classify(&text));
                }
                Some(Ok(Message::Close(_))) | None => bail!("connection closed"),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
            }
        }
    }
}

fn endpoint(ws: Ws, to: String, who: String, body_bytes: usize) -> Endpoint {
    let (sink, stream) = ws.split();
    let sink = Arc::new(Mutex::new(sink));
    Endpoint {
        sender: Box::new(SioSender { sink: sink.clone(), to, who, body_bytes }),
        receiver: Box::new(SioReceiver { sink, stream }),
    }
}

#[async_trait]
impl System for SocketIo {
    fn name(&self) -> &'static str {
        "socketio"
    }

    fn acks(&self) -> bool {
        true
    }

    fn durability_note(&self) -> &'static str {
        "the Socket.IO server appends each message to a file and acknowledges/delivers after an fsync \
         shared by every message that arrived meanwhile (group commit); no sequence numbers, no history API"
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
        let tag = users::run_tag();
        let pairs = set_up(0..n, concurrency, "connecting", quiet, |i| {
            let (a, b) = (format!("a{tag}{i}"), format!("b{tag}{i}"));
            async move {
                let wa = connect(first, &a, None).await?;
                let wb = connect(last, &b, None).await?;
                anyhow::Ok((
                    endpoint(wa, b.clone(), format!("{i}a"), body_bytes),
                    endpoint(wb, a.clone(), format!("{i}b"), body_bytes),
                ))
            }
        })
        .await?;
        Ok(pairs)
    }

    async fn accounts(&self, _url: &str, n: usize, _: usize, _: bool) -> anyhow::Result<Vec<Account>> {
        let tag = users::run_tag();
        Ok((0..n).map(|i| Account { name: format!("idle{tag}{i}"), secret: String::new() }).collect())
    }

    async fn idle_connection(
        &self,
        url: &str,
        account: &Account,
        device: usize,
        local: Option<IpAddr>,
    ) -> anyhow::Result<Box<dyn Send>> {
        let ws = connect(url, &format!("{}-{device}", account.name), local).await?;
        Ok(Box::new(ws))
    }
}
