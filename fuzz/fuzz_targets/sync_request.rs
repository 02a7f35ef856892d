//! Sync requests through the bounds the server puts around the store: `sync::plan` (page size,
//! repeated cursors merged, their number capped, work per request bounded) and `sync::trim` (the
//! result cut to a byte budget). Input: 2 bytes of cursor cap, 4 of byte budget, 1 seeding the
//! sizes of a made-up store answer, then the request's JSON.

#![no_main]

use std::collections::HashMap;

use confab_core::sync::{self, MAX_MESSAGES_PER_SYNC, MAX_NEW_CONVERSATIONS};
use confab_proto::{Conversation, Message, SyncConversation, SyncRequest, SyncResponse};
use libfuzzer_sys::fuzz_target;

fn message(conversation: &str, sequence_number: u64, len: usize) -> Message {
    serde_json::from_value(serde_json::json!({
        "messageId": format!("m{sequence_number}"),
        "conversationId": conversation,
        "senderId": "u",
        "content": {"type": "text", "text": "x".repeat(len)},
        "sequenceNumber": sequence_number,
        "timestamp": 0,
    }))
    .expect("a message")
}

fn conversation(n: usize, name_len: usize) -> Conversation {
    serde_json::from_value(serde_json::json!({
        "conversationId": format!("new{n}"), "type": "group", "name": "n".repeat(name_len),
        "participants": [], "memberCount": 1, "settings": {"onlyAdminsCanPost": false, "allowMemberInvites": false},
        "createdAt": 0, "lastSequence": 0, "lastReadSequence": 0, "unreadCount": 0,
    }))
    .expect("a conversation")
}

fn json_len<T: serde::Serialize>(value: &T) -> usize {
    serde_json::to_vec(value).expect("serializes").len()
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 7 {
        return;
    }
    let max_cursors = usize::from(u16::from_le_bytes([data[0], data[1]]));
    let budget = u32::from_le_bytes([data[2], data[3], data[4], data[5]]) as usize % (2 << 20);
    let seed = usize::from(data[6]);
    let Ok(request) = serde_json::from_slice::<SyncRequest>(&data[7..]) else { return };

    let plan = match sync::plan(&request, max_cursors) {
        Ok(plan) => plan,
        Err(_) => {
            let distinct: std::collections::HashSet<_> =
                request.conversations.iter().map(|c| &c.conversation_id).collect();
            assert!(
                request.limit == Some(0) || distinct.len() > max_cursors.min(MAX_MESSAGES_PER_SYNC as usize),
                "a request within the bounds was refused"
            );
            return;
        }
    };
    // Every conversation asked about once, from the lowest cursor given for it, in first-listed order.
    let mut lowest: HashMap<&str, u64> = HashMap::new();
    let mut order = Vec::new();
    for c in &request.conversations {
        let entry = lowest.entry(&c.conversation_id).or_insert_with(|| {
            order.push(c.conversation_id.as_str());
            c.last_sequence
        });
        *entry = (*entry).min(c.last_sequence);
    }
    let planned: Vec<(&str, u64)> =
        plan.cursors.iter().map(|c| (c.conversation_id.as_str(), c.last_sequence)).collect();
    let expected: Vec<(&str, u64)> = order.iter().map(|id| (*id, lowest[id])).collect();
    assert_eq!(planned, expected);
    assert!(plan.cursors.len() <= max_cursors);
    assert!(
        plan.limit >= 1 && plan.limit <= request.limit.unwrap_or(sync::DEFAULT_LIMIT).min(sync::MAX_LIMIT)
    );
    assert!(
        u64::from(plan.limit) * plan.cursors.len() as u64 <= u64::from(MAX_MESSAGES_PER_SYNC),
        "{} conversations × {} messages is over the per-sync bound",
        plan.cursors.len(),
        plan.limit
    );

    // A store answer as large as the plan allows, with sizes from the seed.
    let conversations: Vec<SyncConversation> = plan
        .cursors
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let count = (seed * (i + 1)) % (plan.limit as usize + 1);
            let from = c.last_sequence.min(u64::MAX - 2 * sync::MAX_LIMIT as u64);
            let messages: Vec<Message> = (1..=count as u64)
                .map(|k| message(&c.conversation_id, from + k, (seed * 131 * k as usize) % 20_000))
                .collect();
            SyncConversation {
                conversation_id: c.conversation_id.clone(),
                has_more: (seed + i) % 7 == 0,
                last_sequence: from + count as u64,
                unread_count: 0,
                messages,
                // Updates are not asked for here: only messages are trimmed.
                updates: None,
                last_update_sequence: 0,
                first_sequence: 1,
            }
        })
        .collect();
    let new_conversations = (0..(seed * 3) % 300).map(|n| conversation(n, (seed * n) % 500)).collect();
    let original = SyncResponse { conversations, new_conversations, server_time: 1 };
    let mut trimmed = original.clone();
    sync::trim(&mut trimmed, budget);

    assert_eq!(trimmed.conversations.len(), original.conversations.len(), "every conversation is answered");
    let mut kept = 0;
    for (t, o) in trimmed.conversations.iter().zip(&original.conversations) {
        assert_eq!(t.conversation_id, o.conversation_id);
        assert!(o.messages.starts_with(&t.messages), "messages are a prefix of the store's");
        assert_eq!(t.has_more, o.has_more || t.messages.len() < o.messages.len(), "has_more is wrong");
        kept += t.messages.len();
    }
    let had = original.conversations.iter().map(|c| c.messages.len()).sum::<usize>();
    assert!(had == 0 || kept > 0, "a sync with messages to give returned none: no progress");
    assert!(original.new_conversations.starts_with(&trimmed.new_conversations));
    assert!(trimmed.new_conversations.len() <= MAX_NEW_CONVERSATIONS);
    let size = json_len(&trimmed);
    assert!(
        size <= budget || (kept <= 1 && trimmed.new_conversations.is_empty()),
        "{size} bytes over a budget of {budget} with {kept} messages kept"
    );
});
