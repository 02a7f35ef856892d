//! Blocks and group management across `confab` nodes on PostgreSQL and Redis: a block made through
//! one node holds at once for sends through another, and group changes reach every member's
//! devices on every node.

use confab_client::{Client, ClientError, Connection};
use confab_proto::frames::PresenceSubscribePayload;
use confab_proto::{ClientFrame, Conversation, ErrorCode, Role, ServerFrame};

use crate::harness::*;
use crate::messaging::collect_new;
use crate::services::*;

fn start_nodes(n: usize, extra: &[String], dir: &std::path::Path) -> Vec<ServerProcess> {
    (0..n).map(|i| ServerProcess::spawn_with(&dir.join(format!("node{i}")), extra)).collect()
}

fn forbidden(e: ClientError) -> bool {
    e.code() == Some(ErrorCode::Forbidden)
}

/// Alice blocks and unblocks Bob through node 0 while Bob sends through node 1 and node 2, by REST
/// and over WebSocket: every send after a block is answered is refused, every send after an
/// unblock is answered is accepted, with no waiting in between.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_through_one_node_holds_at_once_on_the_others() {
    if !available().await {
        return;
    }
    let iso = Isolation::shared();
    let (_dir, path) = temp_path();
    let nodes = start_nodes(3, &iso.args(), &path);
    let alice = register(&nodes[0].url, "alice").await;
    let bob = register(&nodes[1].url, "bob").await;
    let direct = alice.api.open_direct(&bob.id).await.unwrap().0.conversation_id;
    let bob_on_1 = Client::new(&nodes[1].url).with_token(&bob.token);
    let mut bob_ws_2 = Connection::connect(&nodes[2].url, &bob.token, "bob-2").await.unwrap();
    let mut alice_ws_1 = Connection::connect(&nodes[1].url, &alice.token, "alice-1").await.unwrap();
    for round in 0..10 {
        alice.api.block_user(&bob.id).await.unwrap();
        let rest = bob_on_1.send_message(&direct, Some(&format!("r{round}")), text("hi")).await;
        assert!(forbidden(rest.unwrap_err()), "round {round}: REST on node 1");
        let ws = bob_ws_2.send_text(&direct, &format!("w{round}"), "hi").await;
        assert!(forbidden(ws.unwrap_err()), "round {round}: WebSocket on node 2");
        let opened = Client::new(&nodes[2].url).with_token(&bob.token).open_direct(&alice.id).await;
        assert!(forbidden(opened.unwrap_err()), "round {round}: opening on node 2");
        let blocker = alice_ws_1.send_text(&direct, &format!("a{round}"), "hi").await;
        assert!(forbidden(blocker.unwrap_err()), "round {round}: the blocker on node 1");

        Client::new(&nodes[2].url).with_token(&alice.token).unblock_user(&bob.id).await.unwrap();
        bob_on_1.send_message(&direct, Some(&format!("r{round}-ok")), text("hi")).await.unwrap();
        bob_ws_2.send_text(&direct, &format!("w{round}-ok"), "hi").await.unwrap();
        let got = collect_new(&mut alice_ws_1, 2).await;
        let ids: Vec<&str> = got.iter().map(|m| m.message_id.as_str()).collect();
        assert!(
            ids.contains(&format!("r{round}-ok").as_str()) && ids.contains(&format!("w{round}-ok").as_str())
        );
    }
    // Presence: once blocked, asking through another node is answered as for a stranger.
    Client::new(&nodes[1].url).with_token(&alice.token).block_user(&bob.id).await.unwrap();
    let rid = bob_ws_2
        .send(ClientFrame::PresenceSubscribe(PresenceSubscribePayload { user_ids: vec![alice.id.clone()] }))
        .await
        .unwrap();
    let ServerFrame::PresenceBulk(b) = bob_ws_2.reply_to(&rid).await.unwrap().frame else { panic!("bulk") };
    assert!(b.presences.is_empty(), "{b:?}");
    assert_eq!(alice.api.blocks().await.unwrap().len(), 1, "one block, whichever node made it");
}

/// The next `conversation.updated` about `id` that `pick` accepts.
async fn updated(conn: &mut Connection, id: &str, pick: impl Fn(&Conversation) -> bool) -> Conversation {
    conn.wait_for(WAIT, "conversation.updated", |f| match &f.frame {
        ServerFrame::ConversationUpdated(c) if c.conversation_id == id && pick(c) => Some(c.clone()),
        _ => None,
    })
    .await
    .expect("conversation.updated")
}

/// Members on three nodes: a rename, a settings change and a promotion made through one node reach
/// every member's devices on every node; concurrent step-downs through two nodes leave one admin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_changes_reach_every_member_on_every_node() {
    if !available().await {
        return;
    }
    let iso = Isolation::shared();
    let (_dir, path) = temp_path();
    let nodes = start_nodes(3, &iso.args(), &path);
    let users = register_many(&nodes[0].url, "member", 4).await;
    let others: Vec<String> = users[1..].iter().map(|u| u.id.clone()).collect();
    let id = users[0].api.create_group("spread", &others, None).await.unwrap().conversation_id;
    let mut conns = Vec::new();
    for (i, u) in users.iter().enumerate() {
        conns.push(Connection::connect(&nodes[i % 3].url, &u.token, "d").await.unwrap());
    }
    let admin_on_2 = Client::new(&nodes[2].url).with_token(&users[0].token);
    admin_on_2.update_group(&id, Some("Renamed"), None).await.unwrap();
    for conn in conns.iter_mut() {
        updated(conn, &id, |c| c.name.as_deref() == Some("Renamed")).await;
    }
    let invites = confab_proto::GroupSettings { allow_member_invites: true, ..Default::default() };
    Client::new(&nodes[1].url)
        .with_token(&users[0].token)
        .update_group(&id, None, Some(invites))
        .await
        .unwrap();
    for conn in conns.iter_mut() {
        updated(conn, &id, |c| c.settings.allow_member_invites).await;
    }
    admin_on_2.set_role(&id, &users[1].id, Role::Admin).await.unwrap();
    for conn in conns.iter_mut() {
        updated(conn, &id, |c| {
            c.participants.iter().any(|p| p.user_id == users[1].id && p.role == Role::Admin)
        })
        .await;
    }
    let first = Client::new(&nodes[0].url).with_token(&users[0].token);
    let second = Client::new(&nodes[1].url).with_token(&users[1].token);
    let (a, b) = tokio::join!(
        first.set_role(&id, &users[0].id, Role::Member),
        second.set_role(&id, &users[1].id, Role::Member)
    );
    assert_eq!([a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(), 1, "{a:?} {b:?}");
    let view = first.conversation(&id).await.unwrap();
    assert_eq!(view.participants.iter().filter(|p| p.role == Role::Admin).count(), 1);
}
