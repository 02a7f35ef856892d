//! Attachments: who may link an uploaded file into a message, who may read it, and when a file
//! nobody links is garbage.

use crate::attachments::UnlinkedAttachment;
use crate::error::{Error, Result};

/// How long an upload may wait for its first message before it is collected.
pub const UNLINKED_GRACE_MS: i64 = 24 * 3600 * 1000;

/// A message may link only an attachment its sender uploaded (`uploader`: the uploader of the
/// attachment the message names, `None` when there is no such attachment). Another user's upload,
/// or an id that names nothing, is `InvalidMessage`, the same for both so a sender learns nothing
/// about other users' files.
pub fn may_link(uploader: Option<&str>, sender: &str) -> Result<()> {
    match uploader {
        Some(u) if u == sender => Ok(()),
        _ => Err(Error::InvalidMessage("`attachmentId` names no attachment you uploaded".into())),
    }
}

/// Whether `viewer` may read an attachment: its uploader always; anyone else only while a message
/// linking it is in a conversation they belong to (`in_linking_conversation`).
pub fn may_read(uploader: &str, viewer: &str, in_linking_conversation: bool) -> bool {
    uploader == viewer || in_linking_conversation
}

/// Whether an attachment no message links any more is garbage at `now`: at once if a message
/// linked it once (that message was deleted, expired or purged), else after
/// [`UNLINKED_GRACE_MS`] (an upload whose message never came).
pub fn is_garbage(unlinked: &UnlinkedAttachment, now: i64) -> bool {
    unlinked.first_linked_at.is_some() || now - unlinked.created_at >= UNLINKED_GRACE_MS
}

/// The oldest creation time an attachment never linked may have and still be kept at `now`: an
/// adapter's query may narrow its candidates with it, then decides with [`is_garbage`].
pub fn grace_cutoff(now: i64) -> i64 {
    now - UNLINKED_GRACE_MS
}

/// A file name as the uploader gave it, made safe to store and to send back in a
/// `Content-Disposition`: the last path component, without control characters, quotes or
/// backslashes, at most 255 bytes; `file` when nothing is left.
pub fn clean_filename(raw: Option<&str>) -> String {
    let base = raw.unwrap_or("").rsplit(['/', '\\']).next().unwrap_or("");
    let mut name: String =
        base.chars().filter(|c| !c.is_control() && !matches!(c, '"' | '\\')).collect::<String>();
    name = name.trim().trim_start_matches('.').to_string();
    while name.len() > 255 {
        name.pop();
    }
    if name.is_empty() {
        "file".to_string()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_uploader_links_and_others_learn_nothing() {
        assert!(may_link(Some("ann"), "ann").is_ok());
        let foreign = may_link(Some("bob"), "ann").unwrap_err();
        let missing = may_link(None, "ann").unwrap_err();
        assert_eq!(foreign, missing, "another user's file and no file read the same");
    }

    #[test]
    fn readers_are_the_uploader_and_members_where_it_is_linked() {
        assert!(may_read("ann", "ann", false));
        assert!(may_read("ann", "bob", true));
        assert!(!may_read("ann", "bob", false));
    }

    #[test]
    fn unlinked_files_wait_a_day_unless_a_message_linked_them_once() {
        let fresh =
            UnlinkedAttachment { attachment_id: "a".into(), created_at: 1_000, first_linked_at: None };
        assert!(!is_garbage(&fresh, 1_000 + UNLINKED_GRACE_MS - 1));
        assert!(is_garbage(&fresh, 1_000 + UNLINKED_GRACE_MS));
        let was_linked = UnlinkedAttachment { first_linked_at: Some(1_500), ..fresh };
        assert!(is_garbage(&was_linked, 2_000), "its message is gone: no reason to wait");
        assert_eq!(grace_cutoff(UNLINKED_GRACE_MS + 5), 5);
    }

    #[test]
    fn file_names_lose_paths_quotes_and_control_characters() {
        assert_eq!(clean_filename(Some("../../etc/passwd")), "passwd");
        assert_eq!(clean_filename(Some("C:\\Users\\x\\photo.jpg")), "photo.jpg");
        assert_eq!(clean_filename(Some("a\"b\r\nc.txt")), "abc.txt");
        assert_eq!(clean_filename(Some("..")), "file");
        assert_eq!(clean_filename(Some(".hidden")), "hidden");
        assert_eq!(clean_filename(None), "file");
        let long = "é".repeat(200);
        let cleaned = clean_filename(Some(&long));
        assert!(cleaned.len() <= 255 && cleaned.is_char_boundary(cleaned.len()));
    }
}
