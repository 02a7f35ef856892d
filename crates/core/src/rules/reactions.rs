//! Reactions: what an emoji may be, how many one user may add to one message, and the summary a
//! message carries (count per emoji, exact; the first users listed), which adapters store with the
//! message so reads cost nothing extra.

use confab_proto::Reaction;

use crate::error::{Error, Result};
use crate::rows::ReactionRow;

/// Longest emoji, in bytes of UTF-8 (a long ZWJ sequence with skin tones fits).
pub const MAX_EMOJI_BYTES: usize = 64;
/// Most distinct emoji one user may have on one message.
pub const MAX_EMOJI_PER_USER: usize = 20;
/// Most users listed per emoji in a message's `reactions` (`count` stays exact).
pub const LISTED_REACTORS: usize = 20;

/// An emoji: 1–[`MAX_EMOJI_BYTES`] bytes with no whitespace and no control character, else
/// `InvalidRequest`. Which characters are "emoji" is left to clients (custom short codes work).
pub fn emoji(raw: &str) -> Result<()> {
    if raw.is_empty() || raw.len() > MAX_EMOJI_BYTES {
        return Err(Error::InvalidRequest(format!("an emoji must be 1-{MAX_EMOJI_BYTES} bytes")));
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::InvalidRequest(
            "an emoji must not contain whitespace or control characters".into(),
        ));
    }
    Ok(())
}

/// The summary of a message's reactions from its listed reaction rows (per emoji, the first
/// [`LISTED_REACTORS`] users to react, each row carrying the emoji's exact count): emoji in the
/// order their first user reacted (then by emoji), users earliest first. `None` when there is none.
pub fn summary(mut rows: Vec<ReactionRow>) -> Option<Vec<Reaction>> {
    rows.sort_by(|a, b| (a.at, &a.user_id).cmp(&(b.at, &b.user_id)));
    let mut out: Vec<(i64, Reaction)> = Vec::new();
    for row in rows {
        match out.iter_mut().find(|(_, r)| r.emoji == row.emoji) {
            Some((_, r)) => {
                if r.user_ids.len() < LISTED_REACTORS {
                    r.user_ids.push(row.user_id);
                }
            }
            None => out
                .push((row.at, Reaction { emoji: row.emoji, count: row.count, user_ids: vec![row.user_id] })),
        }
    }
    out.sort_by(|(a_at, a), (b_at, b)| (a_at, &a.emoji).cmp(&(b_at, &b.emoji)));
    (!out.is_empty()).then(|| out.into_iter().map(|(_, r)| r).collect())
}

/// The stored form of a summary (`None`: no reactions, stored as NULL).
pub fn encode(summary: &Option<Vec<Reaction>>) -> Result<Option<String>> {
    summary
        .as_ref()
        .map(|s| serde_json::to_string(s).map_err(|e| Error::Internal(format!("reaction encoding: {e}"))))
        .transpose()
}

/// Reads a stored summary back.
pub fn decode(stored: Option<&str>) -> Result<Option<Vec<Reaction>>> {
    stored
        .map(|s| {
            serde_json::from_str(s)
                .map_err(|e| Error::Internal(format!("stored reactions are unreadable: {e}")))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(emoji: &str, user: &str, at: i64, count: u32) -> ReactionRow {
        ReactionRow { emoji: emoji.into(), user_id: user.into(), at, count }
    }

    #[test]
    fn emoji_rules() {
        for ok in ["👍", "🏳️‍🌈", "👩🏽‍💻", ":party_parrot:", "+1", &"x".repeat(64)] {
            assert_eq!(emoji(ok), Ok(()), "{ok}");
        }
        for bad in ["", "a b", "\u{3000}", "tab\t", "nl\n", "\u{7}", &"x".repeat(65), &"😀".repeat(17)] {
            assert!(matches!(emoji(bad), Err(Error::InvalidRequest(_))), "{bad:?}");
        }
    }

    #[test]
    fn summaries_keep_first_reaction_order_and_exact_counts() {
        assert_eq!(summary(vec![]), None);
        let s = summary(vec![row("🎉", "b", 5, 1), row("👍", "c", 3, 30), row("👍", "a", 1, 30)]).unwrap();
        assert_eq!(s.iter().map(|r| r.emoji.as_str()).collect::<Vec<_>>(), ["👍", "🎉"]);
        assert_eq!((s[0].count, s[0].user_ids.clone()), (30, vec!["a".to_string(), "c".to_string()]));
        let many: Vec<ReactionRow> = (0..25).map(|i| row("x", &format!("u{i:02}"), i, 25)).collect();
        let s = summary(many).unwrap();
        assert_eq!((s[0].count as usize, s[0].user_ids.len()), (25, LISTED_REACTORS));
        assert_eq!(s[0].user_ids[0], "u00");
        let stored = encode(&Some(s.clone())).unwrap();
        assert_eq!(decode(stored.as_deref()).unwrap(), Some(s));
        assert_eq!(encode(&None).unwrap(), None);
        assert!(decode(Some("not json")).is_err());
    }
}
