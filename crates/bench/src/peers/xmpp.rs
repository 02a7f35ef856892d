//! An XMPP server over WebSocket (RFC 7395), e.g. Prosody with mod_websocket and mod_mam.
//!
//! Each user registers in-band (XEP-0077), authenticates with SASL PLAIN (loopback only), binds a
//! resource and, for the latency scenario, sends initial presence. Messages are `type="chat"`
//! stanzas to the peer's full JID. XMPP has no per-message acknowledgement without stream
//! management (XEP-0198), so only send→delivery latency is measured for it.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::{bail, Context};
use async_trait::async_trait;
use futures_util::stream::{SplitSink, SplitStream, StreamExt};
use futures_util::SinkExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::{body, sent_time, set_up, ws_connect, Account, Endpoint, Event, Receiver, Sender, System};
use crate::users;

type Ws = WebSocketStream<TcpStream>;

pub struct Xmpp {
    pub domain: String,
}

fn open(domain: &str) -> String {
    format!(r#"<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="{domain}" version="1.0"/>"#)
}

/// Standard base64 (for SASL PLAIN).
fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

async fn send(ws: &mut Ws, text: String) -> anyhow::Result<()> {
    ws.send(Message::Text(text.into())).await?;
    Ok(())
}

/// Reads until a frame `done` accepts; fails on a frame `fail` accepts.
async fn until(ws: &mut Ws, what: &str, done: impl Fn(&str) -> bool) -> anyhow::Result<String> {
    let wait = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    if t.contains("<failure") || t.contains("<stream:error") || t.contains("<close") {
                        bail!("{what}: {t:.200}");
                    }
                    if done(&t) {
                        return Ok(t.to_string());
                    }
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(anyhow::Error::from(e)),
                None => bail!("{what}: connection closed"),
            }
        }
    });
    wait.await.with_context(|| format!("timed out: {what}"))?
}

impl Xmpp {
    /// A session of `user`: optionally registered first, authenticated, resource bound.
    async fn session(
        &self,
        url: &str,
        user: &str,
        password: &str,
        resource: &str,
        register: bool,
        local: Option<IpAddr>,
    ) -> anyhow::Result<Ws> {
        let mut ws = ws_connect(url, local, Some("xmpp")).await?;
        send(&mut ws, open(&self.domain)).await?;
        until(&mut ws, "stream features", |t| t.contains("features")).await?;
        if register {
            send(
                &mut ws,
                format!(
                    r#"<iq xmlns="jabber:client" type="set" id="reg"><query xmlns="jabber:iq:register"><username>{user}</username><password>{password}</password></query></iq>"#
                ),
            )
            .await?;
            let reply =
                until(&mut ws, "registration", |t| t.contains(r#"id="reg""#) || t.contains("id='reg'"))
                    .await?;
            if !reply.contains("result") {
                bail!("registration of {user} refused: {reply:.300}");
            }
        }
        let plain = base64(format!("\0{user}\0{password}").as_bytes());
        send(
            &mut ws,
            format!(r#"<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">{plain}</auth>"#),
        )
        .await?;
        until(&mut ws, "authentication", |t| t.contains("<success")).await?;
        send(&mut ws, open(&self.domain)).await?;
        until(&mut ws, "features after auth", |t| t.contains("bind")).await?;
        send(
            &mut ws,
            format!(
                r#"<iq xmlns="jabber:client" type="set" id="bind"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><resource>{resource}</resource></bind></iq>"#
            ),
        )
        .await?;
        let bound =
            until(&mut ws, "resource binding", |t| t.contains(r#"id="bind""#) || t.contains("id='bind'"))
                .await?;
        if !bound.contains("result") {
            bail!("binding refused: {bound:.300}");
        }
        Ok(ws)
    }
}

struct XmppSender {
    sink: SplitSink<Ws, Message>,
    to: String,
    who: String,
    body_bytes: usize,
}

struct XmppReceiver {
    stream: SplitStream<Ws>,
}

#[async_trait]
impl Sender for XmppSender {
    async fn send(&mut self, sent_us: u64, seq: u64) -> anyhow::Result<()> {
        let stanza = format!(
            r#"<message xmlns="jabber:client" to="{}" type="chat" id="b{sent_us}-{}-{seq}"><body>{}</body></message>"#,
            self.to,
            self.who,
            body(sent_us, seq, self.body_bytes)
        );
        self.sink.send(Message::Text(stanza.into())).await?;
        Ok(())
    }
}

/// What an XMPP frame means to a benchmark.
pub fn classify(text: &str) -> Event {
    if !text.starts_with("<message") {
        return Event::Other;
    }
    if text.contains(r#"type="error""#) || text.contains("type='error'") {
        return Event::Error(text.chars().take(300).collect());
    }
    sent_time(text).map(|sent_us| Event::Delivered { sent_us }).unwrap_or(Event::Other)
}

#[async_trait]
impl Receiver for XmppReceiver {
    async fn next(&mut self) -> anyhow::Result<Event> {
        loop {
            match self.stream.next().await {
                Some(Ok(Message::Text(text))) => return Ok(classify(&text)),
                Some(Ok(Message::Close(_))) | None => bail!("connection closed"),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
            }
        }
    }
}

#[async_trait]
impl System for Xmpp {
    fn name(&self) -> &'static str {
        "xmpp"
    }

    fn acks(&self) -> bool {
        false
    }

    fn durability_note(&self) -> &'static str {
        "the XMPP server archives each chat message with mod_mam in its configured storage before \
         routing it; there is no per-message acknowledgement to the sender (no XEP-0198)"
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
                let mut wa = self.session(first, &a, users::PASSWORD, "bench", true, None).await?;
                let mut wb = self.session(last, &b, users::PASSWORD, "bench", true, None).await?;
                for ws in [&mut wa, &mut wb] {
                    send(ws, r#"<presence xmlns="jabber:client"/>"#.to_string()).await?;
                }
                let endpoint = |ws: Ws, to: String, who: String| {
                    let (sink, stream) = ws.split();
                    Endpoint {
                        sender: Box::new(XmppSender { sink, to, who, body_bytes }),
                        receiver: Box::new(XmppReceiver { stream }),
                    }
                };
                let (ja, jb) = (format!("{a}@{}/bench", self.domain), format!("{b}@{}/bench", self.domain));
                anyhow::Ok((endpoint(wa, jb, format!("{i}a")), endpoint(wb, ja, format!("{i}b"))))
            }
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
        let tag = users::run_tag();
        let accounts = set_up(0..n, concurrency, "registering", quiet, |i| {
            let name = format!("idle{tag}{i}");
            async move {
                let ws = self.session(url, &name, users::PASSWORD, "setup", true, None).await?;
                drop(ws);
                anyhow::Ok(Account { name, secret: users::PASSWORD.to_string() })
            }
        })
        .await?;
        Ok(accounts)
    }

    async fn idle_connection(
        &self,
        url: &str,
        account: &Account,
        device: usize,
        local: Option<IpAddr>,
    ) -> anyhow::Result<Box<dyn Send>> {
        let ws =
            self.session(url, &account.name, &account.secret, &format!("d{device}"), false, local).await?;
        Ok(Box::new(ws))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"\0u\0p"), "AHUAcA==");
    }

    #[test]
    fn chat_messages_are_deliveries() {
        let m = r#"<message type="chat" to="a@x/r"><body>bench:77:1:xx</body></message>"#;
        assert_eq!(classify(m), Event::Delivered { sent_us: 77 });
        assert!(matches!(
            classify(r#"<message type="error"><body>bench:1:1:</body></message>"#),
            Event::Error(_)
        ));
        assert_eq!(classify("<presence/>"), Event::Other);
    }
}
