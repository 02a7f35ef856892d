//! Disappearing messages and retention. A message sent with `expiresInSeconds` expires at
//! `timestamp + expiresInSeconds`: from then on every read answers it as a tombstone, and the
//! sweeper erases its content in storage (taking the next update sequence, as a delete does, so
//! sync carries the tombstone). Retention (the server's `--retention-days` and a group's
//! `retentionDays`, the shorter of the two when both are set) removes old messages altogether:
//! the conversation's `firstSequence` moves past them and history below it is gone.

use confab_proto::{Content, GroupSettings, Message};

use crate::error::{Error, Result};

/// The longest a disappearing message may live: one year.
pub const MAX_EXPIRES_IN_SECONDS: u64 = 365 * 24 * 3600;
/// The longest retention a group may set: 100 years (0 turns it off).
pub const MAX_RETENTION_DAYS: u32 = 36_500;
const DAY_MS: i64 = 24 * 3600 * 1000;

/// A send's `expiresInSeconds`: 1 s to [`MAX_EXPIRES_IN_SECONDS`] (`InvalidMessage` otherwise).
pub fn expires_in(seconds: Option<u64>) -> Result<Option<u32>> {
    match seconds {
        None => Ok(None),
        Some(s) if (1..=MAX_EXPIRES_IN_SECONDS).contains(&s) => Ok(u32::try_from(s).ok()),
        Some(s) => Err(Error::InvalidMessage(format!(
            "expiresInSeconds must be between 1 and {MAX_EXPIRES_IN_SECONDS}, not {s}"
        ))),
    }
}

/// When a message stored at `timestamp` with `expires_in` seconds expires.
pub fn expires_at(timestamp: i64, expires_in: Option<u32>) -> Option<i64> {
    expires_in.map(|s| timestamp.saturating_add(i64::from(s) * 1000))
}

/// Whether `message` has expired by `now`.
pub fn expired(message: &Message, now: i64) -> bool {
    message.expires_at.is_some_and(|at| at <= now)
}

/// Turns `message` into the tombstone every reader sees: what a delete for everyone leaves.
pub fn erase(message: &mut Message) {
    message.content = Content::Deleted;
    message.deleted = Some(true);
    message.reply_to = None;
    message.reply_to_sequence = None;
    message.edited_at = None;
    message.reactions = None;
}

/// A stored message as readers see it at `now`: an expired message is a tombstone even before
/// the sweeper has erased it.
pub fn present(mut message: Message, now: i64) -> Message {
    if expired(&message, now) && !message.is_deleted() {
        erase(&mut message);
    }
    message
}

/// A group's settings are valid when `retentionDays` is at most [`MAX_RETENTION_DAYS`].
pub fn check_settings(settings: &GroupSettings) -> Result<()> {
    if settings.retention_days > MAX_RETENTION_DAYS {
        return Err(Error::InvalidRequest(format!(
            "retentionDays must be between 0 and {MAX_RETENTION_DAYS}"
        )));
    }
    Ok(())
}

/// The retention that applies to a conversation, in days: the shorter of the server's and the
/// group's, ignoring either that is 0 (no limit); 0 when neither limits it.
pub fn effective_days(server_days: u32, group_days: u32) -> u32 {
    match (server_days, group_days) {
        (0, g) => g,
        (s, 0) => s,
        (s, g) => s.min(g),
    }
}

/// Messages stored before this time (ms) are past a retention of `days` at `now`; `None` when
/// `days` is 0 (keep forever).
pub fn retention_cutoff(now: i64, days: u32) -> Option<i64> {
    (days > 0).then(|| now.saturating_sub(i64::from(days) * DAY_MS))
}

/// The oldest sequence still stored, for a conversation whose newest message is `last_sequence`
/// and whose messages up to `purged_up_to` retention has removed: 0 while it has no message,
/// `last_sequence + 1` when retention removed them all.
pub fn first_sequence(last_sequence: u64, purged_up_to: u64) -> u64 {
    if last_sequence == 0 {
        0
    } else {
        purged_up_to.saturating_add(1)
    }
}

/// How far retention removes in one batch: `oldest` holds a conversation's oldest stored
/// messages (sequence number and time, ascending by sequence); the result is the sequence number
/// ending their leading run stored before `cutoff` (`None`: nothing to remove). Stopping at the
/// first newer message keeps `firstSequence` a clean bound even if clocks of several nodes
/// disagreed on a few timestamps.
pub fn purge_bound(oldest: &[(u64, i64)], cutoff: i64) -> Option<u64> {
    oldest.iter().take_while(|(_, at)| *at < cutoff).map(|(seq, _)| *seq).last()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(expires_at: Option<i64>) -> Message {
        let mut m =
            Message::new("m".into(), "c".into(), "u".into(), Content::Text { text: "hi".into() }, 1, 0);
        m.expires_at = expires_at;
        m.reply_to = Some("r".into());
        m
    }

    #[test]
    fn expires_in_is_one_second_to_one_year() {
        assert_eq!(expires_in(None).unwrap(), None);
        assert_eq!(expires_in(Some(1)).unwrap(), Some(1));
        assert_eq!(expires_in(Some(MAX_EXPIRES_IN_SECONDS)).unwrap(), Some(31_536_000));
        assert!(matches!(expires_in(Some(0)), Err(Error::InvalidMessage(_))));
        assert!(matches!(expires_in(Some(MAX_EXPIRES_IN_SECONDS + 1)), Err(Error::InvalidMessage(_))));
        assert!(matches!(expires_in(Some(u64::MAX)), Err(Error::InvalidMessage(_))));
        assert_eq!(expires_at(1_000, Some(30)), Some(31_000));
    }

    #[test]
    fn an_expired_message_reads_as_a_tombstone() {
        let live = present(message(Some(10)), 9);
        assert_eq!(live.content, Content::Text { text: "hi".into() });
        let gone = present(message(Some(10)), 10);
        assert_eq!(
            (gone.content, gone.deleted, gone.reply_to, gone.expires_at),
            (Content::Deleted, Some(true), None, Some(10))
        );
        assert!(!present(message(None), i64::MAX).is_deleted());
    }

    #[test]
    fn the_shorter_retention_wins_and_zero_means_none() {
        assert_eq!(effective_days(0, 0), 0);
        assert_eq!(effective_days(30, 0), 30);
        assert_eq!(effective_days(0, 7), 7);
        assert_eq!(effective_days(30, 7), 7);
        assert_eq!(effective_days(7, 30), 7);
        assert_eq!(retention_cutoff(10 * DAY_MS, 0), None);
        assert_eq!(retention_cutoff(10 * DAY_MS, 3), Some(7 * DAY_MS));
    }

    #[test]
    fn first_sequence_follows_what_retention_removed() {
        assert_eq!(first_sequence(0, 0), 0);
        assert_eq!(first_sequence(5, 0), 1);
        assert_eq!(first_sequence(5, 3), 4);
        assert_eq!(first_sequence(5, 5), 6);
    }

    #[test]
    fn retention_removes_the_leading_run_of_old_messages() {
        assert_eq!(purge_bound(&[], 10), None);
        assert_eq!(purge_bound(&[(4, 10)], 10), None);
        assert_eq!(purge_bound(&[(4, 1), (5, 2), (6, 11), (7, 3)], 10), Some(5));
        assert_eq!(purge_bound(&[(4, 1), (5, 2)], 10), Some(5));
    }

    #[test]
    fn group_retention_is_bounded() {
        let ok = GroupSettings { retention_days: MAX_RETENTION_DAYS, ..Default::default() };
        assert!(check_settings(&ok).is_ok());
        let too_long = GroupSettings { retention_days: MAX_RETENTION_DAYS + 1, ..Default::default() };
        assert!(matches!(check_settings(&too_long), Err(Error::InvalidRequest(_))));
    }
}
