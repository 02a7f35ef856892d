//! Presence on this node: which users have connected devices (and whether all of them are idle),
//! who watches whom, and the per-user throttle on `presence.update`.
//!
//! A user is `online` while any device is connected and not idle, `away` while every connected
//! device said `presence.set {status: "away"}`, `offline` once the last device is gone. Updates per
//! user go out at most once per throttle interval; a change inside the interval is held and the
//! latest state is sent when the interval ends, so the last state always wins and is always sent.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use confab_core::ids::now_millis;
use confab_core::store::SharedStore;
use confab_core::Result;
use confab_proto::{Presence, PresenceStatus, ServerEnvelope, ServerFrame};
use dashmap::DashMap;
use parking_lot::Mutex;
use tokio::time::Instant;

use crate::hub::Outbox;

#[derive(Default)]
struct Throttle {
    last_sent: Option<Instant>,
    pending: Option<Presence>,
    flush_scheduled: bool,
}

pub struct PresenceHub {
    store: SharedStore,
    interval: Duration,
    /// Connected devices per user: connection id → idle (`away`).
    devices: DashMap<String, HashMap<Arc<str>, bool>>,
    /// Watched user → the connections to tell, with their outboxes.
    watchers: DashMap<String, HashMap<Arc<str>, Outbox>>,
    /// Connection → the users it watches, to undo on disconnect.
    watching: DashMap<Arc<str>, Vec<String>>,
    throttles: DashMap<String, Arc<Mutex<Throttle>>>,
}

impl PresenceHub {
    pub fn new(store: SharedStore, interval: Duration) -> Arc<PresenceHub> {
        Arc::new(PresenceHub {
            store,
            interval,
            devices: DashMap::new(),
            watchers: DashMap::new(),
            watching: DashMap::new(),
            throttles: DashMap::new(),
        })
    }

    fn status_of(&self, user: &str) -> PresenceStatus {
        match self.devices.get(user) {
            None => PresenceStatus::Offline,
            Some(d) if d.is_empty() => PresenceStatus::Offline,
            Some(d) if d.values().all(|away| *away) => PresenceStatus::Away,
            Some(_) => PresenceStatus::Online,
        }
    }

    /// A device connected.
    pub fn connect(self: &Arc<Self>, user: &str, connection: &Arc<str>) {
        let before = self.status_of(user);
        self.devices.entry(user.to_string()).or_default().insert(connection.clone(), false);
        self.changed(user, before);
    }

    /// A device disconnected (or timed out). Going offline persists `lastSeen`.
    pub async fn disconnect(self: &Arc<Self>, user: &str, connection: &Arc<str>) {
        let before = self.status_of(user);
        self.devices.remove_if_mut(user, |_, devices| {
            devices.remove(connection);
            devices.is_empty()
        });
        self.unwatch_all(connection);
        if self.status_of(user) == PresenceStatus::Offline {
            if let Err(e) = self.store.touch_last_seen(user, now_millis()).await {
                tracing::warn!(error = %e, user, "lastSeen not stored");
            }
        }
        self.changed(user, before);
    }

    /// `presence.set`: a device reports itself idle (`away`) or active (`online`).
    pub fn set_away(self: &Arc<Self>, user: &str, connection: &Arc<str>, away: bool) {
        let before = self.status_of(user);
        if let Some(mut devices) = self.devices.get_mut(user) {
            if let Some(flag) = devices.get_mut(connection) {
                *flag = away;
            }
        }
        self.changed(user, before);
    }

    fn changed(self: &Arc<Self>, user: &str, before: PresenceStatus) {
        let status = self.status_of(user);
        if status != before {
            self.announce(Presence { user_id: user.to_string(), status, last_seen: Some(now_millis()) });
        }
    }

    /// Sends `presence` to the user's watchers now, or at the end of the throttle interval.
    fn announce(self: &Arc<Self>, presence: Presence) {
        let throttle = self.throttles.entry(presence.user_id.clone()).or_default().clone();
        let mut t = throttle.lock();
        let now = Instant::now();
        match t.last_sent {
            Some(last) if now.duration_since(last) < self.interval => {
                t.pending = Some(presence);
                if !t.flush_scheduled {
                    t.flush_scheduled = true;
                    let (hub, throttle, at) = (self.clone(), throttle.clone(), last + self.interval);
                    tokio::spawn(async move {
                        tokio::time::sleep_until(at).await;
                        let pending = {
                            let mut t = throttle.lock();
                            t.flush_scheduled = false;
                            t.last_sent = Some(Instant::now());
                            t.pending.take()
                        };
                        if let Some(p) = pending {
                            hub.deliver(&p);
                        }
                    });
                }
            }
            _ => {
                t.last_sent = Some(now);
                t.pending = None;
                drop(t);
                self.deliver(&presence);
            }
        }
    }

    fn deliver(&self, presence: &Presence) {
        let Some(watchers) = self.watchers.get(&presence.user_id) else { return };
        let frame: Utf8Bytes =
            ServerEnvelope::new(None, ServerFrame::PresenceUpdate(presence.clone())).to_json().into();
        for outbox in watchers.values() {
            outbox.push(frame.clone());
        }
    }

    /// Subscribes `connection` to `users` and returns their current presence.
    pub async fn watch(
        &self,
        connection: &Arc<str>,
        outbox: &Outbox,
        users: &[String],
    ) -> Result<Vec<Presence>> {
        for user in users {
            self.watchers.entry(user.clone()).or_default().insert(connection.clone(), outbox.clone());
        }
        self.watching.entry(connection.clone()).or_default().extend(users.iter().cloned());
        self.snapshot(users).await
    }

    fn unwatch_all(&self, connection: &Arc<str>) {
        let Some((_, users)) = self.watching.remove(connection) else { return };
        for user in users {
            self.watchers.remove_if_mut(&user, |_, conns| {
                conns.remove(connection);
                conns.is_empty()
            });
        }
    }

    /// Current presence of `users` (unknown users are left out).
    pub async fn snapshot(&self, users: &[String]) -> Result<Vec<Presence>> {
        let now = now_millis();
        let seen = self.store.last_seen(users).await?;
        Ok(seen
            .into_iter()
            .map(|(user_id, last_seen)| {
                let status = self.status_of(&user_id);
                let last_seen = if status == PresenceStatus::Offline { last_seen } else { Some(now) };
                Presence { user_id, status, last_seen }
            })
            .collect())
    }
}
