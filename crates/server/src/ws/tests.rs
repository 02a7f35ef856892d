//! Sessions driven over channels instead of a socket, on a paused clock: time only moves when
//! every task is waiting, so timeouts are exact and nothing really sleeps.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::ws::Message;
use confab_bus::InProcessBus;
use confab_core::bus::{Bus, ClusterEvent, Delivery};
use confab_core::Result;
use confab_proto::frames::{ConversationRef, HeartbeatPayload, PresenceSubscribePayload};
use confab_proto::{ClientEnvelope, ClientFrame, ErrorCode, PresenceStatus, ServerEnvelope, ServerFrame};
use futures_util::stream;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::PollSender;

use super::session::{self, CLOSE_HEARTBEAT_TIMEOUT, CLOSE_SLOW_CONSUMER};
use crate::config::{Limits, ServerConfig};
use crate::testing::TestApp;

const HEARTBEAT: Duration = Duration::from_secs(10);

fn config(limits: Limits) -> ServerConfig {
    ServerConfig { heartbeat_interval: HEARTBEAT, limits, ..ServerConfig::default() }
}

/// The client end of a session.
struct Client {
    to_server: mpsc::Sender<Result<Message, axum::Error>>,
    from_server: mpsc::Receiver<Message>,
    _app: TestApp,
}

/// Starts a session for `alice`. `socket_capacity` is how many frames the "socket" buffers
/// before the session's writer has to wait for the client to read.
fn connect(app: TestApp, socket_capacity: usize) -> Client {
    let (to_server, mut incoming) = mpsc::channel(64);
    let (outgoing, from_server) = mpsc::channel(socket_capacity);
    let reader = stream::poll_fn(move |cx| incoming.poll_recv(cx));
    let writer = PollSender::new(outgoing);
    tokio::spawn(session::run(
        app.app.clone(),
        "alice".into(),
        Default::default(),
        "phone".into(),
        reader,
        writer,
        (),
    ));
    Client { to_server, from_server, _app: app }
}

impl Client {
    async fn send(&self, id: u32, frame: ClientFrame) {
        let text = ClientEnvelope::new(Some(id.to_string()), frame).to_json();
        self.to_server.send(Ok(Message::Text(text.into()))).await.expect("session is reading");
    }

    async fn recv(&mut self) -> Message {
        self.from_server.recv().await.expect("session sent a frame")
    }

    async fn recv_frame(&mut self) -> ServerEnvelope {
        match self.recv().await {
            Message::Text(text) => ServerEnvelope::parse(&text).expect("valid frame").expect("known frame"),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    /// Reads `connected` and the `presence.bulk` every connection starts with.
    async fn handshake(&mut self) {
        assert!(matches!(self.recv_frame().await.frame, ServerFrame::Connected(_)));
        assert!(matches!(self.recv_frame().await.frame, ServerFrame::PresenceBulk(_)));
    }

    /// Every frame up to and including the close frame; returns the text frames and the close code.
    async fn until_close(&mut self) -> (Vec<ServerEnvelope>, u16) {
        let mut frames = Vec::new();
        loop {
            match self.recv().await {
                Message::Text(text) => frames.push(ServerEnvelope::parse(&text).unwrap().unwrap()),
                Message::Close(Some(close)) => return (frames, close.code),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}

/// Lets every task run until all of them wait (on the paused clock this takes no real time).
async fn settle() {
    tokio::time::sleep(Duration::from_millis(100)).await;
}

fn heartbeat() -> ClientFrame {
    ClientFrame::Heartbeat(HeartbeatPayload::default())
}

fn subscribe(user: &str) -> ClientFrame {
    ClientFrame::PresenceSubscribe(PresenceSubscribePayload { user_ids: vec![user.to_string()] })
}

/// A bus whose presence look-ups, once it is closed, wait until the test releases every user they
/// ask about, so the test decides when each `presence.subscribe` completes. (It is closed after
/// the connect-time look-up.)
struct GatedBus {
    inner: Arc<InProcessBus>,
    closed: AtomicBool,
    released: watch::Sender<HashSet<String>>,
    /// Look-ups about someone started so far.
    started: AtomicUsize,
}

impl GatedBus {
    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    fn release(&self, user: &str) {
        self.released.send_modify(|released| {
            released.insert(user.to_string());
        });
    }

    fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Bus for GatedBus {
    fn publish(&self, delivery: Delivery) {
        self.inner.publish(delivery)
    }
    fn broadcast(&self, event: ClusterEvent) {
        self.inner.broadcast(event)
    }
    fn set_local_presence(&self, user: &str, status: Option<PresenceStatus>) {
        self.inner.set_local_presence(user, status)
    }
    async fn presence_of(&self, users: &[String]) -> Result<Vec<PresenceStatus>> {
        if !self.closed.load(Ordering::SeqCst) {
            return self.inner.presence_of(users).await;
        }
        if !users.is_empty() {
            self.started.fetch_add(1, Ordering::SeqCst);
        }
        let mut released = self.released.subscribe();
        released.wait_for(|r| users.iter().all(|u| r.contains(u))).await.expect("gate kept");
        self.inner.presence_of(users).await
    }
    fn set_local_devices(&self, user: &str, devices: Vec<String>) {
        self.inner.set_local_devices(user, devices)
    }
    async fn live_devices(&self, user: &str) -> Result<Vec<String>> {
        self.inner.live_devices(user).await
    }
    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }
}

/// A session of `alice` over a [`GatedBus`], past its handshake and with the gate closed; users
/// `u1`…`u3` share a group with her, so she may subscribe to them.
async fn gated_session(limits: Limits) -> (Client, Arc<GatedBus>) {
    let mut gate = None;
    let app = TestApp::with_bus(config(limits), |inner| {
        let released = watch::Sender::new(HashSet::new());
        let bus = Arc::new(GatedBus {
            inner,
            closed: AtomicBool::new(false),
            released,
            started: AtomicUsize::new(0),
        });
        gate = Some(bus.clone());
        bus
    });
    let gate = gate.expect("bus built");
    for user in ["alice", "u1", "u2", "u3"] {
        app.user(user).await;
    }
    let members = ["u1", "u2", "u3"].map(String::from).to_vec();
    app.app.conversations().create_group("alice", "team", members, None).await.expect("group created");
    let mut client = connect(app, 64);
    client.handshake().await;
    gate.close();
    (client, gate)
}

#[tokio::test(start_paused = true)]
async fn silence_for_three_heartbeat_intervals_closes_with_4000() {
    let mut client = connect(TestApp::new(config(Limits::default())), 64);
    client.handshake().await;
    // A heartbeat just before the deadline restarts the count.
    tokio::time::sleep(HEARTBEAT * 3 - Duration::from_secs(1)).await;
    client.send(1, heartbeat()).await;
    assert!(matches!(client.recv_frame().await.frame, ServerFrame::HeartbeatAck(_)));
    let last_frame = Instant::now();
    // Pings are the network library's business and do not count as the client being alive.
    client.to_server.send(Ok(Message::Ping(Default::default()))).await.unwrap();
    let (frames, code) = client.until_close().await;
    assert!(frames.is_empty(), "{frames:?}");
    assert_eq!(code, CLOSE_HEARTBEAT_TIMEOUT);
    let silent = last_frame.elapsed();
    assert!(silent >= HEARTBEAT * 3 && silent < HEARTBEAT * 3 + Duration::from_secs(1), "{silent:?}");
}

#[tokio::test(start_paused = true)]
async fn replies_leave_in_request_order() {
    let (mut client, gate) = gated_session(Limits::default()).await;
    // Two slow requests, one refused on arrival, and one answered at once.
    client.send(1, subscribe("u1")).await;
    client.send(2, subscribe("u2")).await;
    client.send(3, ClientFrame::TypingStart(ConversationRef { conversation_id: String::new() })).await;
    client.send(4, heartbeat()).await;
    // The second request completes first.
    gate.release("u2");
    settle().await;
    assert!(client.from_server.try_recv().is_err(), "nothing may overtake the unanswered request 1");
    gate.release("u1");
    let mut replies = Vec::new();
    for _ in 0..4 {
        replies.push(client.recv_frame().await);
    }
    let ids: Vec<&str> = replies.iter().map(|r| r.id.as_deref().unwrap_or("-")).collect();
    assert_eq!(ids, ["1", "2", "3", "4"]);
    assert!(matches!(&replies[0].frame, ServerFrame::PresenceBulk(b) if b.presences[0].user_id == "u1"));
    assert!(matches!(&replies[1].frame, ServerFrame::PresenceBulk(b) if b.presences[0].user_id == "u2"));
    assert!(matches!(&replies[2].frame, ServerFrame::Error(e) if e.error == ErrorCode::InvalidRequest));
    assert!(matches!(replies[3].frame, ServerFrame::HeartbeatAck(_)));
}

#[tokio::test(start_paused = true)]
async fn the_socket_is_not_read_beyond_the_in_flight_bound() {
    let limits = Limits { max_inflight_sends: 2, ..Limits::default() };
    let (mut client, gate) = gated_session(limits).await;
    for (id, user) in [(1, "u1"), (2, "u2"), (3, "u3")] {
        client.send(id, subscribe(user)).await;
    }
    client.send(4, heartbeat()).await;
    let unread = |client: &Client| client.to_server.max_capacity() - client.to_server.capacity();
    settle().await;
    assert_eq!(gate.started(), 2, "two requests in flight");
    assert_eq!(unread(&client), 2, "requests 3 and 4 stay unread");
    // One answer frees one slot: exactly one more frame is read.
    gate.release("u1");
    assert_eq!(client.recv_frame().await.id.as_deref(), Some("1"));
    settle().await;
    assert_eq!(gate.started(), 3);
    assert_eq!(unread(&client), 1, "request 4 stays unread");
    for (id, user) in [("2", "u2"), ("3", "u3")] {
        gate.release(user);
        assert_eq!(client.recv_frame().await.id.as_deref(), Some(id));
    }
    assert_eq!(client.recv_frame().await.id.as_deref(), Some("4"));
}

#[tokio::test(start_paused = true)]
async fn a_client_that_does_not_read_is_closed_with_4001() {
    let limits = Limits { outbound_queue: 4, ..Limits::default() };
    // The "socket" holds one frame; the client reads nothing until the end.
    let mut client = connect(TestApp::new(config(limits)), 1);
    for id in 0..20 {
        client.send(id, heartbeat()).await;
    }
    settle().await;
    let (frames, code) = client.until_close().await;
    assert_eq!(code, CLOSE_SLOW_CONSUMER);
    let acks = frames.iter().filter(|f| matches!(f.frame, ServerFrame::HeartbeatAck(_))).count();
    assert!(acks < 20, "the frames that did not fit were dropped, not waited for ({acks} acks)");
    assert!(client.from_server.recv().await.is_none(), "nothing follows the close frame");
}

/// A frame larger than the socket's write buffer takes would end the connection without a word:
/// it is replaced by a `PAYLOAD_TOO_LARGE` error frame and the connection goes on.
#[tokio::test(start_paused = true)]
async fn a_frame_too_large_for_the_socket_becomes_an_error_and_the_connection_stays_open() {
    // Frames up to 16 × 256 bytes fit in the socket's write buffer.
    let limits = Limits { max_frame_bytes: 256, ..Limits::default() };
    let mut client = connect(TestApp::new(config(limits)), 16);
    client.handshake().await;
    let huge = ServerEnvelope::new(
        None,
        ServerFrame::TypingUpdate(confab_proto::frames::TypingPayload {
            conversation_id: "c".repeat(5000),
            user_id: "bob".into(),
            is_typing: true,
        }),
    )
    .to_json();
    client._app.app.connections().send_to_user("alice", &huge.into(), None);
    let error = client.recv_frame().await;
    assert!(
        matches!(&error.frame, ServerFrame::Error(e) if e.error == ErrorCode::PayloadTooLarge),
        "{error:?}"
    );
    client.send(7, heartbeat()).await;
    let ack = client.recv_frame().await;
    assert_eq!(ack.id.as_deref(), Some("7"));
    assert!(matches!(ack.frame, ServerFrame::HeartbeatAck(_)));
}
