//! Bounds on sync, the one request whose answer grows with everything a user belongs to. Pure
//! functions the gateway applies before and after the store, whatever the transport.
//!
//! A request is checked and narrowed before the store sees it ([`plan`]): cursors are
//! deduplicated (the lowest `lastSequence` and `lastUpdateSequence` of a conversation win, so
//! nothing the client asked for is skipped), their number is capped, and the per-conversation page shrinks as cursors grow so
//! one request never asks for more than [`MAX_MESSAGES_PER_SYNC`] messages. What the store returns
//! is then cut to a byte budget ([`trim`]): a conversation whose messages do not all fit keeps the
//! oldest that do and says `hasMore` (so do its `updates`, the cursor then continuing after the
//! last one kept); `newConversations` stops at [`MAX_NEW_CONVERSATIONS`] or at
//! the budget, and the rest come in the next sync, which lists the ones already received.

use std::collections::HashMap;

use confab_proto::{Message, SyncCursor, SyncRequest, SyncResponse};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::validate::page_limit;

/// Most messages one sync asks the store for, over all its conversations.
pub const MAX_MESSAGES_PER_SYNC: u32 = 2_000;
/// Most entries in one result's `newConversations`.
pub const MAX_NEW_CONVERSATIONS: usize = 200;
/// Messages per conversation when the request names no `limit`, and the most it may name.
pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1000;

/// What to ask the store for.
#[derive(Debug, PartialEq, Eq)]
pub struct Plan {
    /// One cursor per conversation, in the order first listed.
    pub cursors: Vec<SyncCursor>,
    /// Messages per conversation.
    pub limit: u32,
}

/// Checks a request's page size, deduplicates and caps its cursors (at `max_cursors`, and never
/// more than [`MAX_MESSAGES_PER_SYNC`], since each conversation asked about costs at least one
/// message), and sizes the page so the whole request stays within [`MAX_MESSAGES_PER_SYNC`].
pub fn plan(request: &SyncRequest, max_cursors: usize) -> Result<Plan> {
    let limit = page_limit(request.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let max_cursors = max_cursors.min(MAX_MESSAGES_PER_SYNC as usize);
    let cursors = &request.conversations;
    let mut unique: Vec<SyncCursor> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for cursor in cursors {
        match index.get(cursor.conversation_id.as_str()) {
            Some(&at) => {
                let kept = &mut unique[at];
                kept.last_sequence = kept.last_sequence.min(cursor.last_sequence);
                kept.last_update_sequence = match (kept.last_update_sequence, cursor.last_update_sequence) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            None => {
                if unique.len() == max_cursors {
                    return Err(Error::InvalidRequest(format!(
                        "at most {max_cursors} conversations per sync; sync the rest in another request"
                    )));
                }
                index.insert(&cursor.conversation_id, unique.len());
                unique.push(cursor.clone());
            }
        }
    }
    let share = MAX_MESSAGES_PER_SYNC / (unique.len().max(1) as u32);
    Ok(Plan { cursors: unique, limit: limit.min(share).max(1) })
}

fn json_len<T: Serialize>(value: &T) -> usize {
    serde_json::to_vec(value).map(|v| v.len()).unwrap_or(usize::MAX)
}

/// Cuts `response` to about `budget` bytes of JSON (a `,` per entry is counted too). Messages keep
/// their order, so a conversation cut short continues from its last message returned. The first
/// message is kept whatever its size, so every sync makes progress.
pub fn trim(response: &mut SyncResponse, budget: usize) {
    let mut used = json_len(&SyncResponse {
        conversations: Vec::new(),
        new_conversations: Vec::new(),
        server_time: response.server_time,
    });
    // Every listed conversation is answered (its `lastSequence` and `unreadCount` at least), so
    // their entries are counted first and updates, then messages, fill what is left.
    let pages: Vec<Vec<Message>> =
        response.conversations.iter_mut().map(|c| std::mem::take(&mut c.messages)).collect();
    let changes: Vec<Vec<Message>> = response
        .conversations
        .iter_mut()
        .map(|c| c.updates.as_mut().map(std::mem::take).unwrap_or_default())
        .collect();
    for conversation in &response.conversations {
        used = used.saturating_add(json_len(conversation) + 1);
    }
    let mut kept_any = false;
    for (conversation, updates) in response.conversations.iter_mut().zip(changes) {
        let Some(kept) = conversation.updates.as_mut() else { continue };
        for update in updates {
            let size = json_len(&update) + 1;
            if kept_any && used.saturating_add(size) > budget {
                // Everything before this update is kept, so the next sync continues just
                // before it (update sequences are ascending).
                conversation.last_update_sequence = update.update_sequence.saturating_sub(1);
                conversation.has_more = true;
                break;
            }
            used = used.saturating_add(size);
            kept_any = true;
            kept.push(update);
        }
    }
    for (conversation, messages) in response.conversations.iter_mut().zip(pages) {
        let total = messages.len();
        for message in messages {
            let size = json_len(&message) + 1;
            if kept_any && used.saturating_add(size) > budget {
                break;
            }
            used = used.saturating_add(size);
            kept_any = true;
            conversation.messages.push(message);
        }
        if conversation.messages.len() < total {
            conversation.has_more = true;
        }
    }
    let mut kept = 0;
    for conversation in &response.new_conversations {
        let size = json_len(conversation) + 1;
        if kept == MAX_NEW_CONVERSATIONS || used.saturating_add(size) > budget {
            break;
        }
        used = used.saturating_add(size);
        kept += 1;
    }
    response.new_conversations.truncate(kept);
}

#[cfg(test)]
mod tests {
    use confab_proto::SyncConversation;

    use super::*;

    fn cursor(id: &str, last_sequence: u64) -> SyncCursor {
        SyncCursor::new(id, last_sequence)
    }

    #[test]
    fn repeated_cursors_collapse_to_the_lowest_and_their_number_is_capped() {
        let request = |cursors: &[SyncCursor], limit| SyncRequest { conversations: cursors.to_vec(), limit };
        let repeated: Vec<SyncCursor> = (0..40).map(|n| cursor("c1", 40 - n)).collect();
        let plan = plan(&request(&repeated, Some(1000)), 10).unwrap();
        assert_eq!(plan.cursors, vec![cursor("c1", 1)]);
        assert_eq!(plan.limit, 1000);

        let many: Vec<SyncCursor> = (0..11).map(|n| cursor(&format!("c{n}"), 0)).collect();
        assert!(matches!(super::plan(&request(&many, Some(100)), 10), Err(Error::InvalidRequest(_))));
        let within = super::plan(&request(&many[..10], Some(1000)), 10).unwrap();
        assert_eq!(within.cursors.len(), 10);
        assert!(within.limit * 10 <= MAX_MESSAGES_PER_SYNC, "the whole request is bounded");
    }

    /// However high the operator sets the cursor cap, one request still reads at most
    /// [`MAX_MESSAGES_PER_SYNC`] messages (a page is at least one message per conversation).
    #[test]
    fn the_cursor_cap_never_lets_a_request_read_more_than_the_per_sync_bound() {
        let max = MAX_MESSAGES_PER_SYNC as usize;
        let cursors: Vec<SyncCursor> = (0..=max).map(|n| cursor(&format!("c{n}"), 0)).collect();
        let over = SyncRequest { conversations: cursors.clone(), limit: None };
        assert!(matches!(plan(&over, 5 * max), Err(Error::InvalidRequest(_))));
        let at = SyncRequest { conversations: cursors[..max].to_vec(), limit: None };
        let planned = plan(&at, 5 * max).unwrap();
        assert!(planned.limit as usize * planned.cursors.len() <= max);
    }

    fn message(conversation: &str, sequence_number: u64, text: &str) -> Message {
        serde_json::from_value(serde_json::json!({
            "messageId": format!("{conversation}-{sequence_number}"),
            "conversationId": conversation,
            "senderId": "alice",
            "content": {"type": "text", "text": text},
            "sequenceNumber": sequence_number,
            "timestamp": 0,
        }))
        .expect("a message")
    }

    #[test]
    fn a_result_over_the_budget_keeps_the_oldest_messages_and_says_has_more() {
        let text = "x".repeat(1000);
        let conversations = (0..20)
            .map(|c| {
                let id = format!("c{c}");
                SyncConversation {
                    messages: (1..=200).map(|s| message(&id, s, &text)).collect(),
                    conversation_id: id,
                    has_more: false,
                    last_sequence: 200,
                    unread_count: 200,
                    updates: None,
                    last_update_sequence: 0,
                    first_sequence: 1,
                }
            })
            .collect();
        let mut response = SyncResponse { conversations, new_conversations: Vec::new(), server_time: 1 };
        trim(&mut response, 64 * 1024);
        assert!(serde_json::to_vec(&response).unwrap().len() <= 64 * 1024);
        assert_eq!(response.conversations.len(), 20, "every conversation is still answered");
        let first = &response.conversations[0];
        assert!(first.has_more && !first.messages.is_empty());
        let sequences: Vec<u64> = first.messages.iter().map(|m| m.sequence_number).collect();
        assert_eq!(sequences, (1..=sequences.len() as u64).collect::<Vec<_>>(), "the oldest, in order");
        assert!(response.conversations.iter().all(|c| c.has_more));
    }

    #[test]
    fn update_cursors_collapse_to_the_lowest() {
        let cursors = [
            SyncCursor::with_updates("c", 5, 9),
            SyncCursor::new("c", 7),
            SyncCursor::with_updates("c", 6, 3),
        ];
        let request = SyncRequest { conversations: cursors.to_vec(), limit: Some(10) };
        let plan = plan(&request, 10).unwrap();
        assert_eq!(plan.cursors, vec![SyncCursor::with_updates("c", 5, 3)]);
    }

    #[test]
    fn updates_over_the_budget_continue_from_the_first_left_out() {
        let text = "x".repeat(1000);
        let updates: Vec<Message> = (1..=100)
            .map(|n| {
                let mut m = message("c", n, &text);
                m.update_sequence = 10 + 2 * n;
                m
            })
            .collect();
        let conversation = SyncConversation {
            conversation_id: "c".into(),
            messages: vec![message("c", 101, &text)],
            has_more: false,
            last_sequence: 101,
            unread_count: 0,
            updates: Some(updates),
            last_update_sequence: 210,
            first_sequence: 1,
        };
        let mut response =
            SyncResponse { conversations: vec![conversation], new_conversations: Vec::new(), server_time: 1 };
        trim(&mut response, 20 * 1024);
        let c = &response.conversations[0];
        let kept = c.updates.as_ref().unwrap();
        assert!(!kept.is_empty() && kept.len() < 100);
        assert!(c.has_more);
        let first_left_out = kept.last().unwrap().update_sequence + 2;
        assert_eq!(c.last_update_sequence, first_left_out - 1);
        assert!(c.messages.is_empty(), "updates come first");
    }
}
