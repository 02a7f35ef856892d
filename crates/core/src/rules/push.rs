//! Push notifications: when a member's conversation is muted, and when a device's next push is due
//! (coalescing: at most one push per device and conversation in each window).

use confab_proto::NotificationSettings;

use crate::error::{Error, Result};

/// The most push subscriptions one user may hold (over all devices and kinds): every message
/// costs a push per subscribed device, so a user cannot make the server push without bound.
pub const MAX_SUBSCRIPTIONS_PER_USER: u32 = 20;

/// Whether a user holding `held` subscriptions (the one being replaced not counted) may add one.
pub fn may_subscribe(held: u32) -> Result<()> {
    if held >= MAX_SUBSCRIPTIONS_PER_USER {
        return Err(Error::InvalidRequest(format!(
            "at most {MAX_SUBSCRIPTIONS_PER_USER} push subscriptions per user: delete one first"
        )));
    }
    Ok(())
}

/// `muted_until` of a conversation muted until unmuted.
pub const MUTED_FOREVER: i64 = i64::MAX;

/// The longest a timed mute may run: a year (clients offer "for 8 hours", "for a week").
pub const MAX_MUTE_MS: i64 = 366 * 24 * 3600 * 1000;

/// What to store for `settings` at `now`: `None` (not muted), a time, or [`MUTED_FOREVER`]. A
/// `mutedUntil` already past unmutes; one more than [`MAX_MUTE_MS`] ahead is refused.
pub fn muted_until(settings: &NotificationSettings, now: i64) -> Result<Option<i64>> {
    match (settings.muted, settings.muted_until) {
        (false, _) => Ok(None),
        (true, None) => Ok(Some(MUTED_FOREVER)),
        (true, Some(until)) if until <= now => Ok(None),
        (true, Some(until)) if until - now > MAX_MUTE_MS => {
            Err(Error::InvalidRequest("mutedUntil is more than a year ahead; mute without it instead".into()))
        }
        (true, Some(until)) => Ok(Some(until)),
    }
}

/// Whether a member with `muted_until` is muted at `now`.
pub fn is_muted(muted_until: Option<i64>, now: i64) -> bool {
    muted_until.is_some_and(|until| until > now)
}

/// `(muted, mutedUntil)` as the conversation object shows them at `now`.
pub fn mute_view(muted_until: Option<i64>, now: i64) -> (bool, Option<i64>) {
    match muted_until {
        Some(until) if until > now => (true, (until != MUTED_FOREVER).then_some(until)),
        _ => (false, None),
    }
}

/// When a device's push for a conversation is due, as a message for it arrives at `now`:
/// `pending` messages were already waiting for a push due at `due_at`; the last push went at
/// `last_sent_at`. The first message after a quiet window goes at once; later ones wait for the
/// window after the last push to end, and go together.
pub fn due_at(pending: u32, due_at: i64, last_sent_at: Option<i64>, now: i64, coalesce_ms: i64) -> i64 {
    if pending > 0 {
        return due_at;
    }
    match last_sent_at {
        Some(sent) => now.max(sent.saturating_add(coalesce_ms)),
        None => now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(muted: bool, until: Option<i64>) -> NotificationSettings {
        NotificationSettings { muted, muted_until: until }
    }

    #[test]
    fn a_mute_is_forever_timed_or_nothing() {
        assert_eq!(muted_until(&settings(true, None), 10).unwrap(), Some(MUTED_FOREVER));
        assert_eq!(muted_until(&settings(true, Some(50)), 10).unwrap(), Some(50));
        assert_eq!(muted_until(&settings(true, Some(10)), 10).unwrap(), None, "already over");
        assert_eq!(muted_until(&settings(false, Some(50)), 10).unwrap(), None);
        assert!(muted_until(&settings(true, Some(10 + MAX_MUTE_MS + 1)), 10).is_err());
    }

    #[test]
    fn subscriptions_are_capped_per_user() {
        assert!(may_subscribe(MAX_SUBSCRIPTIONS_PER_USER - 1).is_ok());
        assert!(may_subscribe(MAX_SUBSCRIPTIONS_PER_USER).is_err());
    }

    #[test]
    fn a_timed_mute_ends_by_itself() {
        assert!(is_muted(Some(50), 49));
        assert!(!is_muted(Some(50), 50));
        assert!(!is_muted(None, 0));
        assert_eq!(mute_view(Some(50), 10), (true, Some(50)));
        assert_eq!(mute_view(Some(50), 60), (false, None));
        assert_eq!(mute_view(Some(MUTED_FOREVER), 60), (true, None));
    }

    #[test]
    fn pushes_go_at_once_after_a_quiet_window_and_together_within_one() {
        let w = 3000;
        assert_eq!(due_at(0, 0, None, 100, w), 100, "the first push goes at once");
        assert_eq!(due_at(0, 0, Some(100), 1000, w), 3100, "the next waits for the window");
        assert_eq!(due_at(1, 3100, Some(100), 2000, w), 3100, "and later ones join it");
        assert_eq!(due_at(0, 3100, Some(100), 9000, w), 9000, "after a quiet window: at once");
    }
}
