//! Disappearing messages and retention settings over REST and WebSocket: the expiry a send
//! carries, the tombstone every member is told of when the sweeper erases it, and the refusals.

use std::time::Duration;

use confab_client::ClientError;
use confab_proto::{Content, ErrorCode, GroupSettings};

use crate::harness::*;
use crate::lifecycle::next_update;

fn code(result: Result<impl std::fmt::Debug, ClientError>) -> ErrorCode {
    result.expect_err("refused").code().expect("a protocol error")
}

#[tokio::test]
async fn a_disappearing_message_turns_into_a_tombstone_for_everyone() {
    let server = TestServer::start_with(|c| c.expiry.sweep_interval = Duration::from_millis(100)).await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let (direct, _) = alice.api.open_direct(&bob.id).await.unwrap();
    let id = direct.conversation_id;
    let mut alice_ws = alice.connect("alice-laptop").await;
    let mut bob_ws = bob.connect("bob-phone").await;

    let ack = alice_ws.send_expiring(&id, "secret", text("self-destructs"), 1).await.unwrap();
    alice.api.send_message(&id, Some("kept"), text("stays")).await.unwrap();
    let before = all_messages(&bob.api, &id).await;
    assert_eq!(before[0].expires_at, Some(ack.timestamp + 1_000));
    assert_eq!(before[0].content, Content::Text { text: "self-destructs".into() });

    // The sweeper erases it within its interval of the expiry and tells both members.
    for device in [&mut alice_ws, &mut bob_ws] {
        let mut update = next_update(device).await;
        // The kept message's own frames may come first; the tombstone is the one updated.
        while update.message_id != "secret" {
            update = next_update(device).await;
        }
        assert_eq!(
            (update.content, update.deleted, update.update_sequence),
            (Content::Deleted, Some(true), 1)
        );
    }
    let after = all_messages(&bob.api, &id).await;
    assert_eq!(
        after.iter().map(|m| m.sequence_number).collect::<Vec<_>>(),
        [1, 2],
        "tombstones stay in place"
    );
    assert!(after[0].is_deleted());
    assert_eq!(after[1].content, Content::Text { text: "stays".into() });
    // Once expired, it cannot be edited.
    assert_eq!(code(alice.api.edit_message(&id, "secret", text("again")).await), ErrorCode::MessageNotFound);
    server.shutdown().await;
}

#[tokio::test]
async fn expiry_and_retention_are_checked() {
    let server = TestServer::start().await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let (direct, _) = alice.api.open_direct(&bob.id).await.unwrap();
    let id = direct.conversation_id;
    let mut ws = alice.connect("alice-laptop").await;
    for bad in [0, 365 * 24 * 3600 + 1, u64::MAX] {
        let refused = alice.api.send_expiring(&id, None, text("x"), bad).await;
        assert_eq!(code(refused), ErrorCode::InvalidMessage, "REST expiresInSeconds {bad}");
        let refused = ws.send_expiring(&id, &format!("bad-{bad}"), text("x"), bad).await;
        assert_eq!(code(refused), ErrorCode::InvalidMessage, "WebSocket expiresInSeconds {bad}");
    }
    // A wrong type is a malformed request, and the connection stays usable.
    ws.send_raw(&format!(
        r#"{{"type":"message.send","id":"t","payload":{{"conversationId":"{id}","content":{{"type":"text","text":"x"}},"expiresInSeconds":"soon"}}}}"#
    ))
    .await
    .unwrap();
    let reply = ws.reply_to("t").await.unwrap();
    assert!(
        matches!(reply.frame, confab_proto::ServerFrame::Error(ref e) if e.error == ErrorCode::InvalidRequest)
    );
    assert_eq!(ws.send_text(&id, "fine", "still here").await.unwrap().sequence_number, 1);
    // Nothing was stored by the refusals.
    assert_eq!(all_messages(&bob.api, &id).await.len(), 1);

    // A group's retention: admins set it, within bounds; members see it.
    let group = alice.api.create_group("club", std::slice::from_ref(&bob.id), None).await.unwrap();
    let week = GroupSettings { retention_days: 7, ..GroupSettings::default() };
    alice.api.update_group(&group.conversation_id, None, Some(week)).await.unwrap();
    assert_eq!(bob.api.conversation(&group.conversation_id).await.unwrap().settings.retention_days, 7);
    let forever = GroupSettings { retention_days: 36_501, ..GroupSettings::default() };
    let refused = alice.api.update_group(&group.conversation_id, None, Some(forever)).await;
    assert_eq!(code(refused), ErrorCode::InvalidRequest);
    let by_member = bob.api.update_group(&group.conversation_id, None, Some(GroupSettings::default())).await;
    assert_eq!(code(by_member), ErrorCode::Forbidden);
    server.shutdown().await;
}
