//! History paging: which messages a page asks the store for, where the page ends, whether more
//! exist beyond it, and the status of the viewer's own messages in it.

use confab_proto::Message;

use crate::rows::OtherMarkers;
use crate::store::{own_message_status, HistoryCursor, HistoryPage};

/// The messages to read for a page: those with `above < sequence < below`, starting from the end
/// nearest the cursor (`newest_first` or oldest first), at most [`PageWindow::fetch`] of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageWindow {
    pub above: u64,
    pub below: u64,
    pub newest_first: bool,
    /// How many messages the page holds.
    pub limit: u32,
}

impl PageWindow {
    /// One more than the page holds: whether that one exists is whether there is more.
    pub fn fetch(&self) -> u64 {
        u64::from(self.limit) + 1
    }
}

/// The window of a page of `limit` messages at `cursor`.
pub fn window(cursor: HistoryCursor, limit: u32) -> PageWindow {
    match cursor {
        HistoryCursor::Latest => PageWindow { above: 0, below: u64::MAX, newest_first: true, limit },
        HistoryCursor::Before(seq) => PageWindow { above: 0, below: seq, newest_first: true, limit },
        HistoryCursor::After(seq) => PageWindow { above: seq, below: u64::MAX, newest_first: false, limit },
    }
}

/// Whether a page needs the other members' markers: only the viewer's own messages get a status.
pub fn needs_statuses(rows: &[Message], viewer: &str) -> bool {
    rows.iter().any(|m| m.sender_id == viewer)
}

/// The page from the rows read for `window` (in the window's order): at most `limit` messages,
/// ascending, `has_more` when the store had another beyond them, and each of the viewer's own
/// messages marked `SENT`, `DELIVERED` or `READ` from `others`.
pub fn page(window: &PageWindow, mut rows: Vec<Message>, viewer: &str, others: OtherMarkers) -> HistoryPage {
    let has_more = rows.len() > window.limit as usize;
    rows.truncate(window.limit as usize);
    if window.newest_first {
        rows.reverse();
    }
    for m in rows.iter_mut().filter(|m| m.sender_id == viewer) {
        m.status = Some(own_message_status(m.sequence_number, others.min_delivered, others.min_read));
    }
    HistoryPage { messages: rows, has_more }
}

#[cfg(test)]
mod tests {
    use confab_proto::{Content, MessageStatus};

    use super::*;

    fn message(seq: u64, sender: &str) -> Message {
        Message::new(format!("m{seq}"), "c".into(), sender.into(), Content::Text { text: "t".into() }, seq, 0)
    }

    /// What a store holding messages 1..=n returns for `w`.
    fn read(n: u64, w: &PageWindow) -> Vec<Message> {
        let mut seqs: Vec<u64> = (1..=n).filter(|s| *s > w.above && *s < w.below).collect();
        if w.newest_first {
            seqs.reverse();
        }
        seqs.into_iter().take(w.fetch() as usize).map(|s| message(s, "x")).collect()
    }

    fn seqs(p: &HistoryPage) -> Vec<u64> {
        p.messages.iter().map(|m| m.sequence_number).collect()
    }

    #[test]
    fn windows_follow_the_cursor() {
        assert_eq!(
            window(HistoryCursor::Before(9), 3),
            PageWindow { above: 0, below: 9, newest_first: true, limit: 3 }
        );
        assert_eq!(window(HistoryCursor::After(9), 3).above, 9);
        assert!(!window(HistoryCursor::After(9), 3).newest_first);
        assert_eq!(window(HistoryCursor::Latest, u32::MAX).fetch(), u64::from(u32::MAX) + 1);
    }

    #[test]
    fn has_more_is_exact_at_page_edges() {
        let at = |n, cursor, limit| {
            let w = window(cursor, limit);
            page(&w, read(n, &w), "v", OtherMarkers::default())
        };
        let full = at(5, HistoryCursor::Latest, 5);
        assert_eq!((seqs(&full), full.has_more), (vec![1, 2, 3, 4, 5], false));
        let short = at(5, HistoryCursor::Latest, 4);
        assert_eq!((seqs(&short), short.has_more), (vec![2, 3, 4, 5], true));
        let rest = at(5, HistoryCursor::Before(2), 1);
        assert_eq!((seqs(&rest), rest.has_more), (vec![1], false));
        let tail = at(5, HistoryCursor::After(2), 3);
        assert_eq!((seqs(&tail), tail.has_more), (vec![3, 4, 5], false));
        assert!(at(5, HistoryCursor::After(2), 2).has_more);
        let none = at(5, HistoryCursor::After(5), 3);
        assert_eq!((none.messages.len(), none.has_more), (0, false));
        assert!(!at(0, HistoryCursor::Latest, 3).has_more);
        let empty = at(5, HistoryCursor::Latest, 0);
        assert_eq!((empty.messages.len(), empty.has_more), (0, true));
    }

    #[test]
    fn only_the_viewers_own_messages_get_a_status() {
        let rows = vec![message(3, "v"), message(2, "o"), message(1, "v")];
        assert!(needs_statuses(&rows, "v"));
        assert!(!needs_statuses(&rows[1..2], "v"));
        let w = window(HistoryCursor::Latest, 10);
        let others = OtherMarkers { min_delivered: Some(3), min_read: Some(1) };
        let p = page(&w, rows, "v", others);
        let statuses: Vec<_> = p.messages.iter().map(|m| m.status).collect();
        assert_eq!(statuses, [Some(MessageStatus::Read), None, Some(MessageStatus::Delivered)]);
    }
}
