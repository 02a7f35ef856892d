//! The server API of application backends: an API key made with `confab admin api-key create`
//! publishes as a member or as the system account, creates conversations, manages members, reads
//! presence and signs users out; no key, a user's token, an unknown or a revoked key get `401`.
//! Webhooks reach a receiver of the test's own, signed, retried after a failure, in order. In a
//! cluster, a key works on every node, a sign-out closes sockets on every node, presence is the
//! cluster's, and each event is delivered once whichever node made it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use confab_client::{Client, ClientError};
use confab_proto::{
    ConversationType, ErrorCode, PresenceStatus, PublishRequest, ServerAddMembersRequest,
    ServerCreateConversationRequest, ServerFrame,
};
use confab_server::webhooks::WebhookConfig;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::cli_admin::confab_admin;
use crate::harness::*;
use crate::sessions::{closed_with, refused};

fn publish(sender: Option<&str>, message_id: &str, words: &str) -> PublishRequest {
    PublishRequest {
        sender_id: sender.map(str::to_string),
        message_id: Some(message_id.to_string()),
        content: text(words),
        reply_to: None,
    }
}

fn code(err: ClientError) -> ErrorCode {
    match err {
        ClientError::Api { body, .. } => body.error,
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

/// The next `message.new` on `conn`: its sender and sequence number.
async fn next_new(conn: &mut confab_client::Connection) -> (String, u64) {
    conn.wait_for(WAIT, "message.new", |f| match &f.frame {
        ServerFrame::MessageNew(m) => Some((m.sender_id.clone(), m.sequence_number)),
        _ => None,
    })
    .await
    .expect("message.new")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_publishes_manages_and_reads_presence_with_its_api_key() {
    let (_dir, path) = temp_path();
    let server = TestServer::start_in(&path, |_| {}).await;
    let store = vec!["--data-dir".to_string(), path.display().to_string()];
    let made = confab_admin(&store, &["api-key", "create", "--name", "backend"]).expect("api-key create");
    let key = made["key"].as_str().expect("the key, shown once").to_string();
    assert!(key.starts_with("cfk_"), "{made}");
    let app = server.client().with_token(&key);
    let (alice, bob, carol) = (
        register(&server.url, "alice").await,
        register(&server.url, "bob").await,
        register(&server.url, "carol").await,
    );

    // Who may call: a key in force only.
    let ids = [alice.id.as_str()];
    assert!(refused(server.client().server_presence(&ids).await.unwrap_err()), "no key");
    assert!(refused(alice.api.server_presence(&ids).await.unwrap_err()), "a user's token is no key");
    let forged = server.client().with_token(&format!("cfk_{}", "0".repeat(64)));
    assert!(refused(forged.server_presence(&ids).await.unwrap_err()), "an unknown key");

    // A group Alice creates and administers, with Bob.
    let create = ServerCreateConversationRequest {
        kind: ConversationType::Group,
        creator_id: alice.id.clone(),
        participant_ids: vec![bob.id.clone()],
        name: Some("Support".into()),
        settings: None,
    };
    let (created, group) = app.server_create_conversation(&create).await.unwrap();
    assert!(created);
    assert_eq!((group.member_count, group.name.as_deref()), (2, Some("Support")));
    let id = group.conversation_id.clone();

    // Published as Bob (a retry is the same message), then as the system account.
    let mut phone = alice.connect("phone").await;
    let (new, ack) = app.server_publish(&id, &publish(Some(&bob.id), "m-1", "hello from bob")).await.unwrap();
    assert!(new);
    let (again, same) =
        app.server_publish(&id, &publish(Some(&bob.id), "m-1", "hello from bob")).await.unwrap();
    assert_eq!((again, same.sequence_number), (false, ack.sequence_number), "idempotent");
    assert_eq!(next_new(&mut phone).await, (bob.id.clone(), 1));
    let (_, system) =
        app.server_publish(&id, &publish(None, "notice-1", "Support hours: 9–5")).await.unwrap();
    assert_eq!(system.sequence_number, 2);
    assert_eq!(next_new(&mut phone).await, ("system".to_string(), 2));
    let history = all_messages(&bob.api, &id).await;
    assert_eq!(history.iter().map(|m| m.sender_id.as_str()).collect::<Vec<_>>(), [bob.id.as_str(), "system"]);
    // Carol is no member: the application cannot post as her.
    let refused_post = app.server_publish(&id, &publish(Some(&carol.id), "m-2", "hi")).await.unwrap_err();
    assert_eq!(code(refused_post), ErrorCode::Forbidden);
    let nowhere = app.server_publish("no-such-conversation", &publish(None, "m-3", "hi")).await.unwrap_err();
    assert_eq!(code(nowhere), ErrorCode::ConversationNotFound);
    // Nobody logs in or authenticates as the system account.
    assert!(server.client().login("@system", PASSWORD).await.is_err());

    // Members added and removed on behalf of the group's admin (Alice).
    let add = ServerAddMembersRequest { actor_id: None, user_ids: vec![carol.id.clone()] };
    assert_eq!(app.server_add_members(&id, &add).await.unwrap().member_count, 3);
    let as_bob = ServerAddMembersRequest { actor_id: Some(bob.id.clone()), user_ids: vec![carol.id.clone()] };
    assert_eq!(
        code(app.server_add_members(&id, &as_bob).await.unwrap_err()),
        ErrorCode::Forbidden,
        "Bob is no admin"
    );
    app.server_remove_member(&id, &carol.id, None).await.unwrap();
    assert_eq!(alice.api.conversation(&id).await.unwrap().member_count, 2);

    // Presence across the cluster, unknown ids left out.
    let seen = app.server_presence(&[&alice.id, &bob.id, "nobody"]).await.unwrap().presences;
    let statuses: Vec<_> = seen.iter().map(|p| (p.user_id.as_str(), p.status)).collect();
    assert_eq!(
        statuses,
        [(alice.id.as_str(), PresenceStatus::Online), (bob.id.as_str(), PresenceStatus::Offline)]
    );
    let too_many: Vec<String> = (0..101).map(|i| format!("u{i}")).collect();
    let too_many: Vec<&str> = too_many.iter().map(String::as_str).collect();
    assert_eq!(code(app.server_presence(&too_many).await.unwrap_err()), ErrorCode::InvalidRequest);

    // Bad input is answered with the documented codes, and nothing is stored.
    let path = format!("/api/v1/server/conversations/{id}/messages");
    let (status, body) = app.raw(reqwest::Method::POST, &path, Some("{not json".into())).await.unwrap();
    assert_eq!((status, body["error"].as_str()), (400, Some("INVALID_REQUEST")));
    let (status, body) =
        app.raw(reqwest::Method::POST, &path, Some(r#"{"content": 5}"#.into())).await.unwrap();
    assert_eq!((status, body["error"].as_str()), (400, Some("INVALID_MESSAGE")));
    let unnamed = ServerCreateConversationRequest { name: None, ..create.clone() };
    assert_eq!(code(app.server_create_conversation(&unnamed).await.unwrap_err()), ErrorCode::InvalidRequest);
    assert_eq!(code(app.server_disconnect("no-such-user").await.unwrap_err()), ErrorCode::UserNotFound);
    assert_eq!(all_messages(&bob.api, &id).await.len(), 2, "nothing more stored");

    // Signing Alice out everywhere closes her socket and refuses her token.
    app.server_disconnect(&alice.id).await.unwrap();
    assert_eq!(closed_with(&mut phone).await, Some(4003));
    assert!(refused(alice.api.conversations().await.unwrap_err()));

    // A revoked key is refused at once.
    let key_id = made["keyId"].as_str().expect("keyId").to_string();
    let listed = confab_admin(&store, &["api-key", "list"]).unwrap();
    assert_eq!(listed[0]["name"], "backend");
    assert!(listed[0].get("key").is_none() && !listed.to_string().contains(&key), "never the key again");
    confab_admin(&store, &["api-key", "revoke", &key_id]).unwrap();
    assert!(refused(app.server_presence(&[&bob.id]).await.unwrap_err()));
    server.shutdown().await;
}

/// One request the receiver got: its headers and body.
type Received = (HeaderMap, String);

/// A webhook receiver: answers `503` to its first request and `204` to the rest, and hands each
/// request to the test.
async fn webhook_receiver() -> (String, mpsc::UnboundedReceiver<Received>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let first = Arc::new(Mutex::new(true));
    let app = axum::Router::new().route(
        "/hooks",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let (tx, first) = (tx.clone(), first.clone());
            async move {
                let _ = tx.send((headers, body));
                let fail = std::mem::replace(&mut *first.lock().expect("flag"), false);
                if fail {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hooks", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, rx)
}

/// Whether `header` (`t=…,v1=…`) is the HMAC-SHA256 of `t.body` under `secret`.
fn signed(header: &str, secret: &str, body: &str) -> bool {
    let Some((t, v1)) = header.split_once(',') else { return false };
    let (Some(t), Some(v1)) = (t.strip_prefix("t="), v1.strip_prefix("v1=")) else { return false };
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{t}.{body}").as_bytes());
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    expected == v1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_signed_retried_and_in_order() {
    let (url, mut received) = webhook_receiver().await;
    let server = TestServer::start_with(|c| {
        c.webhook = Some(WebhookConfig {
            retry_base: Duration::from_millis(20),
            ..WebhookConfig::new(url, "whsec-test".into())
        })
    })
    .await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let group = alice.api.create_group("Team", std::slice::from_ref(&bob.id), None).await.unwrap();
    let id = group.conversation_id;
    alice.api.send_message(&id, Some("m-1"), text("hello")).await.unwrap();
    alice.api.send_message(&id, Some("m-1"), text("hello")).await.unwrap(); // a retry: no new event
    bob.api.remove_member(&id, &bob.id).await.unwrap();

    // Every request, and the events they carried (a retry carries the same event again).
    let (mut requests, mut events): (Vec<Value>, Vec<Value>) = (Vec::new(), Vec::new());
    while events.len() < 5 {
        let (headers, body) =
            tokio::time::timeout(WAIT, received.recv()).await.expect("a webhook").expect("open");
        let signature = headers.get("confab-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(signed(signature, "whsec-test", &body), "signed: {signature} over {body}");
        assert!(!signed(signature, "another-secret", &body));
        let event: Value = serde_json::from_str(&body).expect("JSON body");
        assert_eq!(headers.get("confab-event-id").and_then(|v| v.to_str().ok()), event["eventId"].as_str());
        if events.last().map(|e| &e["eventId"]) != Some(&event["eventId"]) {
            events.push(event.clone());
        }
        requests.push(event);
    }
    let first_attempts = requests.iter().filter(|r| r["eventId"] == events[0]["eventId"]).count();
    assert_eq!(first_attempts, 2, "the first event was tried again after the 503");
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap_or_default()).collect();
    assert_eq!(
        kinds,
        ["user.registered", "user.registered", "member.joined", "message.created", "member.left"]
    );
    assert_eq!(events[0]["data"]["user"]["username"], "alice");
    assert_eq!(events[2]["data"]["userIds"], serde_json::json!([alice.id, bob.id]));
    assert_eq!(events[2]["data"]["actorId"], alice.id.as_str());
    assert_eq!(events[3]["data"]["message"]["content"]["text"], "hello");
    assert_eq!(events[3]["data"]["message"]["sequenceNumber"], 1);
    assert_eq!(
        (events[4]["data"]["userId"].as_str(), events[4]["data"]["actorId"].as_str()),
        (Some(bob.id.as_str()), Some(bob.id.as_str()))
    );
    // Nothing more: the retried send made no second message.created.
    assert!(tokio::time::timeout(Duration::from_millis(300), received.recv()).await.is_err());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_cluster_every_node_serves_the_key_and_each_event_is_sent_once() {
    if !crate::services::available().await {
        return;
    }
    let (url, mut received) = webhook_receiver().await;
    let iso = crate::services::Isolation::shared();
    let (_dir, path) = temp_path();
    let mut args = iso.args();
    args.extend([
        "--webhook-url".to_string(),
        url,
        "--webhook-secret".to_string(),
        "whsec-cluster".to_string(),
    ]);
    let nodes: Vec<ServerProcess> =
        (0..2).map(|i| ServerProcess::spawn_with(&path.join(format!("node{i}")), &args)).collect();
    let store = vec![
        "--database-url".to_string(),
        iso.database_url.clone(),
        "--database-schema".to_string(),
        iso.schema.clone(),
    ];
    let made = confab_admin(&store, &["api-key", "create", "--name", "cluster"]).expect("api-key create");
    let key = made["key"].as_str().expect("key").to_string();
    let (on_0, on_1) =
        (Client::new(&nodes[0].url).with_token(&key), Client::new(&nodes[1].url).with_token(&key));

    let alice = register(&nodes[0].url, "alice").await;
    let bob = register(&nodes[1].url, "bob").await;
    let create = ServerCreateConversationRequest {
        kind: ConversationType::Direct,
        creator_id: alice.id.clone(),
        participant_ids: vec![bob.id.clone()],
        name: None,
        settings: None,
    };
    let (_, direct) = on_0.server_create_conversation(&create).await.unwrap();
    let id = direct.conversation_id;
    // Bob is connected to node 0; the application publishes through node 1.
    let mut bob_phone = confab_client::Connection::connect(&nodes[0].url, &bob.token, "phone").await.unwrap();
    on_1.server_publish(&id, &publish(Some(&alice.id), "m-1", "through node 1")).await.unwrap();
    assert_eq!(next_new(&mut bob_phone).await, (alice.id.clone(), 1));
    let seen = on_1.server_presence(&[&bob.id]).await.unwrap().presences;
    assert_eq!(seen[0].status, PresenceStatus::Online, "node 1 sees Bob online on node 0");
    on_1.server_disconnect(&bob.id).await.unwrap();
    assert_eq!(closed_with(&mut bob_phone).await, Some(4003), "node 0 closed Bob's socket");

    // Two registrations, one conversation, one message: four events, each once (the receiver
    // fails its first request, so one event comes twice with the same id).
    let mut events: Vec<Value> = Vec::new();
    while events.len() < 4 {
        let (headers, body) =
            tokio::time::timeout(WAIT, received.recv()).await.expect("a webhook").expect("open");
        let signature = headers.get("confab-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(signed(signature, "whsec-cluster", &body));
        let event: Value = serde_json::from_str(&body).expect("JSON");
        if !events.iter().any(|e| e["eventId"] == event["eventId"]) {
            events.push(event);
        }
    }
    let mut kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap_or_default()).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["member.joined", "message.created", "user.registered", "user.registered"]);
    assert!(
        tokio::time::timeout(Duration::from_millis(500), received.recv()).await.is_err(),
        "nothing twice"
    );
}
