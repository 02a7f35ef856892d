//! The cluster bus on Redis.
//!
//! Keys and channels (all under the configured prefix `P`, so clusters can share a Redis):
//! - `P:user:{id}` hash: node id → that node's presence of the user (`online`/`away`). It is also
//!   the routing table: a frame for the user goes to exactly these nodes.
//! - `P:presence:{id}`: the cluster-wide status last announced.
//! - `P:devices:{id}` hash: node id → the user's devices with a live connection there
//!   (newline-separated), for push notifications, which skip live devices.
//! - `P:node:{id}:users` set: users with devices on a node (to clean up after a dead node).
//! - `P:nodes` sorted set: node id → last heartbeat (ms). A node silent for [`NODE_TIMEOUT_MS`] is
//!   dead: any node removes its entries, announces the resulting presence changes and broadcasts
//!   `NodeGone`, on which every node reads back what the dead node may have committed but not
//!   published (see the server's ordering).
//! - channel `P:node:{id}`: frames for one node; channel `P:events`: events for every node.
//!
//! Presence updates run as one Lua script (set this node's field, aggregate over live nodes,
//! publish if the aggregate changed), so announcements are in the order the state changed.
//!
//! Loss tolerance: Redis pub/sub is not durable. When the subscription drops (Redis restarted,
//! network), the node resubscribes with backoff and re-announces every local user, rebuilding the
//! routing table; frames lost meanwhile are recovered by clients through gap detection and sync.
//! Local recipients never depend on Redis.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use confab_core::bus::{Bus, ClusterEvent, Delivery, DeliveryHandler};
use confab_core::ids::now_millis;
use confab_core::{Error, Result};
use confab_proto::PresenceStatus;
use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use tokio::sync::mpsc;

mod wire;

use wire::{decode_delivery, decode_event, encode_delivery, encode_event, parse_status, status_str};

/// A node whose heartbeat is older than this is dead.
pub const NODE_TIMEOUT_MS: i64 = 10_000;
const HEARTBEAT: Duration = Duration::from_secs(2);
/// Operations sent to Redis in one round trip.
const MAX_BATCH: usize = 128;

const PRESENCE_SCRIPT: &str = r#"
-- KEYS: user hash, node users set, aggregate key, nodes zset
-- ARGV: node id, status ('' = none), user id, events channel, now ms, node timeout ms
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('SREM', KEYS[2], ARGV[3])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('SADD', KEYS[2], ARGV[3])
end
local fields = redis.call('HGETALL', KEYS[1])
local cutoff = tonumber(ARGV[5]) - tonumber(ARGV[6])
local agg = 'offline'
for i = 1, #fields, 2 do
  local score = redis.call('ZSCORE', KEYS[4], fields[i])
  if fields[i] == ARGV[1] or (score and tonumber(score) >= cutoff) then
    if fields[i + 1] == 'online' then
      agg = 'online'
    elseif fields[i + 1] == 'away' and agg == 'offline' then
      agg = 'away'
    end
  end
end
local prev = redis.call('GET', KEYS[3]) or 'offline'
if prev ~= agg then
  if agg == 'offline' then redis.call('DEL', KEYS[3]) else redis.call('SET', KEYS[3], agg) end
  redis.call('PUBLISH', ARGV[4], 'presence\n' .. ARGV[3] .. '\n' .. agg .. '\n' .. ARGV[5])
end
return agg
"#;

enum Op {
    Deliver(Delivery),
    Broadcast(ClusterEvent),
    Presence {
        user: String,
        status: Option<PresenceStatus>,
    },
    Devices {
        user: String,
        devices: Vec<String>,
    },
    /// Announce every local user's presence and devices again (Redis lost them). The local state
    /// is read when the batch is sent, in queue order, so an announcement never overtakes a
    /// change queued after it with a stale status.
    Reannounce,
}

#[derive(Clone)]
struct Keys {
    prefix: String,
    node: String,
}

impl Keys {
    fn user(&self, user: &str) -> String {
        format!("{}:user:{user}", self.prefix)
    }
    fn aggregate(&self, user: &str) -> String {
        format!("{}:presence:{user}", self.prefix)
    }
    fn devices(&self, user: &str) -> String {
        format!("{}:devices:{user}", self.prefix)
    }
    fn node_users(&self, node: &str) -> String {
        format!("{}:node:{node}:users", self.prefix)
    }
    fn nodes(&self) -> String {
        format!("{}:nodes", self.prefix)
    }
    fn node_channel(&self, node: &str) -> String {
        format!("{}:node:{node}", self.prefix)
    }
    fn events(&self) -> String {
        format!("{}:events", self.prefix)
    }
}

pub struct RedisBus {
    keys: Keys,
    conn: ConnectionManager,
    local: Arc<dyn DeliveryHandler>,
    ops: mpsc::UnboundedSender<Op>,
}

fn unavailable(e: redis::RedisError) -> Error {
    Error::Unavailable(format!("redis: {e}"))
}

impl RedisBus {
    /// Connects to Redis and starts the node's publisher, subscriber and heartbeat tasks.
    pub async fn connect(
        url: &str,
        prefix: &str,
        node_id: &str,
        local: Arc<dyn DeliveryHandler>,
    ) -> Result<Arc<RedisBus>> {
        Self::connect_with_ca(url, None, prefix, node_id, local).await
    }

    /// [`RedisBus::connect`]; for a `rediss://` URL, trusting the PEM certificates in `ca` instead
    /// of the system's roots when given.
    pub async fn connect_with_ca(
        url: &str,
        ca: Option<&std::path::Path>,
        prefix: &str,
        node_id: &str,
        local: Arc<dyn DeliveryHandler>,
    ) -> Result<Arc<RedisBus>> {
        let client = match ca {
            None => redis::Client::open(url),
            Some(path) => {
                let root = std::fs::read(path).map_err(|e| {
                    Error::Internal(format!("cannot read the Redis CA certificate {}: {e}", path.display()))
                })?;
                let certificates = redis::TlsCertificates { client_tls: None, root_cert: Some(root) };
                redis::Client::build_with_tls(url, certificates)
            }
        }
        .map_err(|e| Error::Internal(format!("invalid Redis URL: {e}")))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(2)
            // Short, bounded backoff: an unreachable Redis must fail startup (and reconnection)
            // within seconds, not minutes.
            .set_min_delay(Duration::from_millis(50))
            .set_exponent_base(2.0)
            .set_max_delay(Duration::from_millis(500));
        let conn = client.get_connection_manager_with_config(config).await.map_err(unavailable)?;
        let keys = Keys { prefix: prefix.to_string(), node: node_id.to_string() };
        let (ops, rx) = mpsc::unbounded_channel();
        let bus = Arc::new(RedisBus { keys: keys.clone(), conn: conn.clone(), local: local.clone(), ops });
        heartbeat_once(&keys, &mut conn.clone()).await.map_err(unavailable)?;
        // Subscribed before returning: from then on this node receives every frame and event
        // published for it, including the presence it announces next.
        let pubsub = subscribe(&client, &keys).await.map_err(unavailable)?;
        tokio::spawn(run_publisher(keys.clone(), conn.clone(), local.clone(), rx));
        tokio::spawn(run_subscriber(client, keys.clone(), local.clone(), bus.ops.clone(), pubsub));
        tokio::spawn(run_heartbeat(keys, conn, local, bus.ops.clone()));
        Ok(bus)
    }
}

#[async_trait]
impl Bus for RedisBus {
    fn publish(&self, delivery: Delivery) {
        self.local.deliver(&delivery);
        let _ = self.ops.send(Op::Deliver(delivery));
    }

    fn broadcast(&self, event: ClusterEvent) {
        let _ = self.ops.send(Op::Broadcast(event));
    }

    fn set_local_presence(&self, user: &str, status: Option<PresenceStatus>) {
        let _ = self.ops.send(Op::Presence { user: user.to_string(), status });
    }

    async fn presence_of(&self, users: &[String]) -> Result<Vec<PresenceStatus>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for u in users {
            pipe.cmd("GET").arg(self.keys.aggregate(u));
        }
        let values: Vec<Option<String>> =
            pipe.query_async(&mut self.conn.clone()).await.map_err(unavailable)?;
        Ok(values.iter().map(|v| v.as_deref().map(parse_status).unwrap_or(PresenceStatus::Offline)).collect())
    }

    fn set_local_devices(&self, user: &str, devices: Vec<String>) {
        let _ = self.ops.send(Op::Devices { user: user.to_string(), devices });
    }

    async fn live_devices(&self, user: &str) -> Result<Vec<String>> {
        let mut devices = self.local.local_devices(user);
        let (by_node,): (Vec<(String, String)>,) = redis::pipe()
            .cmd("HGETALL")
            .arg(self.keys.devices(user))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        let others: Vec<(String, String)> =
            by_node.into_iter().filter(|(node, _)| *node != self.keys.node).collect();
        if others.is_empty() {
            return Ok(devices);
        }
        // A node that died holding connections is ignored before the heartbeat sweep removes it.
        let mut beats = redis::cmd("ZMSCORE");
        beats.arg(self.keys.nodes());
        for (node, _) in &others {
            beats.arg(node);
        }
        let beats: Vec<Option<f64>> = beats.query_async(&mut self.conn.clone()).await.map_err(unavailable)?;
        let alive_since = (now_millis() - NODE_TIMEOUT_MS) as f64;
        for ((_, list), beat) in others.iter().zip(beats) {
            if beat.is_some_and(|b| b >= alive_since) {
                devices.extend(list.split('\n').filter(|d| !d.is_empty()).map(str::to_string));
            }
        }
        devices.sort();
        devices.dedup();
        Ok(devices)
    }

    async fn ping(&self) -> Result<()> {
        redis::cmd("PING")
            .query_async::<String>(&mut self.conn.clone())
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
}

fn presence_invocation(pipe: &mut redis::Pipeline, keys: &Keys, node: &str, user: &str, status: &str) {
    pipe.cmd("EVAL")
        .arg(PRESENCE_SCRIPT)
        .arg(4)
        .arg(keys.user(user))
        .arg(keys.node_users(node))
        .arg(keys.aggregate(user))
        .arg(keys.nodes())
        .arg(node)
        .arg(status)
        .arg(user)
        .arg(keys.events())
        .arg(now_millis())
        .arg(NODE_TIMEOUT_MS)
        .ignore();
}

/// Sends queued operations in order, a batch per two round trips: one to look up the nodes of
/// every recipient, one to publish and update presence.
async fn run_publisher(
    keys: Keys,
    mut conn: ConnectionManager,
    local: Arc<dyn DeliveryHandler>,
    mut rx: mpsc::UnboundedReceiver<Op>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(op) = rx.recv().await {
        batch.push(op);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        if let Err(e) = send_batch(&keys, &mut conn, local.as_ref(), &batch).await {
            // At-most-once: these frames are lost for remote recipients, who recover by sync. While
            // Redis is unreachable, whatever queued up meanwhile is dropped too rather than letting
            // the queue grow; presence is re-announced once Redis is back.
            let mut dropped = batch.len();
            while rx.try_recv().is_ok() {
                dropped += 1;
            }
            tracing::warn!(error = %e, dropped, "redis bus: operations dropped");
        }
        batch.clear();
    }
}

async fn send_batch(
    keys: &Keys,
    conn: &mut ConnectionManager,
    local: &dyn DeliveryHandler,
    batch: &[Op],
) -> redis::RedisResult<()> {
    // Routing look-ups for every recipient of every delivery in the batch.
    let mut lookups = redis::pipe();
    let mut looked_up = 0;
    for op in batch {
        if let Op::Deliver(d) = op {
            for r in d.recipients.iter() {
                lookups.cmd("HKEYS").arg(keys.user(r));
                looked_up += 1;
            }
        }
    }
    let nodes_of: Vec<Vec<String>> =
        if looked_up > 0 { lookups.query_async(conn).await? } else { Vec::new() };
    let mut nodes_of = nodes_of.into_iter();
    let mut pipe = redis::pipe();
    // Commands in `pipe`: a batch of deliveries whose recipients are all on this node sends
    // nothing, and Redis answers an empty pipeline with an error (which would drop the queue).
    let mut queued = 0;
    for op in batch {
        match op {
            Op::Deliver(d) => {
                // Recipients grouped by the remote node holding them (not a broadcast).
                let mut by_node: Vec<(String, Vec<&String>)> = Vec::new();
                for r in d.recipients.iter() {
                    for node in nodes_of.next().unwrap_or_default() {
                        if node == keys.node {
                            continue;
                        }
                        match by_node.iter_mut().find(|(n, _)| *n == node) {
                            Some((_, rs)) => rs.push(r),
                            None => by_node.push((node, vec![r])),
                        }
                    }
                }
                for (node, recipients) in by_node {
                    pipe.cmd("PUBLISH")
                        .arg(keys.node_channel(&node))
                        .arg(encode_delivery(d, &recipients))
                        .ignore();
                    queued += 1;
                }
            }
            Op::Broadcast(e) => {
                pipe.cmd("PUBLISH").arg(keys.events()).arg(encode_event(e)).ignore();
                queued += 1;
            }
            Op::Presence { user, status } => {
                presence_invocation(&mut pipe, keys, &keys.node, user, status_str(*status));
                queued += 1;
            }
            Op::Devices { user, devices } if devices.is_empty() => {
                pipe.cmd("HDEL").arg(keys.devices(user)).arg(&keys.node).ignore();
                queued += 1;
            }
            Op::Devices { user, devices } => {
                pipe.cmd("HSET").arg(keys.devices(user)).arg(&keys.node).arg(devices.join("\n")).ignore();
                queued += 1;
            }
            Op::Reannounce => {
                for (user, status) in local.local_presence() {
                    presence_invocation(&mut pipe, keys, &keys.node, &user, status_str(Some(status)));
                    let devices = local.local_devices(&user);
                    if !devices.is_empty() {
                        pipe.cmd("HSET")
                            .arg(keys.devices(&user))
                            .arg(&keys.node)
                            .arg(devices.join("\n"))
                            .ignore();
                    }
                    queued += 1;
                }
            }
        }
    }
    if queued == 0 {
        return Ok(());
    }
    pipe.query_async::<()>(conn).await
}

async fn subscribe(client: &redis::Client, keys: &Keys) -> redis::RedisResult<redis::aio::PubSub> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(keys.node_channel(&keys.node)).await?;
    pubsub.subscribe(keys.events()).await?;
    Ok(pubsub)
}

/// Receives this node's frames and every event on `pubsub`; resubscribes after losing the
/// connection and then re-announces every local user, since Redis may have lost the routing table.
async fn run_subscriber(
    client: redis::Client,
    keys: Keys,
    local: Arc<dyn DeliveryHandler>,
    ops: mpsc::UnboundedSender<Op>,
    pubsub: redis::aio::PubSub,
) {
    let mut backoff = Duration::from_millis(100);
    let mut current = Some(pubsub);
    loop {
        let pubsub = match current.take() {
            Some(p) => p,
            None => match subscribe(&client, &keys).await {
                Ok(p) => {
                    backoff = Duration::from_millis(100);
                    tracing::info!("redis bus: resubscribed; re-announcing local users");
                    let _ = ops.send(Op::Reannounce);
                    p
                }
                Err(e) => {
                    tracing::warn!(error = %e, "redis bus: cannot subscribe; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    continue;
                }
            },
        };
        let events = keys.events();
        let mut stream = pubsub.into_on_message();
        while let Some(msg) = stream.next().await {
            let payload = msg.get_payload_bytes();
            if msg.get_channel_name() == events {
                match std::str::from_utf8(payload).ok().and_then(decode_event) {
                    Some(event) => local.event(&event),
                    None => tracing::warn!("redis bus: unreadable event"),
                }
            } else {
                match decode_delivery(payload) {
                    Some(delivery) => local.deliver(&delivery),
                    None => tracing::warn!("redis bus: unreadable delivery"),
                }
            }
        }
        tracing::warn!("redis bus: subscription lost; reconnecting");
    }
}

async fn heartbeat_once(keys: &Keys, conn: &mut ConnectionManager) -> redis::RedisResult<()> {
    redis::cmd("ZADD").arg(keys.nodes()).arg(now_millis()).arg(&keys.node).query_async::<()>(conn).await
}

/// Keeps this node alive in `P:nodes`, notices when Redis lost this node's registry (restart), and
/// cleans up after dead nodes.
async fn run_heartbeat(
    keys: Keys,
    mut conn: ConnectionManager,
    local: Arc<dyn DeliveryHandler>,
    ops: mpsc::UnboundedSender<Op>,
) {
    let mut tick = tokio::time::interval(HEARTBEAT);
    loop {
        tick.tick().await;
        let result: redis::RedisResult<()> = async {
            heartbeat_once(&keys, &mut conn).await?;
            // Redis restarted (or flushed) while the subscription survived: re-register.
            let registered: bool =
                redis::cmd("EXISTS").arg(keys.node_users(&keys.node)).query_async(&mut conn).await?;
            if !registered && !local.local_presence().is_empty() {
                let _ = ops.send(Op::Reannounce);
            }
            let dead: Vec<(String, f64)> = redis::cmd("ZRANGEBYSCORE")
                .arg(keys.nodes())
                .arg("-inf")
                .arg(now_millis() - NODE_TIMEOUT_MS)
                .arg("WITHSCORES")
                .query_async(&mut conn)
                .await?;
            for (node, last_seen) in dead.into_iter().filter(|(n, _)| *n != keys.node) {
                let users: Vec<String> =
                    redis::cmd("SMEMBERS").arg(keys.node_users(&node)).query_async(&mut conn).await?;
                let mut pipe = redis::pipe();
                for user in &users {
                    presence_invocation(&mut pipe, &keys, &node, user, "");
                    pipe.cmd("HDEL").arg(keys.devices(user)).arg(&node).ignore();
                }
                pipe.cmd("DEL").arg(keys.node_users(&node)).ignore();
                pipe.cmd("ZREM").arg(keys.nodes()).arg(&node);
                let (removed,): (u32,) = pipe.query_async(&mut conn).await?;
                tracing::info!(node, users = users.len(), "redis bus: removed a dead node");
                // Several nodes may clean up the same dead node; the one whose ZREM removed it
                // tells the cluster, so each node reads its unpublished messages back once.
                if removed == 1 {
                    let _ = ops.send(Op::Broadcast(ClusterEvent::NodeGone {
                        node_id: node,
                        last_seen: last_seen as i64,
                    }));
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            tracing::debug!(error = %e, "redis bus: heartbeat failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{services_required, Cluster, Node, Recorder};

    /// `CONFAB_TEST_REDIS_URL`, or the local server.
    fn redis_url() -> String {
        std::env::var("CONFAB_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
    }

    /// Deletes a test's keys when the test ends.
    struct PrefixGuard(String);

    impl Drop for PrefixGuard {
        fn drop(&mut self) {
            let prefix = self.0.clone();
            let _ = std::thread::spawn(move || {
                let client = redis::Client::open(redis_url()).ok()?;
                let mut conn = client.get_connection_with_timeout(Duration::from_secs(2)).ok()?;
                let keys: Vec<String> =
                    redis::cmd("KEYS").arg(format!("{prefix}:*")).query(&mut conn).ok()?;
                if !keys.is_empty() {
                    redis::cmd("DEL").arg(keys).query::<()>(&mut conn).ok()?;
                }
                Some(())
            })
            .join();
        }
    }

    /// Three nodes with distinct ids on a key prefix of their own, so tests run in parallel.
    async fn three_nodes() -> Option<Cluster> {
        three_nodes_on(&format!("confab-bus-test-{}", confab_core::ids::new_id().replace('-', ""))).await
    }

    /// Three nodes on `prefix`.
    async fn three_nodes_on(prefix: &str) -> Option<Cluster> {
        let prefix = prefix.to_string();
        let guard = PrefixGuard(prefix.clone());
        let mut nodes = Vec::new();
        for i in 0..3 {
            let handler = Arc::new(Recorder::default());
            match RedisBus::connect(&redis_url(), &prefix, &format!("node-{i}"), handler.clone()).await {
                Ok(bus) => nodes.push(Node { bus, handler }),
                Err(e) if !services_required() => {
                    eprintln!(
                        "Redis not reachable ({e}); set CONFAB_REQUIRE_SERVICES=1 to make this a failure"
                    );
                    return None;
                }
                Err(e) => panic!("Redis is required (CONFAB_REQUIRE_SERVICES=1) but not reachable: {e}"),
            }
        }
        Some(Cluster { nodes, _guard: Box::new(guard) })
    }

    crate::bus_conformance_suite!(three_nodes());

    /// A batch that sends nothing (its deliveries' recipients are all on this node, or nowhere)
    /// succeeds: Redis refuses an empty pipeline, and a failed batch drops what queued behind it.
    #[tokio::test]
    async fn a_batch_with_nothing_to_send_succeeds() {
        let client = redis::Client::open(redis_url()).expect("redis URL");
        let mut conn = match ConnectionManager::new(client).await {
            Ok(conn) => conn,
            Err(e) if !services_required() => {
                eprintln!("Redis not reachable ({e}); skipped");
                return;
            }
            Err(e) => panic!("Redis is required (CONFAB_REQUIRE_SERVICES=1) but not reachable: {e}"),
        };
        let prefix = format!("confab-bus-test-{}", confab_core::ids::new_id().replace('-', ""));
        let _guard = PrefixGuard(prefix.clone());
        let keys = Keys { prefix, node: "node-0".into() };
        let local_only = Delivery {
            recipients: vec!["nobody-elsewhere".to_string()].into(),
            frame: bytes::Bytes::from_static(b"{}"),
            skip_connection: None,
            order: None,
        };
        let local = Recorder::default();
        send_batch(&keys, &mut conn, &local, &[Op::Deliver(local_only)])
            .await
            .expect("nothing to send is no error");
        send_batch(&keys, &mut conn, &local, &[]).await.expect("an empty batch is no error");
        send_batch(&keys, &mut conn, &local, &[Op::Reannounce]).await.expect("no local users is no error");
    }

    /// A re-announcement (Redis lost this node's users) sends the local state as it is when the
    /// batch goes out, in queue order: a status change queued after it is never overtaken by the
    /// status the user had when the re-announcement was asked for.
    #[tokio::test]
    async fn a_reannouncement_never_overtakes_a_later_change() {
        let prefix = format!("confab-bus-test-{}", confab_core::ids::new_id().replace('-', ""));
        let _guard = PrefixGuard(prefix.clone());
        let handler = Arc::new(Recorder::default());
        let bus = match RedisBus::connect(&redis_url(), &prefix, "node-0", handler.clone()).await {
            Ok(bus) => bus,
            Err(e) if !services_required() => {
                eprintln!("Redis not reachable ({e}); skipped");
                return;
            }
            Err(e) => panic!("Redis is required (CONFAB_REQUIRE_SERVICES=1) but not reachable: {e}"),
        };
        // One thread: the publisher cannot run until this test awaits, so both operations are
        // queued before either is sent, the re-announcement first.
        handler.hold("u", PresenceStatus::Online);
        bus.ops.send(Op::Reannounce).expect("publisher running");
        handler.hold("u", PresenceStatus::Away);
        bus.set_local_presence("u", Some(PresenceStatus::Away));
        let fence = ClusterEvent::MembersChanged { conversation_id: "fence".into() };
        bus.broadcast(fence.clone());
        handler.wait_for_event(&fence).await;
        assert_eq!(handler.presence_events("u"), [PresenceStatus::Away], "never announced online");
        assert_eq!(bus.presence_of(&["u".to_string()]).await.expect("presence"), [PresenceStatus::Away]);
    }

    /// A node that stopped heartbeating is announced to every node once, with when it was last
    /// heard from, however many nodes noticed it.
    #[tokio::test]
    async fn a_dead_node_is_announced_once_to_every_node() {
        let prefix = format!("confab-bus-test-{}", confab_core::ids::new_id().replace('-', ""));
        let Some(cluster) = three_nodes_on(&prefix).await else { return };
        let client = redis::Client::open(redis_url()).expect("redis URL");
        let mut conn = ConnectionManager::new(client).await.expect("redis");
        let keys = Keys { prefix, node: "node-ghost".into() };
        let last_seen = now_millis() - NODE_TIMEOUT_MS - 5_000;
        redis::pipe()
            .cmd("ZADD")
            .arg(keys.nodes())
            .arg(last_seen)
            .arg(&keys.node)
            .ignore()
            .cmd("SADD")
            .arg(keys.node_users(&keys.node))
            .arg("ghost-user")
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .expect("a silent node registered");
        let gone = ClusterEvent::NodeGone { node_id: "node-ghost".into(), last_seen };
        for node in &cluster.nodes {
            node.handler.wait_for_event(&gone).await;
        }
        let left: Option<f64> = redis::cmd("ZSCORE")
            .arg(keys.nodes())
            .arg(&keys.node)
            .query_async(&mut conn)
            .await
            .expect("zscore");
        assert_eq!(left, None, "the dead node is removed");
        // Every node's heartbeat has run again since: none announced it a second time.
        tokio::time::sleep(HEARTBEAT + Duration::from_millis(500)).await;
        for node in &cluster.nodes {
            assert_eq!(node.handler.count_event(&gone), 1);
        }
    }

    /// The same suite through a Redis of its own that speaks only TLS (`rediss://`), with a
    /// certificate the test makes and trusts through the `ca` file.
    mod over_tls {
        use super::*;

        /// A `redis-server` on a free port with TLS only; stopped when dropped.
        pub(super) struct TlsRedis {
            child: std::process::Child,
            pub(super) url: String,
            pub(super) ca: std::path::PathBuf,
            _dir: tempfile::TempDir,
        }

        impl Drop for TlsRedis {
            fn drop(&mut self) {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }

        pub(super) fn start() -> Option<TlsRedis> {
            let dir = tempfile::tempdir().expect("temp dir");
            let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
                .expect("certificate");
            let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
            std::fs::write(&cert, made.cert.pem()).expect("write certificate");
            std::fs::write(&key, made.signing_key.serialize_pem()).expect("write key");
            let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
            let spawned = std::process::Command::new("redis-server")
                .args(["--port", "0", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .args(["--tls-port", &port.to_string(), "--tls-auth-clients", "no"])
                .arg("--tls-cert-file")
                .arg(&cert)
                .arg("--tls-key-file")
                .arg(&key)
                .arg("--tls-ca-cert-file")
                .arg(&cert)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn();
            let child = match spawned {
                Ok(child) => child,
                Err(e) if !services_required() => {
                    eprintln!("redis-server cannot be started ({e}); skipped");
                    return None;
                }
                Err(e) => panic!("redis-server is required (CONFAB_REQUIRE_SERVICES=1): {e}"),
            };
            let redis = TlsRedis { child, url: format!("rediss://127.0.0.1:{port}"), ca: cert, _dir: dir };
            // Ready once it accepts connections on the TLS port.
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(std::time::Instant::now() < deadline, "the TLS redis-server did not start");
                std::thread::sleep(Duration::from_millis(10));
            }
            Some(redis)
        }

        async fn three_nodes_over_tls() -> Option<Cluster> {
            let redis = start()?;
            let mut nodes = Vec::new();
            for i in 0..3 {
                let handler = Arc::new(Recorder::default());
                let bus = RedisBus::connect_with_ca(
                    &redis.url,
                    Some(&redis.ca),
                    "tls",
                    &format!("node-{i}"),
                    handler.clone(),
                )
                .await
                .expect("the bus connects over TLS");
                nodes.push(Node { bus, handler });
            }
            Some(Cluster { nodes, _guard: Box::new(redis) })
        }

        crate::bus_conformance_suite!(three_nodes_over_tls());

        #[tokio::test]
        async fn a_certificate_the_node_does_not_trust_is_refused() {
            let Some(redis) = start() else { return };
            let handler = Arc::new(Recorder::default());
            let refused = RedisBus::connect(&redis.url, "tls", "node", handler).await;
            assert!(refused.is_err(), "the system's roots do not vouch for a self-signed certificate");
        }
    }
}
