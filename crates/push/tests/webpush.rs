//! Web Push against a local HTTPS push service: the request as a push service receives it
//! (headers, VAPID token, encrypted body), and what its answers mean.

mod common;

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::{notification, now, quick_retries, Protocol, Server};
use confab_push::webpush::decrypt;
use confab_push::{
    send_with_retries, Attempts, ClientOptions, EndpointPolicy, Preview, Provider, PushError, Target,
    VapidKey, WebPushConfig, WebPushProvider,
};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;

const SUBJECT: &str = "mailto:ops@chat.example";

/// A browser's subscription: its private key and auth secret, and the target the server stores.
struct Browser {
    private: [u8; 32],
    auth: [u8; 16],
    target: Target,
}

fn browser(endpoint: &str) -> Browser {
    let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let public = secret.public_key().to_encoded_point(false);
    let auth: [u8; 16] = rand::random();
    let target = Target::web_push_with(
        &EndpointPolicy { allow_private: true },
        endpoint,
        &URL_SAFE_NO_PAD.encode(public.as_bytes()),
        &URL_SAFE_NO_PAD.encode(auth),
    )
    .unwrap();
    Browser { private: secret.to_bytes().into(), auth, target }
}

fn provider(server: &Server, allow_private: bool) -> (WebPushProvider, VapidKey) {
    let vapid = VapidKey::generate().unwrap();
    let mut config = WebPushConfig::new(vapid.clone(), SUBJECT);
    config.policy = EndpointPolicy { allow_private };
    config.http =
        ClientOptions { extra_root_certs: vec![server.cert_der.clone()], ..ClientOptions::default() };
    (WebPushProvider::new(config).unwrap(), vapid)
}

#[tokio::test]
async fn a_push_is_encrypted_to_the_browser_and_signed_with_vapid() {
    let mut server = Server::start(Protocol::Https).await;
    let (provider, vapid) = provider(&server, true);
    let browser = browser(&server.url("/push/sub-1"));
    let n = notification().with_preview(Preview::Sender);

    let send = {
        let (target, n) = (browser.target.clone(), n.clone());
        tokio::spawn(async move { provider.send(&target, &n).await })
    };
    let request = server.next().await;
    assert_eq!(request.method, "POST");
    assert_eq!(request.uri.path(), "/push/sub-1");
    assert_eq!(request.header("content-encoding"), "aes128gcm");
    assert_eq!(request.header("content-type"), "application/octet-stream");
    assert_eq!(request.header("ttl"), "86400");
    assert_eq!(request.header("urgency"), "high");
    assert_eq!(request.header("topic"), n.collapse_key());
    assert!(request.header("topic").len() <= 32);

    // Authorization: vapid t=<JWT>, k=<public key>
    let authorization = request.header("authorization").to_owned();
    let (token, key) = authorization
        .strip_prefix("vapid t=")
        .and_then(|rest| rest.split_once(", k="))
        .expect("vapid t=…, k=…");
    assert_eq!(key, vapid.public_key_base64url());
    let verifying = VerifyingKey::from_sec1_bytes(&URL_SAFE_NO_PAD.decode(key).unwrap()).unwrap();
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()).unwrap();
    verifying.verify(signed.as_bytes(), &signature).expect("the token is signed with k");
    let (header, claims) = signed.split_once('.').unwrap();
    let header: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    assert_eq!(header["alg"], "ES256");
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
    assert_eq!(claims["aud"], format!("https://localhost:{}", server.addr.port()));
    assert_eq!(claims["sub"], SUBJECT);
    let exp = claims["exp"].as_u64().unwrap();
    assert!(exp > now() + 11 * 3600 && exp <= now() + 24 * 3600, "exp {exp}");

    assert!(request.body.len() <= 4096);
    let plaintext = decrypt(&browser.private, &browser.auth, &request.body).expect("decrypts");
    let payload: serde_json::Value = serde_json::from_slice(&plaintext).unwrap();
    assert_eq!(
        payload,
        serde_json::json!({"conversationId": "conv-1", "messageId": "msg-7", "sequenceNumber": 7, "count": 2,
            "senderName": "Alice", "title": "Team"})
    );
    request.respond(201, &[("location", "/m/1")], "");
    assert_eq!(send.await.unwrap(), Ok(()));
}

#[tokio::test]
async fn the_vapid_token_is_reused_for_the_same_push_service() {
    let mut server = Server::start(Protocol::Https).await;
    let (provider, _) = provider(&server, true);
    let provider = std::sync::Arc::new(provider);
    let a = browser(&server.url("/push/a"));
    let b = browser(&server.url("/push/b"));
    let mut tokens = Vec::new();
    for target in [a.target, b.target] {
        let provider = provider.clone();
        let send = tokio::spawn(async move { provider.send(&target, &notification()).await });
        let request = server.next().await;
        tokens.push(request.header("authorization").to_owned());
        request.respond(201, &[], "");
        assert_eq!(send.await.unwrap(), Ok(()));
    }
    assert_eq!(tokens[0], tokens[1]);
}

#[tokio::test]
async fn answers_map_to_outcomes() {
    let mut server = Server::start(Protocol::Https).await;
    let (provider, _) = provider(&server, true);
    let provider = std::sync::Arc::new(provider);
    let target = browser(&server.url("/push/s")).target;
    for (status, retry_after, expected) in [
        (201, None, Ok(())),
        (202, None, Ok(())),
        (410, None, Err("gone")),
        (404, None, Err("gone")),
        (400, None, Err("rejected")),
        (413, None, Err("rejected")),
        (403, None, Err("rejected")),
        (500, None, Err("retry")),
        (503, Some("7"), Err("retry")),
        (429, Some("3"), Err("retry")),
        (301, None, Err("rejected")),
    ] {
        let send = {
            let (provider, target) = (provider.clone(), target.clone());
            tokio::spawn(async move { provider.send(&target, &notification()).await })
        };
        let request = server.next().await;
        let headers: Vec<(&str, &str)> = retry_after.map(|v| ("retry-after", v)).into_iter().collect();
        request.respond(status, &headers, "{\"reason\":\"test\"}");
        let result = send.await.unwrap();
        let outcome = result.as_ref().map(|_| ()).map_err(|e| match e {
            PushError::Gone(_) => "gone",
            PushError::Rejected(_) => "rejected",
            PushError::Retry { .. } => "retry",
            PushError::Config(_) => "config",
        });
        assert_eq!(outcome, expected, "status {status}: {result:?}");
        if let (Some(seconds), Err(PushError::Retry { after, .. })) = (retry_after, &result) {
            assert_eq!(*after, Some(Duration::from_secs(seconds.parse().unwrap())));
        }
    }
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after() {
    let mut server = Server::start(Protocol::Https).await;
    let (provider, _) = provider(&server, true);
    let target = browser(&server.url("/push/s")).target;
    let send = tokio::spawn(async move {
        send_with_retries(&provider, &target, &notification(), &quick_retries()).await
    });
    server.next().await.respond(429, &[("retry-after", "1")], "");
    server.next().await.respond(500, &[], "");
    server.next().await.respond(201, &[], "");
    assert_eq!(send.await.unwrap(), Ok(Attempts(3)));
}

#[tokio::test]
async fn server_errors_are_retried_until_attempts_run_out() {
    let mut server = Server::start(Protocol::Https).await;
    let (provider, _) = provider(&server, true);
    let target = browser(&server.url("/push/s")).target;
    let send = tokio::spawn(async move {
        send_with_retries(&provider, &target, &notification(), &quick_retries()).await
    });
    for _ in 0..3 {
        server.next().await.respond(500, &[], "");
    }
    assert!(matches!(send.await.unwrap(), Err(PushError::Retry { .. })));
}

#[tokio::test]
async fn a_gone_subscription_is_not_retried() {
    let mut server = Server::start(Protocol::Https).await;
    let (provider, _) = provider(&server, true);
    let target = browser(&server.url("/push/s")).target;
    let send = tokio::spawn(async move {
        send_with_retries(&provider, &target, &notification(), &quick_retries()).await
    });
    server.next().await.respond(410, &[], "");
    assert!(matches!(send.await.unwrap(), Err(PushError::Gone(_))));
    assert!(!server.pending());
}

#[tokio::test]
async fn localhost_is_refused_without_allow_private() {
    let mut server = Server::start(Protocol::Https).await;
    let (provider, _) = provider(&server, false);
    // The name passes registration (only the resolver knows where it points) …
    let by_name = browser(&server.url("/push/s")).target;
    assert!(
        matches!(provider.send(&by_name, &notification()).await, Err(PushError::Rejected(e)) if e.contains("localhost"))
    );
    // … an address literal is refused before any lookup.
    let literal = browser(&format!("https://127.0.0.1:{}/push/s", server.addr.port())).target;
    assert!(
        matches!(provider.send(&literal, &notification()).await, Err(PushError::Rejected(e)) if e.contains("127.0.0.1"))
    );
    let mapped = browser(&format!("https://[::ffff:127.0.0.1]:{}/push/s", server.addr.port())).target;
    assert!(matches!(provider.send(&mapped, &notification()).await, Err(PushError::Rejected(_))));
    // Refusals are final: nothing reached the server, nothing is retried.
    let result = send_with_retries(&provider, &by_name, &notification(), &quick_retries()).await;
    assert!(matches!(result, Err(PushError::Rejected(_))));
    assert!(!server.pending());
}

#[tokio::test]
async fn an_unreachable_push_service_is_worth_retrying() {
    let server = Server::start(Protocol::Https).await;
    let (provider, _) = provider(&server, true);
    let target = browser(&server.url("/push/s")).target;
    drop(server); // The port closes: connections are refused.
    let result = provider.send(&target, &notification()).await;
    assert!(matches!(result, Err(PushError::Retry { .. })), "{result:?}");
}

#[tokio::test]
async fn an_untrusted_certificate_is_not_accepted() {
    let mut server = Server::start(Protocol::Https).await;
    let mut config = WebPushConfig::new(VapidKey::generate().unwrap(), SUBJECT);
    config.policy = EndpointPolicy { allow_private: true };
    let provider = WebPushProvider::new(config).unwrap();
    let target = browser(&server.url("/push/s")).target;
    assert!(matches!(provider.send(&target, &notification()).await, Err(PushError::Retry { .. })));
    assert!(!server.pending());
}
