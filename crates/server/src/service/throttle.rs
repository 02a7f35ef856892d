//! Throttles for logins and registrations, consulted before any password is hashed so that
//! refused attempts cost the server nothing.
//!
//! - [`Backoff`]: per username, a few free failures, then an exponentially growing wait.
//! - [`Buckets`]: per client address, a token bucket (burst, then an even refill).
//!
//! Both take the current time as an argument so tests need no clock, and both stay bounded in
//! memory: entries that no longer restrict anything are pruned when the table is full, and past
//! that a new key goes unrecorded (the other throttle and the hashing queue still apply).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Most keys a throttle remembers.
const MAX_ENTRIES: usize = 100_000;
/// Failures for a username are forgotten after this long without an attempt (and no wait).
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// First wait once the free failures are used up; each further failure doubles it.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);

/// How long to wait, for `retryAfter`: whole seconds, at least one.
pub(crate) fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

struct Failures {
    count: u32,
    /// No attempt is admitted before this.
    blocked_until: Instant,
    last: Instant,
}

/// Failed attempts per key with exponential backoff: `free` attempts, then each one admitted
/// waits 1 s, 2 s, 4 s, … (at most `max`) after the previous. An admitted attempt counts as a
/// failure from the moment it is admitted, so a burst of concurrent guesses is held back as well
/// as a sequence; [`Backoff::succeeded`] clears the key.
pub(crate) struct Backoff {
    free: u32,
    max: Duration,
    entries: Mutex<HashMap<String, Failures>>,
}

impl Backoff {
    pub(crate) fn new(free: u32, max: Duration) -> Backoff {
        Backoff { free: free.max(1), max, entries: Mutex::new(HashMap::new()) }
    }

    /// Admits one attempt for `key`, or says how long until one would be.
    pub(crate) fn admit(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut entries = self.entries.lock();
        if !entries.contains_key(key) && entries.len() >= MAX_ENTRIES {
            entries.retain(|_, f| now < f.blocked_until.max(f.last + FORGET_AFTER));
            if entries.len() >= MAX_ENTRIES {
                tracing::warn!("login throttle table full; a username goes untracked");
                return Ok(());
            }
        }
        let f =
            entries.entry(key.to_string()).or_insert(Failures { count: 0, blocked_until: now, last: now });
        if now >= f.last + FORGET_AFTER && now >= f.blocked_until {
            f.count = 0;
        }
        if now < f.blocked_until {
            return Err(f.blocked_until - now);
        }
        f.count += 1;
        f.last = now;
        if f.count >= self.free {
            let doublings = (f.count - self.free).min(30);
            let wait = FIRST_BACKOFF.saturating_mul(1u32 << doublings.min(31)).min(self.max);
            f.blocked_until = now + wait;
        }
        Ok(())
    }

    /// The attempt succeeded: `key` starts afresh.
    pub(crate) fn succeeded(&self, key: &str) {
        self.entries.lock().remove(key);
    }

    /// An admitted attempt was not made after all (nothing was checked): it does not count.
    pub(crate) fn withdraw(&self, key: &str) {
        if let Some(f) = self.entries.lock().get_mut(key) {
            f.count = f.count.saturating_sub(1);
        }
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// A token bucket per key: `burst` tokens, refilled evenly at `burst` per `period`.
pub(crate) struct Buckets<K> {
    burst: f64,
    per_sec: f64,
    entries: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq + Clone> Buckets<K> {
    pub(crate) fn new(burst: u32, period: Duration) -> Buckets<K> {
        let burst = f64::from(burst.max(1));
        Buckets {
            burst,
            per_sec: burst / period.as_secs_f64().max(1e-3),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn refill(&self, b: &mut Bucket, now: Instant) {
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.per_sec).min(self.burst);
        b.at = now;
    }

    /// Takes a token for `key`, or says how long until there is one.
    pub(crate) fn take(&self, key: K, now: Instant) -> Result<(), Duration> {
        let mut entries = self.entries.lock();
        if !entries.contains_key(&key) && entries.len() >= MAX_ENTRIES {
            let (burst, per_sec) = (self.burst, self.per_sec);
            entries.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * per_sec < burst
            });
            if entries.len() >= MAX_ENTRIES {
                tracing::warn!("address throttle table full; an address goes untracked");
                return Ok(());
            }
        }
        let b = entries.entry(key).or_insert(Bucket { tokens: self.burst, at: now });
        self.refill(b, now);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / self.per_sec))
        }
    }

    /// Returns a token taken for an attempt that turned out not to count.
    pub(crate) fn give_back(&self, key: K) {
        if let Some(b) = self.entries.lock().get_mut(&key) {
            b.tokens = (b.tokens + 1.0).min(self.burst);
        }
    }
}

/// The key an address is throttled under: IPv4 addresses as they are, IPv6 by their /64 (one
/// subscriber usually holds a whole /64, so single addresses would cost an attacker nothing).
pub(crate) fn address_key(ip: IpAddr) -> IpAddr {
    match crate::config::canonical(ip) {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn five_free_failures_then_doubling_waits() {
        let t = Instant::now();
        let b = Backoff::new(5, Duration::from_secs(300));
        for _ in 0..5 {
            assert_eq!(b.admit("alice", t), Ok(()));
        }
        assert_eq!(b.admit("alice", t), Err(S), "the sixth waits a second");
        assert_eq!(b.admit("bob", t), Ok(()), "other usernames are unaffected");
        assert_eq!(b.admit("alice", t + S), Ok(()));
        assert_eq!(b.admit("alice", t + S), Err(2 * S));
        assert_eq!(b.admit("alice", t + 3 * S), Ok(()));
        assert_eq!(b.admit("alice", t + 3 * S), Err(4 * S));
        b.succeeded("alice");
        assert_eq!(b.admit("alice", t + 3 * S), Ok(()), "a success starts afresh");
    }

    #[test]
    fn waits_are_capped_and_failures_forgotten() {
        let t = Instant::now();
        let b = Backoff::new(1, Duration::from_secs(10));
        let mut now = t;
        for _ in 0..40 {
            while let Err(wait) = b.admit("k", now) {
                assert!(wait <= Duration::from_secs(10));
                now += wait;
            }
        }
        let later = now + FORGET_AFTER + Duration::from_secs(10);
        assert_eq!(b.admit("k", later), Ok(()));
        assert_eq!(b.admit("k", later), Err(S), "counting starts again from the first wait");
    }

    #[test]
    fn withdrawn_attempts_do_not_count() {
        let t = Instant::now();
        let b = Backoff::new(2, Duration::from_secs(300));
        assert_eq!(b.admit("k", t), Ok(()));
        b.withdraw("k");
        assert_eq!(b.admit("k", t), Ok(()));
        assert_eq!(b.admit("k", t), Ok(()));
        assert!(b.admit("k", t).is_err());
    }

    #[test]
    fn buckets_allow_a_burst_then_refill_evenly() {
        let t = Instant::now();
        let b: Buckets<u8> = Buckets::new(3, Duration::from_secs(30));
        for _ in 0..3 {
            assert_eq!(b.take(1, t), Ok(()));
        }
        assert_eq!(b.take(1, t), Err(Duration::from_secs(10)));
        assert_eq!(b.take(2, t), Ok(()), "other keys have their own bucket");
        b.give_back(1);
        assert_eq!(b.take(1, t), Ok(()));
        assert_eq!(b.take(1, t + Duration::from_secs(10)), Ok(()));
        assert!(b.take(1, t + Duration::from_secs(10)).is_err());
    }

    #[test]
    fn ipv6_addresses_share_their_64() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(address_key(ip("2001:db8:1:2:aaaa::1")), address_key(ip("2001:db8:1:2:bbbb::9")));
        assert_ne!(address_key(ip("2001:db8:1:2::1")), address_key(ip("2001:db8:1:3::1")));
        assert_eq!(address_key(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(4)), 4);
    }
}
