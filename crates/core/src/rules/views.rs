//! What one member sees: a conversation (with their own read state), and the catch-up an offline
//! device gets from sync.

use std::cmp::Ordering;

use confab_proto::{Conversation, Message, Participant, Role, SyncConversation, SyncCursor};

use crate::rows::MemberRow;
use crate::store::{HistoryPage, MAX_LISTED_PARTICIPANTS};

use super::access::Membership;
use super::expiry;
use super::push;
use super::updates::{self, UpdatePage};

/// The order participants are listed in: admins first, then by seniority (`joined_at`, then id).
pub fn listing_order(a: &MemberRow, b: &MemberRow) -> Ordering {
    (a.role != Role::Admin, a.joined_at, &a.user_id).cmp(&(b.role != Role::Admin, b.joined_at, &b.user_id))
}

/// The conversation as `m.member` sees it. `listed` holds at least the first
/// [`MAX_LISTED_PARTICIPANTS`] members in [`listing_order`] (or every member); `last_message` is
/// the message at the conversation's last sequence; `last_update_sequence` the conversation's;
/// `now` decides whether a mute has ended.
pub fn conversation(
    m: Membership,
    mut listed: Vec<MemberRow>,
    last_message: Option<Message>,
    last_update_sequence: u64,
    now: i64,
) -> Conversation {
    listed.sort_by(listing_order);
    listed.truncate(MAX_LISTED_PARTICIPANTS);
    let c = m.conversation;
    let last_read = m.member.last_read_sequence;
    let (muted, muted_until) = push::mute_view(m.member.muted_until, now);
    Conversation {
        conversation_id: c.conversation_id,
        kind: c.kind,
        name: c.name,
        participants: listed.into_iter().map(|p| Participant { user_id: p.user_id, role: p.role }).collect(),
        member_count: c.member_count,
        settings: c.settings,
        created_at: c.created_at,
        last_sequence: c.last_sequence,
        last_message,
        last_read_sequence: last_read,
        unread_count: c.last_sequence.saturating_sub(last_read),
        last_update_sequence,
        first_sequence: expiry::first_sequence(c.last_sequence, c.purged_up_to),
        muted,
        muted_until,
    }
}

/// How a sync splits a user's conversations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncPlan<'a> {
    /// Cursors of the user's conversations, in the order given: each gets the messages after it.
    pub catch_up: Vec<&'a SyncCursor>,
    /// The user's conversations with no cursor (most recently active first): each comes back whole.
    pub new: Vec<&'a str>,
}

/// Splits `mine` (the user's conversations, most recently active first) by `cursors`; cursors of
/// conversations the user is not in are ignored.
pub fn sync_plan<'a>(mine: &'a [String], cursors: &'a [SyncCursor]) -> SyncPlan<'a> {
    SyncPlan {
        catch_up: cursors.iter().filter(|c| mine.contains(&c.conversation_id)).collect(),
        new: mine
            .iter()
            .filter(|id| !cursors.iter().any(|c| &c.conversation_id == *id))
            .map(String::as_str)
            .collect(),
    }
}

/// The changed messages a cursor asks for (when it carries `lastUpdateSequence`): those up to
/// its `lastSequence` (later ones come whole with the page).
pub fn update_window(cursor: &SyncCursor, limit: u32) -> Option<updates::UpdateWindow> {
    cursor.last_update_sequence.map(|after| updates::UpdateWindow {
        up_to_sequence: cursor.last_sequence,
        after,
        limit,
    })
}

/// One caught-up conversation: the page after the cursor, the member's unread count and, when
/// asked for, the changes since the cursor's update sequence (`hasMore` when either page is cut
/// short); `last_update_sequence` is the conversation's.
pub fn caught_up(
    m: &Membership,
    page: HistoryPage,
    last_update_sequence: u64,
    changes: Option<UpdatePage>,
) -> SyncConversation {
    let last = m.conversation.last_sequence;
    let changes_cut = changes.as_ref().is_some_and(|c| c.has_more);
    SyncConversation {
        conversation_id: m.conversation.conversation_id.clone(),
        messages: page.messages,
        has_more: page.has_more || changes_cut,
        last_sequence: last,
        unread_count: last.saturating_sub(m.member.last_read_sequence),
        last_update_sequence: changes.as_ref().map_or(last_update_sequence, |c| c.cursor),
        updates: changes.map(|c| c.updates),
        first_sequence: expiry::first_sequence(last, m.conversation.purged_up_to),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::fixtures::{group, member};

    fn viewer(last_read: u64) -> Membership {
        let mut member = member("v", Role::Member, 0);
        member.last_read_sequence = last_read;
        Membership { conversation: group(), member }
    }

    #[test]
    fn a_view_carries_the_viewers_read_state() {
        let view = conversation(viewer(5), vec![], None, 3, 0);
        assert_eq!((view.last_sequence, view.last_read_sequence, view.unread_count), (7, 5, 2));
        assert_eq!((view.last_update_sequence, view.first_sequence), (3, 1));
    }

    #[test]
    fn admins_are_listed_first_then_by_seniority_and_the_list_is_capped() {
        let listed =
            vec![member("m2", Role::Member, 2), member("a", Role::Admin, 9), member("m1", Role::Member, 2)];
        let view = conversation(viewer(0), listed, None, 0, 0);
        let ids: Vec<&str> = view.participants.iter().map(|p| p.user_id.as_str()).collect();
        assert_eq!(ids, ["a", "m1", "m2"]);
        let many = (0..MAX_LISTED_PARTICIPANTS + 5)
            .map(|i| member(&format!("u{i}"), Role::Member, i as i64))
            .collect();
        assert_eq!(conversation(viewer(0), many, None, 0, 0).participants.len(), MAX_LISTED_PARTICIPANTS);
    }

    #[test]
    fn sync_catches_up_known_conversations_and_returns_the_rest_whole() {
        let mine = vec!["new".to_string(), "known".to_string(), "other".to_string()];
        let cursor = |id: &str| SyncCursor::new(id, 1);
        let cursors = [cursor("known"), cursor("not-mine"), cursor("other")];
        let plan = sync_plan(&mine, &cursors);
        let ids: Vec<&str> = plan.catch_up.iter().map(|c| c.conversation_id.as_str()).collect();
        assert_eq!(ids, ["known", "other"]);
        assert_eq!(plan.new, ["new"]);
        let synced = caught_up(&viewer(3), HistoryPage { messages: vec![], has_more: true }, 5, None);
        assert_eq!((synced.last_sequence, synced.unread_count, synced.has_more), (7, 4, true));
        assert_eq!((synced.last_update_sequence, synced.updates, synced.first_sequence), (5, None, 1));
    }

    #[test]
    fn changes_are_asked_for_up_to_the_cursor_and_a_cut_page_says_has_more() {
        assert_eq!(update_window(&SyncCursor::new("c", 4), 10), None);
        let w = update_window(&SyncCursor::with_updates("c", 4, 2), 10).unwrap();
        assert_eq!((w.up_to_sequence, w.after, w.limit), (4, 2, 10));
        let cut = UpdatePage { updates: vec![], has_more: true, cursor: 2 };
        let page = HistoryPage { messages: vec![], has_more: false };
        let synced = caught_up(&viewer(3), page, 9, Some(cut));
        assert_eq!((synced.has_more, synced.last_update_sequence, synced.updates), (true, 2, Some(vec![])));
    }
}
