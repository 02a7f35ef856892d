//! The chat servers the latency and connections scenarios can drive, behind one small interface:
//! make pairs of connected users whose sends carry their send time, read what arrives, and open
//! idle authenticated connections.
//!
//! - [`confab`]: Confab's own protocol, through the `confab_client` SDK and `confab_proto` types;
//!   for fan-out, a lean reader that classifies frames by scanning their text
//!   ([`confab::lean_endpoint`]).
//! - [`socketio`]: the Socket.IO chat server in `bench/peers/socketio/` (engine.io v4 framing over
//!   WebSocket).
//! - [`xmpp`]: an XMPP server over WebSocket (RFC 7395), e.g. Prosody or ejabberd as set up by
//!   `bench/peers/run.sh`; users register in-band (XEP-0077).
//! - [`matrix`]: a Matrix homeserver's client-server API, e.g. Synapse as set up by
//!   `bench/peers/run.sh`: sends are HTTP requests, deliveries arrive through `/sync` long polls.
//!
//! Every message's text starts with `bench:<send time µs>:` so its recipient measures latency from
//! the text alone, whatever the protocol.

pub mod confab;
pub mod matrix;
pub mod socketio;
pub mod xmpp;

use std::net::{IpAddr, SocketAddr};

use anyhow::{bail, Context};
use async_trait::async_trait;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::WebSocketStream;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SystemKind {
    #[default]
    Confab,
    Socketio,
    Xmpp,
    Matrix,
}

impl SystemKind {
    pub fn name(self) -> &'static str {
        match self {
            SystemKind::Confab => "confab",
            SystemKind::Socketio => "socketio",
            SystemKind::Xmpp => "xmpp",
            SystemKind::Matrix => "matrix",
        }
    }

    pub fn system(self, xmpp_domain: &str) -> Box<dyn System> {
        match self {
            SystemKind::Confab => Box::new(confab::Confab),
            SystemKind::Socketio => Box::new(socketio::SocketIo),
            SystemKind::Xmpp => Box::new(xmpp::Xmpp { domain: xmpp_domain.to_string() }),
            SystemKind::Matrix => Box::new(matrix::Matrix),
        }
    }
}

/// What a connection's reader saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The server acknowledged (durably stored) a send made at `sent_us`.
    Ack { sent_us: u64 },
    /// A message sent at `sent_us` arrived.
    Delivered { sent_us: u64 },
    /// The server refused a send.
    Error(String),
    /// Anything else (presence, receipts, pings).
    Other,
}

/// The sending half of a benchmark user's connection; where it sends was fixed when it was made.
#[async_trait]
pub trait Sender: Send {
    /// Sends message number `seq` whose text carries `sent_us`.
    async fn send(&mut self, sent_us: u64, seq: u64) -> anyhow::Result<()>;
}

/// The receiving half.
#[async_trait]
pub trait Receiver: Send {
    async fn next(&mut self) -> anyhow::Result<Event>;
}

/// One user's connection, split.
pub struct Endpoint {
    pub sender: Box<dyn Sender>,
    pub receiver: Box<dyn Receiver>,
}

/// Credentials of a user of some system.
#[derive(Debug, Clone)]
pub struct Account {
    pub name: String,
    /// Token (Confab) or password (XMPP, Matrix); unused by Socket.IO.
    pub secret: String,
}

/// A chat server the bench can drive.
#[async_trait]
pub trait System: Send + Sync {
    fn name(&self) -> &'static str;
    /// Whether a send is acknowledged by the server (after storing it).
    fn acks(&self) -> bool;
    /// What this system's server does with a message before acknowledging or delivering it.
    fn durability_note(&self) -> &'static str;
    /// `n` pairs of connected users; each pair's first user on `urls[0]`, second on the last URL.
    /// Both users of a pair send to each other; `body_bytes` pads every text.
    async fn pairs(
        &self,
        urls: &[String],
        n: usize,
        body_bytes: usize,
        concurrency: usize,
        quiet: bool,
    ) -> anyhow::Result<Vec<(Endpoint, Endpoint)>>;
    /// `n` accounts that can each hold many idle connections.
    async fn accounts(
        &self,
        url: &str,
        n: usize,
        concurrency: usize,
        quiet: bool,
    ) -> anyhow::Result<Vec<Account>>;
    /// One idle authenticated connection of `account` (device/resource number `device`), from
    /// source address `local`. It stays open until the returned value is dropped.
    async fn idle_connection(
        &self,
        url: &str,
        account: &Account,
        device: usize,
        local: Option<IpAddr>,
    ) -> anyhow::Result<Box<dyn Send>>;
}

/// Runs `make` on every item, `concurrency` at a time, keeping their order, behind a progress bar
/// labelled `label` (pairs connecting, accounts registering); the first failure fails the set-up.
pub async fn set_up<I, T, Fut>(
    items: I,
    concurrency: usize,
    label: &str,
    quiet: bool,
    make: impl FnMut(I::Item) -> Fut,
) -> anyhow::Result<Vec<T>>
where
    I: IntoIterator,
    I::IntoIter: ExactSizeIterator,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let items = items.into_iter();
    let bar = crate::users::progress(items.len() as u64, label, quiet);
    let made = stream::iter(items)
        .map(make)
        .buffered(concurrency.max(1))
        .inspect_ok(|_| bar.inc(1))
        .try_collect()
        .await?;
    bar.finish_and_clear();
    Ok(made)
}

/// `bench:<sent_us>:<seq>:` plus padding up to `body_bytes`.
pub fn body(sent_us: u64, seq: u64, body_bytes: usize) -> String {
    let mut text = format!("bench:{sent_us}:{seq}:");
    while text.len() < body_bytes {
        text.push('x');
    }
    text
}

/// The send time in a text (or any frame) containing `bench:<sent_us>:`.
pub fn sent_time(text: &str) -> Option<u64> {
    let start = text.find("bench:")? + "bench:".len();
    let digits = &text[start..];
    let end = digits.find(|c: char| !c.is_ascii_digit())?;
    digits[..end].parse().ok()
}

/// A WebSocket client over a TCP socket bound to `local` (any port) when given, so many
/// connections can spread over 127.0.0.0/8 and go past one address's port range.
pub async fn ws_connect(
    ws_url: &str,
    local: Option<IpAddr>,
    protocol: Option<&str>,
) -> anyhow::Result<WebSocketStream<TcpStream>> {
    let mut request = ws_url.into_client_request()?;
    if let Some(protocol) = protocol {
        request.headers_mut().insert("Sec-WebSocket-Protocol", protocol.parse()?);
    }
    let host = request.uri().host().context("URL without host")?.to_string();
    let port = request.uri().port_u16().unwrap_or(80);
    let addr: SocketAddr = tokio::net::lookup_host((host.as_str(), port))
        .await?
        .next()
        .with_context(|| format!("{host} does not resolve"))?;
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    if let Some(ip) = local {
        socket.bind(SocketAddr::new(ip, 0)).with_context(|| format!("binding to {ip}"))?;
    }
    let stream = socket.connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    // Small buffers: the load generator opens tens of thousands of connections.
    let config = WebSocketConfig::default().read_buffer_size(4 * 1024).write_buffer_size(0);
    let (ws, _) = match tokio_tungstenite::client_async_with_config(request, stream, Some(config)).await {
        Ok(ok) => ok,
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            bail!("upgrade refused with {}", resp.status())
        }
        Err(e) => return Err(e.into()),
    };
    Ok(ws)
}

/// `http://h:p` → `ws://h:p` (and https → wss); a ws URL stays as it is.
pub fn ws_base(url: &str) -> String {
    let url = url.trim_end_matches('/');
    if let Some(rest) = url.strip_prefix("http://") {
        format!("ws://{rest}")
    } else if let Some(rest) = url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else {
        url.to_string()
    }
}

/// Source addresses for connection `i`: 127.0.0.2 … 127.0.0.(1 + spread).
pub fn source_address(i: usize, spread: usize) -> Option<IpAddr> {
    if spread == 0 {
        return None;
    }
    let host = 2 + (i % spread.min(250)) as u8;
    Some(IpAddr::from([127, 0, 0, host]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_carry_their_send_time() {
        let b = body(123456, 7, 64);
        assert_eq!(b.len(), 64);
        assert_eq!(sent_time(&b), Some(123456));
        assert_eq!(sent_time(&format!(r#"42["chat",{{"text":"{b}"}}]"#)), Some(123456));
        assert_eq!(sent_time("no marker"), None);
    }

    #[test]
    fn source_addresses_stay_in_loopback() {
        assert_eq!(source_address(0, 0), None);
        assert_eq!(source_address(0, 8), Some(IpAddr::from([127, 0, 0, 2])));
        assert_eq!(source_address(9, 8), Some(IpAddr::from([127, 0, 0, 3])));
        assert_eq!(source_address(1000, 10000), Some(IpAddr::from([127, 0, 0, 2 + (1000 % 250) as u8])));
    }
}
