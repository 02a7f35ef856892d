//! The update sequence as sync reads it: which changed messages a cursor asks for, where a page
//! of them ends, and the cursor the client keeps for next time.

use confab_proto::Message;

/// The changed messages to read for a cursor: those with `sequence <= up_to_sequence` (newer
/// ones come whole, in `messages`) and `update_sequence > after`, ascending by update sequence,
/// at most `fetch` of them (one more than the page holds, to know whether there is more).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdateWindow {
    pub up_to_sequence: u64,
    pub after: u64,
    pub limit: u32,
}

impl UpdateWindow {
    pub fn fetch(&self) -> u64 {
        u64::from(self.limit) + 1
    }
}

/// A page of changed messages.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdatePage {
    pub updates: Vec<Message>,
    /// More changes exist beyond this page.
    pub has_more: bool,
    /// Where the next sync continues: the conversation's current update sequence when the page
    /// holds every change, else the update sequence of the last one it holds.
    pub cursor: u64,
}

/// The page from the rows read for `window` (ascending by update sequence); `current` is the
/// conversation's last update sequence in the same snapshot.
pub fn page(window: &UpdateWindow, mut rows: Vec<Message>, current: u64) -> UpdatePage {
    let has_more = rows.len() > window.limit as usize;
    rows.truncate(window.limit as usize);
    let cursor = match (has_more, rows.last()) {
        (true, Some(last)) => last.update_sequence,
        (true, None) => window.after,
        (false, _) => current.max(window.after),
    };
    UpdatePage { updates: rows, has_more, cursor }
}

#[cfg(test)]
mod tests {
    use confab_proto::Content;

    use super::*;

    fn changed(seq: u64, update: u64) -> Message {
        let mut m = Message::new(
            format!("m{seq}"),
            "c".into(),
            "u".into(),
            Content::Text { text: "t".into() },
            seq,
            0,
        );
        m.update_sequence = update;
        m
    }

    #[test]
    fn a_complete_page_continues_from_the_current_update_sequence() {
        let w = UpdateWindow { up_to_sequence: 9, after: 2, limit: 3 };
        let p = page(&w, vec![changed(4, 3), changed(1, 6)], 6);
        assert_eq!((p.updates.len(), p.has_more, p.cursor), (2, false, 6));
        let none = page(&w, vec![], 7);
        assert_eq!((none.has_more, none.cursor), (false, 7));
    }

    #[test]
    fn a_cut_page_continues_after_its_last_update() {
        let w = UpdateWindow { up_to_sequence: 9, after: 2, limit: 2 };
        let p = page(&w, vec![changed(4, 3), changed(1, 6), changed(2, 8)], 8);
        assert_eq!((p.updates.len(), p.has_more, p.cursor), (2, true, 6));
        assert_eq!(w.fetch(), 3);
    }
}
