//! Moderation: which message a report names, the texts of reports, resolutions and bans, who may
//! be banned, and whether a ban is in force.

use confab_proto::Ban;

use crate::error::{Error, Result};
use crate::rows::LocatedMessage;

/// Longest report reason, resolution or ban reason, in characters.
pub const MAX_TEXT_CHARS: usize = 1000;
/// Latest end a timed ban may have: a hundred years from when it is set (longer: ban for good).
pub const MAX_BAN_MILLIS: i64 = 100 * 365 * 24 * 3600 * 1000;

/// The message a report by `reporter` names, among every stored message with its `messageId`
/// (see [`crate::rules::access::meant_by`] for why there may be several): one in a conversation
/// the reporter is in, sent by someone else; the newest when several are. `MessageNotFound` when
/// there is none, so a report reveals nothing about conversations the reporter is not in; when
/// the reporter's own message is the only one they can see, `INVALID_REQUEST`.
pub fn reported_message(reporter: &str, found: Vec<LocatedMessage>) -> Result<LocatedMessage> {
    let visible: Vec<LocatedMessage> = found.into_iter().filter(|m| m.viewer_is_member).collect();
    let own = visible.iter().any(|m| m.sender_id == reporter);
    let rank = |m: &LocatedMessage| (m.created_at, m.sequence_number);
    visible
        .into_iter()
        .filter(|m| m.sender_id != reporter)
        .max_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.conversation_id.cmp(&b.conversation_id)))
        .ok_or_else(|| {
            if own {
                Error::InvalidRequest("you cannot report your own message".into())
            } else {
                Error::MessageNotFound
            }
        })
}

/// A free text of moderation (`field`: its name in errors): NFC, trimmed, line breaks kept,
/// 1–[`MAX_TEXT_CHARS`] characters, without control, bidirectional-control or zero-width
/// characters (other than line breaks and tabs).
pub fn text(field: &str, raw: &str) -> Result<String> {
    use unicode_normalization::UnicodeNormalization;
    let text: String = raw.trim().nfc().collect();
    let count = text.chars().count();
    if count == 0 || count > MAX_TEXT_CHARS {
        return Err(Error::InvalidRequest(format!("{field} must be 1-{MAX_TEXT_CHARS} characters")));
    }
    let refused = text.chars().find(|c| {
        let invisible = matches!(u32::from(*c), 0x200B..=0x200D | 0x2060 | 0xFEFF);
        let bidi = matches!(u32::from(*c), 0x202A..=0x202E | 0x2066..=0x2069 | 0x200E | 0x200F | 0x061C);
        (c.is_control() && *c != '\n' && *c != '\t') || invisible || bidi
    });
    if let Some(c) = refused {
        return Err(Error::InvalidRequest(format!("{field} must not contain U+{:04X}", u32::from(c))));
    }
    Ok(text)
}

/// The end of a ban set at `now`: absent (until lifted), or a moment after `now` and at most
/// [`MAX_BAN_MILLIS`] later.
pub fn ban_until(until: Option<i64>, now: i64) -> Result<Option<i64>> {
    match until {
        None => Ok(None),
        Some(t) if t > now && t - now <= MAX_BAN_MILLIS => Ok(Some(t)),
        Some(_) => Err(Error::InvalidRequest(
            "until must be a time in the future (ms since the epoch), at most 100 years away".into(),
        )),
    }
}

/// Whether `target` may be banned by `actor` (`None`: the command line): nobody bans an
/// administrator, themselves included, so the server always keeps the administrators it was
/// configured with.
pub fn may_ban(actor: Option<&str>, target: &str, target_is_admin: bool) -> Result<()> {
    if actor == Some(target) {
        return Err(Error::Forbidden("you cannot ban yourself".into()));
    }
    if target_is_admin {
        return Err(Error::Forbidden("administrators cannot be banned".into()));
    }
    Ok(())
}

/// Whether `ban` is in force at `now`: until lifted, or until its end.
pub fn in_force(ban: &Ban, now: i64) -> bool {
    match ban.until {
        None => true,
        Some(until) => until > now,
    }
}

/// The error a banned user gets.
pub fn refusal(ban: &Ban) -> Error {
    Error::Banned { reason: ban.reason.clone(), until: ban.until }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(conv: &str, seq: u64, sender: &str, at: i64, member: bool) -> LocatedMessage {
        LocatedMessage {
            conversation_id: conv.into(),
            sequence_number: seq,
            sender_id: sender.into(),
            created_at: at,
            viewer_is_member: member,
        }
    }

    #[test]
    fn a_report_names_someone_elses_message_the_reporter_can_see() {
        let pick = reported_message(
            "me",
            vec![
                found("c1", 1, "bob", 10, true),
                found("c2", 4, "eve", 20, false),
                found("c3", 2, "me", 30, true),
                found("c4", 3, "carol", 15, true),
            ],
        )
        .unwrap();
        assert_eq!((pick.conversation_id.as_str(), pick.sender_id.as_str()), ("c4", "carol"));
        assert_eq!(
            reported_message("me", vec![found("c2", 4, "eve", 20, false)]).unwrap_err(),
            Error::MessageNotFound,
            "not a member: not found, as if nothing existed"
        );
        assert_eq!(reported_message("me", vec![]).unwrap_err(), Error::MessageNotFound);
        assert!(matches!(
            reported_message("me", vec![found("c3", 2, "me", 30, true)]),
            Err(Error::InvalidRequest(_))
        ));
    }

    #[test]
    fn texts_are_bounded_and_visible() {
        assert_eq!(text("reason", "  spam\nand more \t").unwrap(), "spam\nand more");
        assert!(text("reason", "   ").is_err());
        assert!(text("reason", &"x".repeat(MAX_TEXT_CHARS)).is_ok());
        assert!(text("reason", &"é".repeat(MAX_TEXT_CHARS + 1)).is_err());
        for bad in ["a\u{202E}b", "a\u{200B}b", "a\u{0007}b"] {
            assert!(text("reason", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bans_end_in_the_future_or_never() {
        assert_eq!(ban_until(None, 100), Ok(None));
        assert_eq!(ban_until(Some(101), 100), Ok(Some(101)));
        assert!(ban_until(Some(100), 100).is_err(), "now is not the future");
        assert!(ban_until(Some(100 + MAX_BAN_MILLIS + 1), 100).is_err());
        let ban =
            |until| Ban { user_id: "u".into(), reason: "r".into(), until, banned_at: 0, banned_by: None };
        assert!(in_force(&ban(None), i64::MAX));
        assert!(in_force(&ban(Some(50)), 49));
        assert!(!in_force(&ban(Some(50)), 50));
    }

    #[test]
    fn administrators_and_oneself_are_never_banned() {
        assert!(may_ban(Some("a"), "u", false).is_ok());
        assert!(may_ban(None, "u", false).is_ok());
        assert!(matches!(may_ban(Some("a"), "a", true), Err(Error::Forbidden(_))));
        assert!(matches!(may_ban(Some("a"), "b", true), Err(Error::Forbidden(_))));
        assert!(matches!(may_ban(None, "b", true), Err(Error::Forbidden(_))));
    }
}
