//! Presence: which users have connected devices, who watches whom on this node, and the per-user
//! throttle on `presence.update`.
//!
//! Each node knows its own devices; the bus aggregates across nodes (a user is `online` while any
//! device anywhere is connected and active, `away` while every connected device is idle,
//! `offline` once the last device is gone) and tells every node when the cluster-wide status
//! changes. Updates per user go out at most once per throttle interval; a change inside the
//! interval is held and the latest state is sent when it ends, so the last state always wins.
//!
//! Presence is shared only between users who share a conversation: a connection watches its
//! owner's contacts (and its owner), nothing else. `presence.subscribe` to anyone else answers as
//! it does for an id of no user (left out of the bulk) and watches nothing. When a conversation's
//! membership changes, every node re-checks the watches between its members and everyone else on
//! that node, and drops those that no longer rest on a shared conversation. Users who block each
//! other (either way) are no contacts, whatever they share.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use confab_core::bus::SharedBus;
use confab_core::ids::now_millis;
use confab_core::store::SharedStore;
use confab_core::{validate, Error, Result};
use confab_proto::frames::PresenceBulkPayload;
use confab_proto::{Presence, PresenceStatus, ServerEnvelope, ServerFrame};
use dashmap::DashMap;
use parking_lot::Mutex;
use tokio::time::Instant;

use crate::outbox::Outbox;

mod blocks;
mod last_seen;
mod rechecks;

#[derive(Default)]
struct Snapshotting {
    /// Bulks of this connection not yet sent.
    active: usize,
    held: Vec<Utf8Bytes>,
}

/// A `presence.bulk` on its way to one connection. Until it is dropped, which its sender does right
/// after queueing it, that connection's `presence.update`s are held back: one queued before a
/// staler bulk would be undone by it.
pub(crate) struct Bulk {
    pub(crate) payload: PresenceBulkPayload,
    pub(crate) held: HeldUpdates,
}

/// Keeps a connection's `presence.update`s back while alive; dropping it lets them go.
pub(crate) struct HeldUpdates {
    hub: Arc<PresenceHub>,
    connection: Arc<str>,
    outbox: Outbox,
    state: Arc<Mutex<Snapshotting>>,
}

impl Drop for HeldUpdates {
    fn drop(&mut self) {
        {
            let mut state = self.state.lock();
            state.active -= 1;
            if state.active == 0 {
                for frame in state.held.drain(..) {
                    self.outbox.push(frame);
                }
            }
        }
        self.hub.snapshotting.remove_if(&self.connection, |_, s| s.lock().active == 0);
    }
}

/// What [`PresenceHub::watch`] does with users beyond the caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Overflow {
    /// `presence.subscribe`: refuse the request.
    Refuse,
    /// Contacts on connect: watch those that fit, so the connection still gets its bulk.
    Truncate,
}

/// How many times a connection's watch cap all of one user's connections on a node may watch.
const USER_WATCH_FACTOR: usize = 4;

/// Who one connection watches, and whose connection it is (for the per-user total).
struct Watching {
    user: String,
    users: HashSet<String>,
}

#[derive(Default)]
struct Throttle {
    last_sent: Option<Instant>,
    pending: Option<Presence>,
    flush_scheduled: bool,
}

/// Presence of this node's devices and of the users its connections watch.
pub(crate) struct PresenceHub {
    store: SharedStore,
    bus: SharedBus,
    interval: Duration,
    /// Most users one connection is told about at once (on connect, or per subscribe).
    bulk_cap: u32,
    /// Most users one connection watches in all; a user's connections on this node together
    /// watch at most [`USER_WATCH_FACTOR`] times this.
    watch_cap: usize,
    /// This node's devices per user: connection id → idle (`away`).
    devices: DashMap<String, HashMap<Arc<str>, bool>>,
    /// Watched user → the connections on this node to tell, with their outboxes.
    watchers: DashMap<String, HashMap<Arc<str>, Outbox>>,
    /// Connection → the users it watches (each once), to undo on disconnect.
    watching: DashMap<Arc<str>, Watching>,
    /// User → how many users their connections on this node watch in all.
    watch_totals: DashMap<String, usize>,
    /// Connections with a `presence.bulk` not yet sent: updates for them wait here so they reach
    /// the client after the bulk (an update queued before a staler bulk would be undone).
    snapshotting: DashMap<Arc<str>, Arc<Mutex<Snapshotting>>>,
    /// User → when their last update went out, and the one held back meanwhile. Every user whose
    /// presence changed anywhere in the cluster gets one; [`PresenceHub::prune_throttles`] drops
    /// those idle for a whole interval.
    throttles: DashMap<String, Arc<Mutex<Throttle>>>,
    /// Counts membership changes heard of, so a subscribe can tell one happened while it looked
    /// up contacts.
    membership_epoch: AtomicU64,
    /// User → whether they show when they were last seen, for the users watched and watching on
    /// this node: read from the store on first need, then kept current by
    /// [`ClusterEvent::LastSeenShown`](confab_core::bus::ClusterEvent::LastSeenShown).
    last_seen_shown: DashMap<String, bool>,
}

impl PresenceHub {
    /// Shared as an `Arc`: throttled updates are flushed by a task that holds the hub.
    pub(crate) fn new(
        store: SharedStore,
        bus: SharedBus,
        interval: Duration,
        bulk_cap: u32,
        watch_cap: u32,
    ) -> Arc<PresenceHub> {
        Arc::new(PresenceHub {
            store,
            bus,
            interval,
            bulk_cap,
            watch_cap: watch_cap.max(1) as usize,
            devices: DashMap::new(),
            watchers: DashMap::new(),
            watching: DashMap::new(),
            watch_totals: DashMap::new(),
            snapshotting: DashMap::new(),
            throttles: DashMap::new(),
            membership_epoch: AtomicU64::new(0),
            last_seen_shown: DashMap::new(),
        })
    }

    /// This node's status of `user`: `None` when it has no device of theirs.
    fn local_status(&self, user: &str) -> Option<PresenceStatus> {
        let devices = self.devices.get(user)?;
        if devices.is_empty() {
            None
        } else if devices.values().all(|away| *away) {
            Some(PresenceStatus::Away)
        } else {
            Some(PresenceStatus::Online)
        }
    }

    /// Every user with a device here and their status here.
    pub(crate) fn local_presence(&self) -> Vec<(String, PresenceStatus)> {
        self.devices
            .iter()
            .filter_map(|e| {
                let status = if e.value().is_empty() {
                    return None;
                } else if e.value().values().all(|away| *away) {
                    PresenceStatus::Away
                } else {
                    PresenceStatus::Online
                };
                Some((e.key().clone(), status))
            })
            .collect()
    }

    fn changed(&self, user: &str, before: Option<PresenceStatus>) {
        let now = self.local_status(user);
        if now != before {
            self.bus.set_local_presence(user, now);
        }
    }

    /// A device connected.
    pub(crate) fn connect(&self, user: &str, connection: &Arc<str>) {
        let before = self.local_status(user);
        self.devices.entry(user.to_string()).or_default().insert(connection.clone(), false);
        self.changed(user, before);
    }

    /// A device disconnected (or timed out). The last device here going away stores `lastSeen`.
    pub(crate) async fn disconnect(&self, user: &str, connection: &Arc<str>) {
        let before = self.local_status(user);
        self.devices.remove_if_mut(user, |_, devices| {
            devices.remove(connection);
            devices.is_empty()
        });
        self.unwatch_all(connection);
        if self.local_status(user).is_none() {
            if let Err(e) = self.store.touch_last_seen(user, now_millis()).await {
                tracing::warn!(error = %e, user, "lastSeen not stored");
            }
        }
        self.changed(user, before);
    }

    /// `presence.set`: a device reports itself idle (`away`) or active (`online`); a device cannot
    /// say it is `offline`.
    pub(crate) fn set_status(&self, user: &str, connection: &Arc<str>, status: PresenceStatus) -> Result<()> {
        let away = match status {
            PresenceStatus::Away => true,
            PresenceStatus::Online => false,
            PresenceStatus::Offline => {
                return Err(Error::InvalidRequest("`status` must be online or away".into()))
            }
        };
        self.set_away(user, connection, away);
        Ok(())
    }

    fn set_away(&self, user: &str, connection: &Arc<str>, away: bool) {
        let before = self.local_status(user);
        if let Some(mut devices) = self.devices.get_mut(user) {
            if let Some(flag) = devices.get_mut(connection) {
                *flag = away;
            }
        }
        self.changed(user, before);
    }

    /// The cluster-wide status of a user changed: tell this node's watchers (throttled).
    pub(crate) fn on_cluster_change(self: &Arc<Self>, user: &str, status: PresenceStatus, at: i64) {
        self.announce(Presence { user_id: user.to_string(), status, last_seen: Some(at) });
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

    /// Forgets the throttles of users with nothing held back whose last update is older than the
    /// throttle interval: their next update would go out at once anyway, so nothing changes but
    /// the memory kept. Returns how many throttles are kept.
    pub(crate) fn prune_throttles(&self) -> usize {
        let now = Instant::now();
        self.throttles.retain(|_, throttle| {
            let t = throttle.lock();
            t.flush_scheduled
                || t.pending.is_some()
                || t.last_sent.is_some_and(|last| now.duration_since(last) < self.interval)
        });
        self.throttles.len()
    }

    fn deliver(&self, presence: &Presence) {
        let watchers: Vec<(Arc<str>, Outbox)> = match self.watchers.get(&presence.user_id) {
            Some(w) => w.iter().map(|(c, o)| (c.clone(), o.clone())).collect(),
            None => return,
        };
        let full: Utf8Bytes =
            ServerEnvelope::new(None, ServerFrame::PresenceUpdate(presence.clone())).to_json().into();
        let mut without_last_seen: Option<Utf8Bytes> = None;
        for (connection, outbox) in &watchers {
            let shown = presence.last_seen.is_none()
                || self
                    .watching
                    .get(connection)
                    .is_some_and(|w| self.last_seen_visible(&w.user, &presence.user_id));
            let frame = if shown {
                full.clone()
            } else {
                without_last_seen
                    .get_or_insert_with(|| {
                        let hidden = Presence { last_seen: None, ..presence.clone() };
                        ServerEnvelope::new(None, ServerFrame::PresenceUpdate(hidden)).to_json().into()
                    })
                    .clone()
            };
            let held = self.snapshotting.get(connection).map(|s| s.clone());
            match held {
                Some(state) => {
                    let mut state = state.lock();
                    if state.active > 0 {
                        state.held.push(frame.clone());
                    } else {
                        outbox.push(frame.clone());
                    }
                }
                None => outbox.push(frame.clone()),
            }
        }
    }

    /// On connect: `connection` watches every user sharing a conversation with `user` (up to the
    /// bulk cap); the returned [`Bulk`] is their presence.
    pub(crate) async fn watch_contacts(
        self: &Arc<Self>,
        user: &str,
        connection: &Arc<str>,
        outbox: &Outbox,
    ) -> Result<Bulk> {
        let cap = self.bulk_cap.min(u32::try_from(self.watch_cap).unwrap_or(u32::MAX));
        let contacts = self.store.contacts_of(user, cap).await?;
        self.watch(user, connection, outbox, &contacts, Overflow::Truncate).await
    }

    /// `presence.subscribe`: `connection` (of `user`) also watches those of `users` who share a
    /// conversation with `user` (and `user`), at most the bulk cap per request, the watch cap per
    /// connection and its multiple per user; the returned [`Bulk`] is their presence. Anyone else
    /// is left out of the bulk and not watched, exactly like an id of no user, so the answer
    /// tells a stranger nothing.
    pub(crate) async fn subscribe(
        self: &Arc<Self>,
        user: &str,
        connection: &Arc<str>,
        outbox: &Outbox,
        users: &[String],
    ) -> Result<Bulk> {
        let cap = self.bulk_cap as usize;
        if users.len() > cap {
            return Err(Error::InvalidRequest(format!("at most {cap} userIds per subscribe")));
        }
        if let Some(bad) = users.iter().find(|u| validate::client_id("userIds", u).is_err()) {
            return Err(Error::InvalidRequest(format!("invalid user id `{bad}`")));
        }
        let epoch = self.membership_epoch.load(Ordering::SeqCst);
        let others: Vec<String> = users.iter().filter(|u| *u != user).cloned().collect();
        let contacts: HashSet<String> = self.store.contacts_among(user, &others).await?.into_iter().collect();
        let allowed: Vec<String> =
            users.iter().filter(|u| *u == user || contacts.contains(*u)).cloned().collect();
        let bulk = self.watch(user, connection, outbox, &allowed, Overflow::Refuse).await?;
        if self.membership_epoch.load(Ordering::SeqCst) != epoch {
            // Membership changed while the contacts were looked up: a re-check that ran meanwhile
            // may have missed the watches just added.
            self.recheck(&HashMap::from([(user.to_string(), vec![connection.clone()])])).await;
        }
        Ok(bulk)
    }

    /// `connection` stops watching `users`.
    fn unwatch(&self, connection: &Arc<str>, users: &[String]) {
        let Some(mut watching) = self.watching.get_mut(connection) else { return };
        let mut removed = 0;
        for user in users {
            if watching.users.remove(user) {
                removed += 1;
                self.watchers.remove_if_mut(user, |_, conns| {
                    conns.remove(connection);
                    conns.is_empty()
                });
            }
        }
        let owner = watching.user.clone();
        drop(watching);
        if removed > 0 {
            self.watch_totals.remove_if_mut(&owner, |_, total| {
                *total = total.saturating_sub(removed);
                *total == 0
            });
        }
    }

    /// Subscribes `connection` (of `owner`) to `users` and takes their current presence. Users it
    /// already watches are not added twice; going over the connection's or the owner's watch cap
    /// is refused and changes nothing, or (`Overflow::Truncate`) watches only the users that fit.
    /// Updates arriving from now on are held until the [`Bulk`] has gone out (or is dropped).
    async fn watch(
        self: &Arc<Self>,
        owner: &str,
        connection: &Arc<str>,
        outbox: &Outbox,
        users: &[String],
        overflow: Overflow,
    ) -> Result<Bulk> {
        self.cache_last_seen_shown(std::iter::once(owner).chain(users.iter().map(String::as_str))).await?;
        let mut requested: Vec<String> = Vec::with_capacity(users.len());
        let mut once = HashSet::with_capacity(users.len());
        for user in users {
            if once.insert(user.as_str()) {
                requested.push(user.clone());
            }
        }
        {
            let mut watching = self
                .watching
                .entry(connection.clone())
                .or_insert_with(|| Watching { user: owner.to_string(), users: HashSet::new() });
            let mut added: Vec<String> =
                requested.iter().filter(|u| !watching.users.contains(*u)).cloned().collect();
            let mut total = self.watch_totals.entry(owner.to_string()).or_default();
            let user_cap = self.watch_cap.saturating_mul(USER_WATCH_FACTOR);
            if overflow == Overflow::Truncate {
                let room =
                    self.watch_cap.saturating_sub(watching.users.len()).min(user_cap.saturating_sub(*total));
                added.truncate(room);
                let fits: HashSet<&String> = added.iter().collect();
                requested.retain(|u| watching.users.contains(u) || fits.contains(u));
            }
            if watching.users.len() + added.len() > self.watch_cap {
                return Err(Error::InvalidRequest(format!(
                    "a connection watches at most {} users' presence",
                    self.watch_cap
                )));
            }
            if *total + added.len() > user_cap {
                return Err(Error::InvalidRequest(format!(
                    "a user's connections watch at most {user_cap} users' presence in all"
                )));
            }
            *total += added.len();
            for user in added {
                self.watchers.entry(user.clone()).or_default().insert(connection.clone(), outbox.clone());
                watching.users.insert(user);
            }
        }
        let state = self.snapshotting.entry(connection.clone()).or_default().clone();
        state.lock().active += 1;
        let held =
            HeldUpdates { hub: self.clone(), connection: connection.clone(), outbox: outbox.clone(), state };
        let presences = self.snapshot(owner, &requested).await?;
        Ok(Bulk { payload: PresenceBulkPayload { presences }, held })
    }

    fn unwatch_all(&self, connection: &Arc<str>) {
        self.snapshotting.remove(connection);
        let Some((_, Watching { user: owner, users })) = self.watching.remove(connection) else { return };
        self.watch_totals.remove_if_mut(&owner, |_, total| {
            *total = total.saturating_sub(users.len());
            *total == 0
        });
        for user in users {
            self.watchers.remove_if_mut(&user, |_, conns| {
                conns.remove(connection);
                conns.is_empty()
            });
        }
    }

    /// What this node keeps about watching: watched users, (connection, watched user) pairs,
    /// connections with a bulk pending, users with a watch total.
    #[cfg(test)]
    pub(crate) fn footprint(&self) -> (usize, usize, usize, usize) {
        let pairs = self.watching.iter().map(|w| w.users.len()).sum();
        (self.watchers.len(), pairs, self.snapshotting.len(), self.watch_totals.len())
    }

    /// Current presence of `users` (unknown users are left out) as `owner` is told it.
    async fn snapshot(&self, owner: &str, users: &[String]) -> Result<Vec<Presence>> {
        let now = now_millis();
        let seen = self.store.last_seen(users).await?;
        let ids: Vec<String> = seen.iter().map(|(u, _)| u.clone()).collect();
        let statuses = self.bus.presence_of(&ids).await?;
        Ok(seen
            .into_iter()
            .zip(statuses)
            .map(|((user_id, last_seen), status)| {
                let last_seen = if !self.last_seen_visible(owner, &user_id) {
                    None
                } else if status == PresenceStatus::Offline {
                    last_seen
                } else {
                    Some(now)
                };
                Presence { user_id, status, last_seen }
            })
            .collect())
    }
}
