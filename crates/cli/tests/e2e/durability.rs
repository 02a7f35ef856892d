//! What is acknowledged is never lost: not on `kill -9`, not on a graceful shutdown.

use std::collections::HashMap;

use confab_client::Client;
use confab_proto::frames::SendPayload;
use confab_proto::{ClientFrame, ServerFrame};

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_kill_9() {
    let (_dir, path) = temp_path();
    let server = ServerProcess::spawn(&path);
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let id = alice.api.open_direct(&bob.id).await.unwrap().0.conversation_id;

    let mut ws = alice.connect("phone").await;
    let mut pending = HashMap::new();
    for i in 0..400 {
        let rid = ws
            .send(ClientFrame::MessageSend(SendPayload {
                message_id: Some(format!("crash-{i}")),
                conversation_id: id.clone(),
                content: text(&format!("message {i}")),
                reply_to: None,
                expires_in_seconds: None,
            }))
            .await
            .unwrap();
        pending.insert(rid, format!("crash-{i}"));
    }
    // Kill the process the moment 250 acks are in hand; later sends may or may not have committed.
    let mut acked: HashMap<String, u64> = HashMap::new();
    while acked.len() < 250 {
        let frame = ws.next_frame().await.unwrap();
        if let (Some(rid), ServerFrame::MessageAck(ack)) = (&frame.id, &frame.frame) {
            assert_eq!(pending.get(rid), Some(&ack.message_id));
            acked.insert(ack.message_id.clone(), ack.sequence_number);
        }
    }
    server.kill_9();

    let restarted = ServerProcess::spawn(&path);
    let api = Client::new(&restarted.url).with_token(&bob.token);
    let stored = all_messages(&api, &id).await;
    let seqs: Vec<u64> = stored.iter().map(|m| m.sequence_number).collect();
    assert_eq!(seqs, (1..=stored.len() as u64).collect::<Vec<_>>(), "no gaps after the crash");
    let by_id: HashMap<&str, u64> =
        stored.iter().map(|m| (m.message_id.as_str(), m.sequence_number)).collect();
    for (message_id, seq) in &acked {
        assert_eq!(by_id.get(message_id.as_str()), Some(seq), "acknowledged {message_id} was lost");
    }
    // Every stored message is one that was sent, in send order (one device's order is kept).
    for (i, m) in stored.iter().enumerate() {
        assert_eq!(m.message_id, format!("crash-{i}"));
    }
    // And the conversation goes on from there.
    let next = api.send_message(&id, None, text("after the crash")).await.unwrap().0;
    assert_eq!(next.sequence_number, stored.len() as u64 + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_answers_sends_in_flight_and_keeps_them() {
    let (_dir, path) = temp_path();
    let server = TestServer::start_in(&path, |c| c.limits.message_burst = 1000).await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let id = alice.api.open_direct(&bob.id).await.unwrap().0.conversation_id;
    let mut ws = alice.connect("phone").await;
    for i in 0..200 {
        ws.send(ClientFrame::MessageSend(SendPayload {
            message_id: Some(format!("m{i}")),
            conversation_id: id.clone(),
            content: text("in flight"),
            reply_to: None,
            expires_in_seconds: None,
        }))
        .await
        .unwrap();
    }
    // Wait for the first ack so the server is surely processing, then shut down mid-stream.
    ws.wait_for(WAIT, "first ack", |f| matches!(f.frame, ServerFrame::MessageAck(_)).then_some(()))
        .await
        .unwrap();
    server.shutdown().await;
    let mut acked = 1;
    loop {
        match ws.next_frame().await {
            Ok(f) if matches!(f.frame, ServerFrame::MessageAck(_)) => acked += 1,
            Ok(_) => {}
            Err(confab_client::ClientError::Closed(code)) => {
                assert_eq!(code, Some(1001));
                break;
            }
            Err(e) => panic!("unexpected {e}"),
        }
    }
    let restarted = TestServer::start_in(&path, |_| {}).await;
    let api = Client::new(&restarted.url).with_token(&bob.token);
    let stored = all_messages(&api, &id).await;
    assert!(stored.len() >= acked, "{} stored, {acked} acknowledged", stored.len());
}
