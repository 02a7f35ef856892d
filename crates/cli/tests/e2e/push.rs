//! Push notifications, end to end through the operator's push webhook (a real HTTP endpoint of
//! the test's own that checks each request's signature): who is pushed (offline devices of other
//! members, never the sender's, never a live device, never in a muted conversation), coalescing
//! with a count, a subscription the endpoint reports gone, and every bad subscription refused.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use confab_client::ClientError;
use confab_proto::{ErrorCode, NotificationSettings, PushKind, PushSubscriptionRequest, WebPushKeys};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::harness::*;

/// The local push service of confab-push's own tests (HTTPS with a test certificate).
#[path = "../../../push/tests/common/mod.rs"]
mod push_service;

const SECRET: &str = "push-hook-secret";
const WAIT: Duration = Duration::from_secs(15);

/// A push webhook receiver: answers a device's pushes with the statuses queued for it in
/// `answers` (then `204`), and hands every signed request's body to the test (an unsigned or
/// badly signed one fails the test).
struct Receiver {
    url: String,
    pushes: mpsc::UnboundedReceiver<Value>,
    answers: Arc<Mutex<HashMap<String, VecDeque<StatusCode>>>>,
}

async fn receiver() -> Receiver {
    let (tx, pushes) = mpsc::unbounded_channel();
    let answers: Arc<Mutex<HashMap<String, VecDeque<StatusCode>>>> = Arc::default();
    let queued = answers.clone();
    let app = axum::Router::new().route(
        "/push",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let (tx, queued) = (tx.clone(), queued.clone());
            async move {
                let signature = headers.get("confab-signature").and_then(|v| v.to_str().ok()).unwrap_or("");
                assert!(signed(signature, &body), "push webhook signature: {signature}");
                let push = serde_json::from_str::<Value>(&body).expect("JSON body");
                let device = push["deviceId"].as_str().unwrap_or_default().to_string();
                let _ = tx.send(push);
                let mut answers = queued.lock().expect("answers");
                answers.get_mut(&device).and_then(VecDeque::pop_front).unwrap_or(StatusCode::NO_CONTENT)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/push", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver { url, pushes, answers }
}

impl Receiver {
    async fn next(&mut self) -> Value {
        tokio::time::timeout(WAIT, self.pushes.recv()).await.expect("a push in time").expect("receiver open")
    }
}

fn signed(header: &str, body: &str) -> bool {
    let Some((t, v1)) = header.split_once(',') else { return false };
    let (Some(t), Some(v1)) = (t.strip_prefix("t="), v1.strip_prefix("v1=")) else { return false };
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(SECRET.as_bytes()).expect("key");
    mac.update(format!("{t}.{body}").as_bytes());
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    expected == v1
}

async fn server(hook: &str, preview: confab_push::Preview, coalesce_ms: u64) -> TestServer {
    let hook = hook.to_string();
    TestServer::start_with(move |c| {
        c.push.webhook_url = Some(hook);
        c.push.webhook_secret = Some(SECRET.into());
        c.push.preview = preview;
        c.push.coalesce = Duration::from_millis(coalesce_ms);
    })
    .await
}

fn webhook(device: &str) -> PushSubscriptionRequest {
    PushSubscriptionRequest {
        device_id: device.into(),
        kind: PushKind::Webhook,
        endpoint: None,
        keys: None,
        token: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_devices_of_other_members_are_pushed_once_per_window_with_a_count() {
    let mut hook = receiver().await;
    let server = server(&hook.url, confab_push::Preview::Full, 400).await;
    let config = server.client().push_config().await.unwrap();
    assert!(config.kinds.contains(&PushKind::Webhook) && config.kinds.contains(&PushKind::WebPush));
    assert!(config.web_push_public_key.is_some_and(|k| k.len() == 87), "a P-256 point, base64url");

    let (ann, ben) = (register(&server.url, "ann").await, register(&server.url, "ben").await);
    ann.api.subscribe_push(&webhook("ann-phone")).await.unwrap();
    let sub = ben.api.subscribe_push(&webhook("ben-phone")).await.unwrap();
    assert_eq!((sub.device_id.as_str(), sub.kind), ("ben-phone", PushKind::Webhook));
    assert_eq!(ben.api.push_subscriptions().await.unwrap(), vec![sub.clone()]);
    let (conv, _) = ann.api.open_direct(&ben.id).await.unwrap();
    let id = conv.conversation_id;

    ann.api.send_message(&id, Some("m1"), text("lunch at noon?")).await.unwrap();
    let push = hook.next().await;
    assert_eq!((push["type"].as_str(), push["userId"].as_str()), (Some("push"), Some(ben.id.as_str())));
    assert_eq!(push["deviceId"], "ben-phone", "never the sender's own devices");
    let n = &push["notification"];
    assert_eq!((n["conversationId"].as_str(), n["messageId"].as_str()), (Some(id.as_str()), Some("m1")));
    assert_eq!((n["sequenceNumber"].as_u64(), n["count"].as_u64()), (Some(1), Some(1)));
    assert_eq!((n["senderName"].as_str(), n["preview"].as_str()), (Some("ann"), Some("lunch at noon?")));

    // Within the window after that push, three more go out as one, carrying the newest.
    for (i, t) in ["one", "two", "three"].iter().enumerate() {
        ann.api.send_message(&id, Some(&format!("m{}", i + 2)), text(t)).await.unwrap();
    }
    let push = hook.next().await;
    let n = &push["notification"];
    assert_eq!((n["count"].as_u64(), n["messageId"].as_str()), (Some(3), Some("m4")), "{push}");
    // Nothing else was queued: a later message is the next push.
    ann.api.send_message(&id, Some("m5"), text("later")).await.unwrap();
    assert_eq!(hook.next().await["notification"]["messageId"], "m5");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_devices_and_muted_conversations_are_not_pushed_and_gone_subscriptions_go() {
    let mut hook = receiver().await;
    let server = server(&hook.url, confab_push::Preview::Hidden, 100).await;
    let (ann, ben, cat) = (
        register(&server.url, "ann").await,
        register(&server.url, "ben").await,
        register(&server.url, "cat").await,
    );
    ben.api.subscribe_push(&webhook("ben-laptop")).await.unwrap();
    cat.api.subscribe_push(&webhook("cat-phone")).await.unwrap();
    let group = ann.api.create_group("trip", &[ben.id.clone(), cat.id.clone()], None).await.unwrap();
    let id = group.conversation_id;

    // Ben's laptop is connected: no push for it. Cat's phone is not: pushed, previews hidden.
    let laptop = ben.connect("ben-laptop").await;
    let skipped = metric(&server.url, "confab_push_skipped_total{reason=\"live\"}").await;
    ann.api.send_message(&id, Some("m1"), text("secret plans")).await.unwrap();
    let push = hook.next().await;
    assert_eq!(push["deviceId"], "cat-phone");
    let n = &push["notification"];
    assert!(n.get("preview").is_none() && n.get("senderName").is_none(), "preview none: {push}");
    let deadline = tokio::time::Instant::now() + WAIT;
    while metric(&server.url, "confab_push_skipped_total{reason=\"live\"}").await < skipped + 1.0 {
        assert!(tokio::time::Instant::now() < deadline, "the live device's push was never skipped");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    laptop.close().await.unwrap();

    // Cat mutes for an hour; Ben's laptop is offline now and gets the next message.
    let until = confab_core::ids::now_millis() + 3_600_000;
    let muted = cat.api.mute(&id, Some(until)).await.unwrap();
    assert_eq!(muted, NotificationSettings { muted: true, muted_until: Some(until) });
    let view = cat.api.conversation(&id).await.unwrap();
    assert_eq!((view.muted, view.muted_until), (true, Some(until)));
    ann.api.send_message(&id, Some("m2"), text("are you there?")).await.unwrap();
    let push = hook.next().await;
    assert_eq!(
        (push["deviceId"].as_str(), push["notification"]["messageId"].as_str()),
        (Some("ben-laptop"), Some("m2"))
    );
    assert_eq!(cat.api.unmute(&id).await.unwrap(), NotificationSettings { muted: false, muted_until: None });

    // The endpoint says Cat's subscription is gone: it is deleted, and Cat gets no more pushes.
    hook.answers.lock().unwrap().entry("cat-phone".into()).or_default().push_back(StatusCode::GONE);
    ann.api.send_message(&id, Some("m3"), text("hello?")).await.unwrap();
    let mut devices = vec![hook.next().await["deviceId"].as_str().unwrap().to_string()];
    devices.push(hook.next().await["deviceId"].as_str().unwrap().to_string());
    devices.sort();
    assert_eq!(devices, ["ben-laptop", "cat-phone"]);
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cat.api.push_subscriptions().await.unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the gone subscription was not deleted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.shutdown().await;
}

fn code(e: ClientError) -> (u16, ErrorCode) {
    match e {
        ClientError::Api { status, body } => (status, body.error),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_subscriptions_and_foreign_settings_are_refused() {
    let hook = receiver().await;
    let server = server(&hook.url, confab_push::Preview::Hidden, 100).await;
    let (ann, ben) = (register(&server.url, "ann").await, register(&server.url, "ben").await);
    let web = |endpoint: &str, p256dh: &str, auth: &str| PushSubscriptionRequest {
        device_id: "d".into(),
        kind: PushKind::WebPush,
        endpoint: Some(endpoint.into()),
        keys: Some(WebPushKeys { p256dh: p256dh.into(), auth: auth.into() }),
        token: None,
    };
    // A real browser key (an uncompressed P-256 point) and auth secret.
    let p256dh = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    let auth = "BTBZMqHH6r4Tts7J_aSIgg";
    let bad = [
        web("http://push.example.com/x", p256dh, auth),
        web("not a url", p256dh, auth),
        web("https://127.0.0.1/x", p256dh, auth),
        web("https://[::1]/x", p256dh, auth),
        web("https://169.254.169.254/latest", p256dh, auth),
        web("https://push.example.com/x", "BAAA", auth),
        web("https://push.example.com/x", p256dh, "short"),
        PushSubscriptionRequest { endpoint: None, ..web("", p256dh, auth) },
        PushSubscriptionRequest { device_id: "".into(), ..webhook("") },
        PushSubscriptionRequest { kind: PushKind::Fcm, token: Some("t".into()), ..webhook("d") },
    ];
    for request in bad {
        let e = ann.api.subscribe_push(&request).await.unwrap_err();
        assert_eq!(code(e), (400, ErrorCode::InvalidRequest), "{request:?}");
    }
    // Malformed JSON and a wrong kind are the same error; no token is 401.
    let (status, body) = ann
        .api
        .raw(
            reqwest::Method::POST,
            "/api/v1/push/subscriptions",
            Some(r#"{"deviceId":"d","kind":"pigeon"}"#.into()),
        )
        .await
        .unwrap();
    assert_eq!((status, body["error"].as_str()), (400, Some("INVALID_REQUEST")));
    let e = server.client().subscribe_push(&webhook("d")).await.unwrap_err();
    assert_eq!(code(e).0, 401);
    // A good Web Push subscription is taken; nobody else can delete it.
    let sub = ann.api.subscribe_push(&web("https://push.example.com/x", p256dh, auth)).await.unwrap();
    assert_eq!(code(ben.api.unsubscribe_push(&sub.subscription_id).await.unwrap_err()).0, 404);
    ann.api.unsubscribe_push(&sub.subscription_id).await.unwrap();
    assert_eq!(code(ann.api.unsubscribe_push(&sub.subscription_id).await.unwrap_err()).0, 404);
    // Only members mute; a mute more than a year ahead is refused.
    let (conv, _) = ann.api.open_direct(&ben.id).await.unwrap();
    let cat = register(&server.url, "cat").await;
    let e = cat.api.mute(&conv.conversation_id, None).await.unwrap_err();
    assert!(matches!(code(e), (403, ErrorCode::Forbidden) | (404, _)));
    let e = cat.api.mute("no-such-conversation", None).await.unwrap_err();
    assert_eq!(code(e), (404, ErrorCode::ConversationNotFound));
    let far = confab_core::ids::now_millis() + 400 * 24 * 3_600_000;
    assert_eq!(code(ann.api.mute(&conv.conversation_id, Some(far)).await.unwrap_err()).0, 400);
    server.shutdown().await;
}

/// Two nodes on PostgreSQL and Redis, both dispatching: every push goes out once whichever node
/// committed its message and whichever node claims it, and a node killed right after committing a
/// message leaves that message's pushes to the other node (they wait in the database, not in the
/// dead node's memory).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_cluster_each_push_goes_out_once_and_outlives_a_killed_node() {
    if !crate::services::available().await {
        return;
    }
    let mut hook = receiver().await;
    let iso = crate::services::Isolation::shared();
    let (_dir, path) = temp_path();
    let mut args = iso.args();
    for (flag, value) in [
        ("--push-webhook-url", hook.url.as_str()),
        ("--push-webhook-secret", SECRET),
        ("--push-coalesce-ms", "100"),
        ("--push-lease-ms", "2000"),
    ] {
        args.extend([flag.to_string(), value.to_string()]);
    }
    let nodes: Vec<ServerProcess> =
        (0..2).map(|i| ServerProcess::spawn_with(&path.join(format!("node{i}")), &args)).collect();
    let ann = register(&nodes[0].url, "ann").await;
    let ann_on_1 = confab_client::Client::new(&nodes[1].url).with_token(&ann.token);
    let members = register_many(&nodes[1].url, "member", 4).await;
    for m in &members {
        m.api.subscribe_push(&webhook(&format!("{}-phone", m.id))).await.unwrap();
    }
    let ids: Vec<String> = members.iter().map(|m| m.id.clone()).collect();
    let group = ann.api.create_group("ops", &ids, None).await.unwrap().conversation_id;

    // Twenty messages through both nodes: per device, the pushes' counts add up to twenty and no
    // message is pushed twice to a device.
    for i in 0..20 {
        let api = if i % 2 == 0 { &ann.api } else { &ann_on_1 };
        api.send_message(&group, Some(&format!("m{i}")), text("status")).await.unwrap();
    }
    let mut counted = std::collections::HashMap::<String, u64>::new();
    let mut seen = std::collections::HashSet::new();
    while counted.values().sum::<u64>() < 20 * members.len() as u64 || counted.len() < members.len() {
        let push = hook.next().await;
        let device = push["deviceId"].as_str().unwrap().to_string();
        let message = push["notification"]["messageId"].as_str().unwrap().to_string();
        assert!(seen.insert((device.clone(), message.clone())), "pushed twice: {device} {message}");
        *counted.entry(device).or_default() += push["notification"]["count"].as_u64().unwrap();
    }
    assert!(counted.values().all(|c| *c == 20), "{counted:?}");

    // Node 0 dies right after acknowledging a message: node 1 pushes it to every device.
    ann.api.send_message(&group, Some("last"), text("anyone?")).await.unwrap();
    let mut nodes = nodes.into_iter();
    nodes.next().expect("node 0").kill_9();
    let mut pushed = std::collections::HashSet::new();
    while pushed.len() < members.len() {
        let push = hook.next().await;
        if push["notification"]["messageId"] == "last" {
            pushed.insert(push["deviceId"].as_str().unwrap().to_string());
        }
    }
}

/// Web Push through the server to a push service over HTTPS: the subscription a browser would
/// make, the payload encrypted to it (decrypted here with the browser's key), and the VAPID token
/// signed by the key `GET /push/config` publishes, which the server keeps in its store across a
/// restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_push_is_encrypted_to_the_browser_and_signed_with_the_servers_vapid_key() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use p256::ecdsa::signature::Verifier;
    use p256::elliptic_curve::sec1::ToEncodedPoint;

    let mut service = push_service::Server::start(push_service::Protocol::Https).await;
    let ca = tempfile::NamedTempFile::new().expect("temp file");
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        base64::engine::general_purpose::STANDARD.encode(&service.cert_der)
    );
    std::fs::write(ca.path(), pem).expect("write CA");
    let dir = tempfile::tempdir().expect("temp dir");
    let tune = |c: &mut confab_server::ServerConfig| {
        c.push.ca_file = Some(ca.path().to_path_buf());
        c.push.allow_private_endpoints = true;
        c.push.preview = confab_push::Preview::Full;
        c.push.vapid_subject = "mailto:ops@chat.example".into();
    };
    let server = TestServer::start_in(dir.path(), tune).await;
    let key = server.client().push_config().await.unwrap().web_push_public_key.expect("VAPID key");

    // The browser's side of a subscription: a P-256 key pair and an auth secret.
    let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let auth: [u8; 16] = rand::random();
    let p256dh = URL_SAFE_NO_PAD.encode(secret.public_key().to_encoded_point(false).as_bytes());
    let (ann, ben) = (register(&server.url, "ann").await, register(&server.url, "ben").await);
    let endpoint = service.url("/push/ben-laptop");
    ben.api
        .subscribe_web_push("ben-laptop", &endpoint, &p256dh, &URL_SAFE_NO_PAD.encode(auth))
        .await
        .unwrap();
    let (conv, _) = ann.api.open_direct(&ben.id).await.unwrap();
    ann.api.send_message(&conv.conversation_id, Some("m1"), text("see you at 6")).await.unwrap();

    let request = service.next().await;
    assert_eq!(request.uri.path(), "/push/ben-laptop");
    assert_eq!(request.header("content-encoding"), "aes128gcm");
    let authorization = request.header("authorization").to_owned();
    let (token, k) =
        authorization.strip_prefix("vapid t=").and_then(|r| r.split_once(", k=")).expect("vapid");
    assert_eq!(k, key, "signed with the key the server publishes");
    let verifying = p256::ecdsa::VerifyingKey::from_sec1_bytes(&URL_SAFE_NO_PAD.decode(k).unwrap()).unwrap();
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let signature = p256::ecdsa::Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()).unwrap();
    verifying.verify(signed.as_bytes(), &signature).expect("VAPID token verifies");
    let private: [u8; 32] = secret.to_bytes().into();
    let plaintext = confab_push::webpush::decrypt(&private, &auth, &request.body).expect("decrypts");
    let payload: Value = serde_json::from_slice(&plaintext).unwrap();
    assert_eq!(payload["conversationId"], conv.conversation_id.as_str());
    assert_eq!((payload["messageId"].as_str(), payload["count"].as_u64()), (Some("m1"), Some(1)));
    assert_eq!(
        (payload["senderName"].as_str(), payload["preview"].as_str()),
        (Some("ann"), Some("see you at 6"))
    );
    request.respond(201, &[], "");

    // The key is the store's: a restart publishes the same one.
    server.shutdown().await;
    let again = TestServer::start_in(dir.path(), tune).await;
    assert_eq!(again.client().push_config().await.unwrap().web_push_public_key, Some(key));
    again.shutdown().await;
}

/// FCM and APNs configured as an operator would (a service-account file, a `.p8` key), each
/// pointed at a local service: `GET /push/config` lists them, a device of each kind is pushed
/// through its provider (FCM after the OAuth token exchange, APNs over HTTP/2), and a token of the
/// wrong shape is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fcm_and_apns_devices_are_pushed_through_their_services() {
    use p256::pkcs8::EncodePrivateKey;

    let mut fcm = push_service::Server::start(push_service::Protocol::Http1).await;
    let mut apns = push_service::Server::start(push_service::Protocol::H2c).await;
    let files = tempfile::tempdir().expect("temp dir");
    let account = serde_json::json!({
        "type": "service_account",
        "project_id": "confab-test",
        "private_key_id": "key-1",
        "private_key": include_str!("../../../push/tests/fixtures/fcm-test-key.pem"),
        "client_email": "push@confab-test.iam.gserviceaccount.com",
        "token_uri": fcm.url("/token"),
    });
    std::fs::write(files.path().join("fcm.json"), account.to_string()).unwrap();
    let p8 =
        p256::SecretKey::random(&mut rand::rngs::OsRng).to_pkcs8_pem(p256::pkcs8::LineEnding::LF).unwrap();
    std::fs::write(files.path().join("apns.p8"), p8.as_bytes()).unwrap();
    let (fcm_url, apns_url, dir) = (fcm.url(""), apns.url(""), files.path().to_path_buf());
    let server = TestServer::start_with(move |c| {
        c.push.fcm_credentials = Some(dir.join("fcm.json"));
        c.push.fcm_base_url = Some(fcm_url);
        c.push.apns = Some(confab_server::config::ApnsSettings {
            key: dir.join("apns.p8"),
            key_id: "KEYID12345".into(),
            team_id: "TEAMID6789".into(),
            topic: "chat.example.app".into(),
            sandbox: true,
            base_url: Some(apns_url),
        });
    })
    .await;
    let kinds = server.client().push_config().await.unwrap().kinds;
    assert_eq!(kinds, [PushKind::WebPush, PushKind::Fcm, PushKind::Apns]);

    let (ann, ben, cat) = (
        register(&server.url, "ann").await,
        register(&server.url, "ben").await,
        register(&server.url, "cat").await,
    );
    let token = |kind, device: &str, token: &str| PushSubscriptionRequest {
        token: Some(token.into()),
        kind,
        ..webhook(device)
    };
    let bad = ben.api.subscribe_push(&token(PushKind::Apns, "ben-phone", "not hex")).await.unwrap_err();
    assert_eq!(code(bad), (400, ErrorCode::InvalidRequest));
    ben.api.subscribe_push(&token(PushKind::Fcm, "ben-phone", "fcm-token:APA91b_ben")).await.unwrap();
    cat.api.subscribe_push(&token(PushKind::Apns, "cat-phone", &"ab".repeat(32))).await.unwrap();
    let group = ann.api.create_group("team", &[ben.id.clone(), cat.id.clone()], None).await.unwrap();
    ann.api.send_message(&group.conversation_id, Some("m1"), text("standup")).await.unwrap();

    let grant = fcm.next().await;
    assert_eq!(grant.uri.path(), "/token");
    grant.respond(
        200,
        &[("content-type", "application/json")],
        r#"{"access_token":"at-1","expires_in":3600}"#,
    );
    let send = fcm.next().await;
    assert_eq!(send.uri.path(), "/v1/projects/confab-test/messages:send");
    assert_eq!(send.header("authorization"), "Bearer at-1");
    let message = send.json()["message"].clone();
    assert_eq!(
        (message["token"].as_str(), message["data"]["messageId"].as_str()),
        (Some("fcm-token:APA91b_ben"), Some("m1"))
    );
    assert!(message.get("notification").is_none(), "preview none: data only");
    send.respond(200, &[], r#"{"name":"projects/confab-test/messages/1"}"#);

    let push = apns.next().await;
    assert_eq!(push.version, hyper::Version::HTTP_2);
    assert_eq!(push.uri.path(), format!("/3/device/{}", "ab".repeat(32)));
    assert_eq!(push.header("apns-topic"), "chat.example.app");
    assert!(push.header("authorization").starts_with("bearer "));
    assert_eq!(push.json()["messageId"], "m1");
    push.respond(200, &[], "");
    server.shutdown().await;
}

/// Many devices of one user subscribing at once, the same device again and again: every request
/// is answered (no `500`), the device keeps one subscription per kind, and the user no more than
/// the cap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_subscriptions_stays_within_the_cap() {
    let hook = receiver().await;
    let server = server(&hook.url, confab_push::Preview::Hidden, 100).await;
    let ann = register(&server.url, "ann").await;
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let api = ann.api.clone();
            let device = if i % 2 == 0 { "same".to_string() } else { format!("d{i}") };
            tokio::spawn(async move { api.subscribe_push(&webhook(&device)).await })
        })
        .collect();
    for task in tasks {
        if let Err(e) = task.await.unwrap() {
            assert_eq!(code(e), (400, ErrorCode::InvalidRequest));
        }
    }
    let held = ann.api.push_subscriptions().await.unwrap();
    let cap = confab_core::rules::push::MAX_SUBSCRIPTIONS_PER_USER as usize;
    assert!(held.len() <= cap, "{} subscriptions", held.len());
    assert_eq!(held.iter().filter(|s| s.device_id == "same").count(), 1);
    server.shutdown().await;
}

/// A push service that takes every request and never answers holds only pushes: messages are
/// still acknowledged and delivered live, one after another, while pushes wait for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_service_that_hangs_never_slows_messages() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let hanging = format!("http://{}/push", listener.local_addr().expect("address"));
    let (seen, mut requests) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/push",
        axum::routing::post(move || {
            let _ = seen.send(());
            // Holds the request open far past the test.
            std::future::pending::<StatusCode>()
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let server = server(&hanging, confab_push::Preview::Hidden, 0).await;
    let users = register_many(&server.url, "member", 20).await;
    let (ann, others) = users.split_first().expect("users");
    for u in others {
        u.api.subscribe_push(&webhook(&format!("{}-phone", u.id))).await.unwrap();
    }
    let ids: Vec<String> = others.iter().map(|u| u.id.clone()).collect();
    let gid = ann.api.create_group("big", &ids, None).await.unwrap().conversation_id;
    let mut reader = others[0].connect("tablet").await;
    // Every push slot is taken by the hanging service before the messages that follow.
    ann.api.send_message(&gid, Some("first"), text("first")).await.unwrap();
    for _ in 0..16 {
        tokio::time::timeout(WAIT, requests.recv()).await.expect("pushes are attempted").expect("open");
    }
    for i in 0..30 {
        ann.api.send_message(&gid, Some(&format!("m{i}")), text("still here")).await.unwrap();
    }
    let delivered = crate::messaging::collect_new(&mut reader, 31).await;
    assert_eq!(delivered.last().map(|m| m.message_id.as_str()), Some("m29"));
    server.shutdown().await;
}
