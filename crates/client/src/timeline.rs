//! A client's copy of its conversations: every message it has, in its latest known state, and
//! the cursors to sync from. It takes `message.new`, `message.updated` and sync results in any
//! order and any number of times and converges to the server's state:
//!
//! - a message is placed by `sequenceNumber`, and a copy replaces the one held only when its
//!   `updateSequence` is higher (so a late or repeated frame never undoes a newer change);
//! - the cursors (`lastSequence`, `lastUpdateSequence`) only advance over what is contiguous, so a
//!   frame that went missing leaves a gap the next sync (from [`Timeline::cursors`]) fills.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use confab_proto::{Message, ServerFrame, SyncCursor, SyncResponse};

/// One conversation as the client holds it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConversationTimeline {
    /// Messages by sequence number, each in its latest known state.
    pub messages: BTreeMap<u64, Message>,
    /// Every message up to here is held.
    pub last_sequence: u64,
    /// Every change up to here is applied.
    pub last_update_sequence: u64,
    /// Changes applied beyond a gap after `last_update_sequence` (frames can arrive out of order
    /// in a cluster); the cursor moves over them once the gap fills.
    ahead: BTreeSet<u64>,
}

impl ConversationTimeline {
    /// Moves the update cursor over contiguous changes only: a missed change leaves it where sync
    /// must resume.
    fn saw_update(&mut self, update_sequence: u64) {
        if update_sequence > self.last_update_sequence {
            self.ahead.insert(update_sequence);
        }
        while self.ahead.remove(&(self.last_update_sequence + 1)) {
            self.last_update_sequence += 1;
        }
    }

    /// Keeps `m` unless a copy at least as new is held.
    fn put(&mut self, m: Message) {
        match self.messages.get(&m.sequence_number) {
            Some(held) if held.update_sequence >= m.update_sequence => {}
            _ => {
                self.messages.insert(m.sequence_number, m);
            }
        }
        while self.messages.contains_key(&(self.last_sequence + 1)) {
            self.last_sequence += 1;
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Timeline {
    conversations: HashMap<String, ConversationTimeline>,
}

impl Timeline {
    pub fn new() -> Timeline {
        Timeline::default()
    }

    pub fn conversation(&self, id: &str) -> Option<&ConversationTimeline> {
        self.conversations.get(id)
    }

    /// Applies a live frame: `message.new` and `message.updated` change the timeline; other frames
    /// are ignored. Returns whether it was one of those two.
    pub fn apply_frame(&mut self, frame: &ServerFrame) -> bool {
        match frame {
            ServerFrame::MessageNew(m) => {
                self.entry(&m.conversation_id).put(m.clone());
                true
            }
            ServerFrame::MessageUpdated(u) => {
                let c = self.entry(&u.message.conversation_id);
                c.saw_update(u.message.update_sequence);
                c.put(u.message.clone());
                true
            }
            _ => false,
        }
    }

    /// Applies a sync result: new messages, changed ones, and the cursors it hands back.
    pub fn apply_sync(&mut self, response: &SyncResponse) {
        for entry in &response.conversations {
            let c = self.entry(&entry.conversation_id);
            for m in entry.messages.iter().chain(entry.updates.iter().flatten()) {
                c.put(m.clone());
            }
            if entry.updates.is_some() && entry.last_update_sequence > c.last_update_sequence {
                c.last_update_sequence = entry.last_update_sequence;
                let beyond = c.ahead.split_off(&(entry.last_update_sequence + 1));
                c.ahead = beyond;
                c.saw_update(0);
            }
        }
        for conversation in &response.new_conversations {
            self.entry(&conversation.conversation_id);
        }
    }

    /// The cursors to sync from: every conversation held, asking for changes too.
    pub fn cursors(&self) -> Vec<SyncCursor> {
        let mut cursors: Vec<SyncCursor> = self
            .conversations
            .iter()
            .map(|(id, c)| SyncCursor::with_updates(id.clone(), c.last_sequence, c.last_update_sequence))
            .collect();
        cursors.sort_by(|a, b| a.conversation_id.cmp(&b.conversation_id));
        cursors
    }

    fn entry(&mut self, id: &str) -> &mut ConversationTimeline {
        self.conversations.entry(id.to_string()).or_default()
    }
}

#[cfg(test)]
mod tests {
    use confab_proto::frames::MessageUpdatedPayload;
    use confab_proto::{Content, SyncConversation};

    use super::*;

    fn message(seq: u64, text: &str, update: u64) -> Message {
        let mut m = Message::new(
            format!("m{seq}"),
            "c".into(),
            "u".into(),
            Content::Text { text: text.into() },
            seq,
            0,
        );
        m.update_sequence = update;
        m
    }

    fn updated(m: Message) -> ServerFrame {
        ServerFrame::MessageUpdated(MessageUpdatedPayload { message: m })
    }

    #[test]
    fn a_late_frame_never_undoes_a_newer_change() {
        let mut t = Timeline::new();
        t.apply_frame(&ServerFrame::MessageNew(message(1, "a", 0)));
        t.apply_frame(&updated(message(1, "c", 2)));
        t.apply_frame(&updated(message(1, "b", 1)));
        t.apply_frame(&ServerFrame::MessageNew(message(1, "a", 0)));
        let c = t.conversation("c").unwrap();
        assert_eq!(c.messages[&1].content, Content::Text { text: "c".into() });
        // Update 2 came before 1: the cursor waited at the gap, then moved over both.
        assert_eq!((c.last_sequence, c.last_update_sequence), (1, 2));
        t.apply_frame(&updated(message(1, "e", 4)));
        assert_eq!(t.conversation("c").unwrap().last_update_sequence, 2, "3 is missing: sync from 2");
    }

    #[test]
    fn sync_fills_gaps_and_hands_back_the_cursors() {
        let mut t = Timeline::new();
        t.apply_frame(&ServerFrame::MessageNew(message(1, "a", 0)));
        t.apply_frame(&ServerFrame::MessageNew(message(3, "c", 0)));
        assert_eq!(t.cursors(), vec![SyncCursor::with_updates("c", 1, 0)]);
        let entry = SyncConversation {
            conversation_id: "c".into(),
            messages: vec![message(2, "b", 0), message(3, "c", 0)],
            has_more: false,
            last_sequence: 3,
            unread_count: 0,
            updates: Some(vec![message(1, "a, edited", 4)]),
            last_update_sequence: 4,
            first_sequence: 1,
        };
        t.apply_sync(&SyncResponse { conversations: vec![entry], new_conversations: vec![], server_time: 0 });
        let c = t.conversation("c").unwrap();
        assert_eq!((c.last_sequence, c.last_update_sequence), (3, 4));
        assert_eq!(c.messages[&1].update_sequence, 4);
    }
}
