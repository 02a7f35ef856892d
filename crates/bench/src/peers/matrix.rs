//! A Matrix homeserver over its client-server API (HTTP + JSON), e.g. Synapse as set up by
//! `bench/peers/run.sh`.
//!
//! Each user registers (`POST /register` with the `m.login.dummy` stage, as a homeserver with open
//! registration offers); for a pair, the first user creates a private direct-message room inviting
//! the second, who joins. A send is `PUT /rooms/{room}/send/m.room.message/{txnId}`, whose `200`
//! (the event is persisted) is the acknowledgement; a delivery is the event arriving in the
//! recipient's `/sync` long poll, which every endpoint keeps going, as Matrix clients do. An idle
//! connection is a device (`POST /login` with its own `device_id`) holding a `/sync` long poll
//! open on its own HTTP connection.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::{bail, Context};
use async_trait::async_trait;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::{body, sent_time, set_up, Account, Endpoint, Event, Receiver, Sender, System};
use crate::users;

pub struct Matrix;

/// How long a `/sync` long poll waits for events before the server answers empty.
const SYNC_TIMEOUT_MS: u64 = 30_000;
/// Longest a setup request (register, login, room) may take.
const SETUP_TIMEOUT: Duration = Duration::from_secs(60);
/// Timeline events one `/sync` answer may carry per room before it says `limited` (events left
/// out); far above what arrives between two polls at the loads measured.
const TIMELINE_LIMIT: u32 = 5_000;

/// A logged-in device.
#[derive(Clone)]
struct Session {
    http: reqwest::Client,
    api: String,
    user_id: String,
    token: String,
}

fn http_client(local: Option<IpAddr>) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder().local_address(local).tcp_nodelay(true).build()?)
}

/// `!room:server` → `%21room%3Aserver` (a path segment).
fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// POSTs (or PUTs) JSON and returns the JSON answer, failing on a non-2xx status.
async fn call(request: reqwest::RequestBuilder, what: &str) -> anyhow::Result<Value> {
    let response = request.timeout(SETUP_TIMEOUT).send().await.with_context(|| what.to_string())?;
    let status = response.status();
    let text = response.text().await.with_context(|| what.to_string())?;
    if !status.is_success() {
        bail!("{what}: {status}: {text:.300}");
    }
    serde_json::from_str(&text).with_context(|| format!("{what}: answer is not JSON: {text:.200}"))
}

impl Session {
    fn from_answer(http: reqwest::Client, api: String, answer: &Value) -> anyhow::Result<Session> {
        let field = |name: &str| {
            answer[name].as_str().map(str::to_string).with_context(|| format!("no {name} in {answer}"))
        };
        Ok(Session { http, api, user_id: field("user_id")?, token: field("access_token")? })
    }

    async fn register(url: &str, user: &str, password: &str) -> anyhow::Result<Session> {
        let http = http_client(None)?;
        let api = format!("{}/_matrix/client/v3", url.trim_end_matches('/'));
        let answer = call(
            http.post(format!("{api}/register")).json(&json!({
                "username": user,
                "password": password,
                "auth": { "type": "m.login.dummy" },
                "initial_device_display_name": "bench",
            })),
            &format!("registering {user}"),
        )
        .await?;
        Session::from_answer(http, api, &answer)
    }

    async fn login(
        url: &str,
        user: &str,
        password: &str,
        device: &str,
        local: Option<IpAddr>,
    ) -> anyhow::Result<Session> {
        let http = http_client(local)?;
        let api = format!("{}/_matrix/client/v3", url.trim_end_matches('/'));
        let answer = call(
            http.post(format!("{api}/login")).json(&json!({
                "type": "m.login.password",
                "identifier": { "type": "m.id.user", "user": user },
                "password": password,
                "device_id": device,
            })),
            &format!("logging in {user}"),
        )
        .await?;
        Session::from_answer(http, api, &answer)
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.post(format!("{}{path}", self.api)).bearer_auth(&self.token)
    }

    /// A private direct-message room with `other` invited.
    async fn create_direct_room(&self, other: &str) -> anyhow::Result<String> {
        let answer = call(
            self.post("/createRoom").json(&json!({
                "preset": "trusted_private_chat",
                "is_direct": true,
                "invite": [other],
            })),
            "creating a room",
        )
        .await?;
        answer["room_id"].as_str().map(str::to_string).context("no room_id")
    }

    async fn join(&self, room: &str) -> anyhow::Result<()> {
        call(self.post(&format!("/join/{}", path_segment(room))).json(&json!({})), "joining").await?;
        Ok(())
    }

    /// A filter that keeps a `/sync` answer to room timelines (no presence, account data or
    /// room state beyond what is needed) with room for every event between two polls.
    async fn sync_filter(&self) -> anyhow::Result<String> {
        let answer = call(
            self.post(&format!("/user/{}/filter", path_segment(&self.user_id))).json(&json!({
                "presence": { "types": [] },
                "account_data": { "types": [] },
                "room": {
                    "state": { "lazy_load_members": true, "types": [] },
                    "ephemeral": { "types": [] },
                    "account_data": { "types": [] },
                    "timeline": { "limit": TIMELINE_LIMIT, "types": ["m.room.message"] },
                },
            })),
            "creating a sync filter",
        )
        .await?;
        answer["filter_id"].as_str().map(str::to_string).context("no filter_id")
    }

    async fn sync(&self, filter: &str, since: Option<&str>, timeout_ms: u64) -> anyhow::Result<Value> {
        let mut query = vec![("filter", filter.to_string()), ("timeout", timeout_ms.to_string())];
        if let Some(since) = since {
            query.push(("since", since.to_string()));
        }
        let response = self
            .http
            .get(format!("{}/sync", self.api))
            .bearer_auth(&self.token)
            .query(&query)
            .timeout(Duration::from_millis(timeout_ms) + SETUP_TIMEOUT)
            .send()
            .await?;
        let status = response.status();
        if !status.is_success() {
            bail!("sync: {status}: {:.300}", response.text().await.unwrap_or_default());
        }
        Ok(response.json().await?)
    }
}

/// What one `/sync` answer means to a benchmark: the next batch token and the events of others.
pub fn classify_sync(answer: &Value, me: &str) -> (Option<String>, Vec<Event>) {
    let next = answer["next_batch"].as_str().map(str::to_string);
    let mut events = Vec::new();
    if let Some(rooms) = answer["rooms"]["join"].as_object() {
        for room in rooms.values() {
            if room["timeline"]["limited"].as_bool() == Some(true) {
                events.push(Event::Error("sync answer limited: timeline events were left out".into()));
            }
            let Some(timeline) = room["timeline"]["events"].as_array() else { continue };
            for event in timeline {
                if event["type"] != "m.room.message" || event["sender"] == me {
                    continue;
                }
                let sent = event["content"]["body"].as_str().and_then(sent_time);
                events.push(sent.map(|sent_us| Event::Delivered { sent_us }).unwrap_or(Event::Other));
            }
        }
    }
    (next, events)
}

/// Aborts a background task when dropped (an endpoint's or idle device's `/sync` loop).
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts `session`'s `/sync` loop from `since`, sending what it sees to `events`.
fn spawn_sync_loop(
    session: Session,
    filter: String,
    mut since: String,
    events: mpsc::UnboundedSender<Event>,
) -> AbortOnDrop {
    let task = tokio::spawn(async move {
        loop {
            match session.sync(&filter, Some(&since), SYNC_TIMEOUT_MS).await {
                Ok(answer) => {
                    let (next, seen) = classify_sync(&answer, &session.user_id);
                    for event in seen {
                        if events.send(event).is_err() {
                            return;
                        }
                    }
                    if let Some(next) = next {
                        since = next;
                    }
                }
                Err(e) => {
                    if events.send(Event::Error(format!("{e:#}"))).is_err() {
                        return;
                    }
                    // A failed poll is retried from the same token, so nothing is skipped.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    AbortOnDrop(task.abort_handle())
}

/// Sets up `session`'s `/sync`: a filter and an initial sync, so the loop sees only what comes
/// after.
async fn first_sync(session: &Session) -> anyhow::Result<(String, String)> {
    let filter = session.sync_filter().await?;
    let answer = session.sync(&filter, None, 0).await?;
    let since = answer["next_batch"].as_str().context("no next_batch in the initial sync")?.to_string();
    Ok((filter, since))
}

struct MatrixSender {
    session: Session,
    room_path: String,
    who: String,
    body_bytes: usize,
    events: mpsc::UnboundedSender<Event>,
}

struct MatrixReceiver {
    events: mpsc::UnboundedReceiver<Event>,
    _sync: AbortOnDrop,
}

#[async_trait]
impl Sender for MatrixSender {
    async fn send(&mut self, sent_us: u64, seq: u64) -> anyhow::Result<()> {
        // Open loop: the request runs on its own; its answer arrives as an acknowledgement.
        let url = format!(
            "{}/rooms/{}/send/m.room.message/b{sent_us}-{}-{seq}",
            self.session.api, self.room_path, self.who
        );
        let request = self
            .session
            .http
            .put(url)
            .bearer_auth(&self.session.token)
            .json(&json!({ "msgtype": "m.text", "body": body(sent_us, seq, self.body_bytes) }))
            .timeout(SETUP_TIMEOUT)
            .send();
        let events = self.events.clone();
        tokio::spawn(async move {
            let event = match request.await.and_then(|r| r.error_for_status()) {
                Ok(_) => Event::Ack { sent_us },
                Err(e) => Event::Error(format!("send: {e}")),
            };
            let _ = events.send(event);
        });
        Ok(())
    }
}

#[async_trait]
impl Receiver for MatrixReceiver {
    async fn next(&mut self) -> anyhow::Result<Event> {
        self.events.recv().await.context("the sync loop stopped")
    }
}

impl Matrix {
    fn endpoint(
        session: Session,
        room: &str,
        filter: String,
        since: String,
        who: String,
        body_bytes: usize,
    ) -> Endpoint {
        let (tx, rx) = mpsc::unbounded_channel();
        let sync = spawn_sync_loop(session.clone(), filter, since, tx.clone());
        Endpoint {
            sender: Box::new(MatrixSender {
                session,
                room_path: path_segment(room),
                who,
                body_bytes,
                events: tx,
            }),
            receiver: Box::new(MatrixReceiver { events: rx, _sync: sync }),
        }
    }
}

#[async_trait]
impl System for Matrix {
    fn name(&self) -> &'static str {
        "matrix"
    }

    fn acks(&self) -> bool {
        true
    }

    fn durability_note(&self) -> &'static str {
        "the homeserver answers a send (PUT /rooms/{room}/send) once the event is persisted in its \
         database; the recipient receives it through its /sync long poll"
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
                let a = Session::register(first, &a, users::PASSWORD).await?;
                let b = Session::register(last, &b, users::PASSWORD).await?;
                let room = a.create_direct_room(&b.user_id).await?;
                b.join(&room).await?;
                let (fa, sa) = first_sync(&a).await?;
                let (fb, sb) = first_sync(&b).await?;
                anyhow::Ok((
                    Matrix::endpoint(a, &room, fa, sa, format!("{i}a"), body_bytes),
                    Matrix::endpoint(b, &room, fb, sb, format!("{i}b"), body_bytes),
                ))
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
                Session::register(url, &name, users::PASSWORD).await?;
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
        let session =
            Session::login(url, &account.name, &account.secret, &format!("D{device}"), local).await?;
        let (filter, since) = first_sync(&session).await?;
        // Nothing reads what the idle device's polls bring; the loop only keeps the poll open.
        let (tx, rx) = mpsc::unbounded_channel();
        let sync = spawn_sync_loop(session, filter, since, tx);
        Ok(Box::new((sync, rx)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_ids_are_escaped_as_path_segments() {
        assert_eq!(path_segment("!AbC:localhost"), "%21AbC%3Alocalhost");
        assert_eq!(path_segment("@idle-1.x_y~:h"), "%40idle-1.x_y~%3Ah");
    }

    #[test]
    fn sync_answers_yield_the_deliveries_of_others() {
        let answer = json!({
            "next_batch": "s72_4",
            "rooms": { "join": { "!r:h": { "timeline": { "limited": false, "events": [
                { "type": "m.room.message", "sender": "@b:h", "content": { "body": "bench:77:1:xx" } },
                { "type": "m.room.message", "sender": "@a:h", "content": { "body": "bench:78:1:xx" } },
                { "type": "m.room.member", "sender": "@b:h", "content": {} },
            ] } } } }
        });
        let (next, events) = classify_sync(&answer, "@a:h");
        assert_eq!(next.as_deref(), Some("s72_4"));
        assert_eq!(events, vec![Event::Delivered { sent_us: 77 }]);

        let limited =
            json!({ "rooms": { "join": { "!r:h": { "timeline": { "limited": true, "events": [] } } } } });
        let (next, events) = classify_sync(&limited, "@a:h");
        assert_eq!(next, None);
        assert!(matches!(events.as_slice(), [Event::Error(_)]));
    }
}
