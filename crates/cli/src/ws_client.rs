//! `confab ws URL`: the smallest useful WebSocket client, so trying Confab (and the README's first
//! chat) needs nothing but the binary and curl. Every frame received is printed as one line on
//! stdout; every line read from stdin is sent as one text frame.

use std::time::Duration;

use anyhow::Context;
use clap::Args;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

#[derive(Args, Debug)]
pub struct WsArgs {
    /// The WebSocket URL, e.g. `ws://127.0.0.1:8080/ws?token=TOKEN&device_id=laptop`.
    url: String,
    /// Exit (closing normally) after receiving a frame whose `type` is this, e.g. `message.ack`.
    #[arg(long)]
    until: Option<String>,
    /// Give up after this many seconds (default: never).
    #[arg(long)]
    timeout_secs: Option<u64>,
}

pub fn run(args: WsArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let session = session(&args);
        match args.timeout_secs {
            Some(secs) => tokio::time::timeout(Duration::from_secs(secs), session)
                .await
                .with_context(|| format!("no end within {secs} s"))?,
            None => session.await,
        }
    })
}

async fn session(args: &WsArgs) -> anyhow::Result<()> {
    let (socket, _) = match tokio_tungstenite::connect_async(args.url.as_str()).await {
        Ok(ok) => ok,
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body = response.body().as_deref().map(String::from_utf8_lossy).unwrap_or_default();
            anyhow::bail!("the server refused the connection with {}: {body}", response.status());
        }
        Err(e) => return Err(e).context("cannot connect"),
    };
    let (mut sink, mut stream) = socket.split();
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    loop {
        tokio::select! {
            line = stdin.next_line(), if stdin_open => match line.context("reading stdin")? {
                Some(line) if line.trim().is_empty() => {}
                Some(line) => sink.send(Message::Text(line.into())).await.context("sending")?,
                None => stdin_open = false,
            },
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    println!("{text}");
                    if args.until.as_deref().is_some_and(|until| frame_type(&text) == Some(until)) {
                        // Closing normally; the server answers with its own close frame.
                        sink.send(Message::Close(None)).await.context("closing")?;
                        while let Some(Ok(_)) = stream.next().await {}
                        return Ok(());
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    if let Some(frame) = frame {
                        eprintln!("closed by the server: {} {}", u16::from(frame.code), frame.reason);
                    }
                    return Ok(());
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e).context("connection lost"),
                None => return Ok(()),
            },
        }
    }
}

/// The `type` of a frame, without parsing the rest of it.
fn frame_type(text: &str) -> Option<&str> {
    #[derive(serde::Deserialize)]
    struct Typed<'a> {
        #[serde(borrow, rename = "type")]
        kind: &'a str,
    }
    serde_json::from_str::<Typed>(text).ok().map(|t| t.kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_types_are_read_without_the_rest() {
        assert_eq!(frame_type(r#"{"type":"message.ack","id":"1","payload":{}}"#), Some("message.ack"));
        assert_eq!(frame_type("not json"), None);
        assert_eq!(frame_type(r#"{"id":"1"}"#), None);
    }
}
