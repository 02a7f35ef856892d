//! Requests that would make the server do or send far more than they cost to ask: sync results are
//! bounded and paged, repeated cursors are merged, and the number of cursors is capped.

use std::collections::HashMap;

use confab_proto::{ClientFrame, ErrorCode, ServerFrame, SyncCursor, SyncRequest, SyncResponse};

use crate::harness::{register, TestServer};

const GROUPS: usize = 20;
const PER_GROUP: usize = 8;

/// 20 groups of alice and bob with 8 messages of 8 KB each: 1.3 MB of backlog, more than one
/// WebSocket frame may carry.
async fn backlog(server: &TestServer) -> (crate::harness::TestUser, Vec<String>) {
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let mut a = alice.connect("laptop").await;
    let body = "x".repeat(8000);
    let mut ids = Vec::new();
    for g in 0..GROUPS {
        let group =
            alice.api.create_group(&format!("g{g}"), std::slice::from_ref(&bob.id), None).await.unwrap();
        for m in 0..PER_GROUP {
            a.send_text(&group.conversation_id, &format!("g{g}-m{m}"), &body).await.unwrap();
        }
        ids.push(group.conversation_id);
    }
    (bob, ids)
}

enum Via<'a> {
    Ws(&'a mut confab_client::Connection),
    Rest(&'a confab_client::Client),
}

async fn sync(via: &mut Via<'_>, request: SyncRequest) -> SyncResponse {
    match via {
        Via::Ws(connection) => {
            let rid = connection.send(ClientFrame::Sync(request)).await.unwrap();
            match connection.reply_to(&rid).await.expect("a reply, not a dropped connection").frame {
                ServerFrame::SyncResult(result) => result,
                other => panic!("expected sync.result, got {other:?}"),
            }
        }
        Via::Rest(api) => api.sync(&request).await.unwrap(),
    }
}

/// Syncs until nothing has more; returns every message's sequence numbers per conversation.
async fn sync_all(ids: &[String], mut via: Via<'_>) -> (HashMap<String, Vec<u64>>, usize) {
    let mut cursors: HashMap<String, u64> = ids.iter().map(|id| (id.clone(), 0)).collect();
    let mut seen: HashMap<String, Vec<u64>> = HashMap::new();
    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(rounds <= 50, "sync makes progress");
        let request = SyncRequest {
            conversations: ids.iter().map(|id| SyncCursor::new(id.clone(), cursors[id])).collect(),
            limit: Some(200),
        };
        let result = sync(&mut via, request).await;
        let size = serde_json::to_vec(&result).unwrap().len();
        assert!(size <= 512 * 1024 + 16 * 1024, "a sync result of {size} bytes is over the budget");
        let mut more = false;
        for c in result.conversations {
            if let Some(last) = c.messages.last() {
                cursors.insert(c.conversation_id.clone(), last.sequence_number);
            }
            seen.entry(c.conversation_id).or_default().extend(c.messages.iter().map(|m| m.sequence_number));
            more |= c.has_more;
        }
        if !more {
            return (seen, rounds);
        }
    }
}

#[tokio::test]
async fn a_sync_over_the_frame_limit_comes_back_in_pages_over_websocket_and_rest() {
    let server = TestServer::start_with(|c| {
        c.limits.messages_per_second = 10_000;
        c.limits.message_burst = 10_000;
    })
    .await;
    let (bob, ids) = backlog(&server).await;
    let expected: Vec<u64> = (1..=PER_GROUP as u64).collect();

    let mut phone = bob.connect("phone").await;
    let (seen, rounds) = sync_all(&ids, Via::Ws(&mut phone)).await;
    assert!(rounds > 1, "1.3 MB does not fit in one result");
    for id in &ids {
        assert_eq!(seen[id], expected, "every message once, in order");
    }

    let (seen, _) = sync_all(&ids, Via::Rest(&bob.api)).await;
    for id in &ids {
        assert_eq!(seen[id], expected);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn repeated_cursors_are_merged_and_too_many_are_refused() {
    let server = TestServer::start().await;
    let alice = register(&server.url, "carol").await;
    let bob = register(&server.url, "dave").await;
    let (conv, _) = alice.api.open_direct(&bob.id).await.unwrap();
    let id = conv.conversation_id;
    for n in 0..5 {
        alice.api.send_message(&id, None, crate::harness::text(&format!("m{n}"))).await.unwrap();
    }
    // The same conversation 40 times: answered once, from the lowest cursor.
    let conversations =
        (0..40u64).map(|n| SyncCursor::new(id.clone(), if n == 17 { 2 } else { 4 })).collect();
    let result = bob.api.sync(&SyncRequest { conversations, limit: Some(1000) }).await.unwrap();
    assert_eq!(result.conversations.len(), 1);
    let seqs: Vec<u64> = result.conversations[0].messages.iter().map(|m| m.sequence_number).collect();
    assert_eq!(seqs, [3, 4, 5]);

    let conversations = (0..1001).map(|n| SyncCursor::new(format!("c{n}"), 0)).collect();
    let err = bob.api.sync(&SyncRequest { conversations, limit: None }).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidRequest));
    server.shutdown().await;
}
