//! FCM against a local server playing both Google's token endpoint (checking the service
//! account's signed assertion) and the `messages:send` endpoint.

mod common;

use std::sync::Arc;

use common::{notification, now, quick_retries, Exchange, Protocol, Server};
use confab_push::{
    send_with_retries, Attempts, FcmConfig, FcmProvider, Preview, Provider, PushError, ServiceAccount, Target,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs8::DecodePrivateKey;
use url::Url;

const KEY_PEM: &str = include_str!("fixtures/fcm-test-key.pem");
const CLIENT_EMAIL: &str = "push@confab-test.iam.gserviceaccount.com";
const DEVICE: &str = "fcm-token:APA91b_device";

fn provider(server: &Server) -> FcmProvider {
    let file = serde_json::json!({
        "type": "service_account",
        "project_id": "confab-test",
        "private_key_id": "key-1",
        "private_key": KEY_PEM,
        "client_email": CLIENT_EMAIL,
        "client_id": "1234",
        "token_uri": server.url("/token"),
    });
    let mut config = FcmConfig::new(ServiceAccount::from_json(&file.to_string()).unwrap());
    config.base_url = Some(Url::parse(&server.url("")).unwrap());
    FcmProvider::new(config).unwrap()
}

/// Checks a token request (form, RS256 assertion with the service account's key) and answers it.
fn grant(request: Exchange, server: &Server, token: &str, expires_in: u64) {
    assert_eq!(request.method, "POST");
    assert_eq!(request.uri.path(), "/token");
    assert_eq!(request.header("content-type"), "application/x-www-form-urlencoded");
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&request.body).into_owned().collect();
    assert_eq!(form[0], ("grant_type".into(), "urn:ietf:params:oauth:grant-type:jwt-bearer".into()));
    assert_eq!(form[1].0, "assertion");

    let public = rsa::RsaPrivateKey::from_pkcs8_pem(KEY_PEM).unwrap().to_public_key();
    let key = DecodingKey::from_rsa_der(public.to_pkcs1_der().unwrap().as_bytes());
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[server.url("/token")]);
    validation.set_issuer(&[CLIENT_EMAIL]);
    validation.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
    let decoded =
        jsonwebtoken::decode::<serde_json::Value>(&form[1].1, &key, &validation).expect("a valid assertion");
    assert_eq!(decoded.header.kid.as_deref(), Some("key-1"));
    let claims = decoded.claims;
    assert_eq!(claims["scope"], "https://www.googleapis.com/auth/firebase.messaging");
    let iat = claims["iat"].as_u64().unwrap();
    assert!(iat.abs_diff(now()) <= 5);
    assert_eq!(claims["exp"].as_u64().unwrap(), iat + 3600);

    let body = serde_json::json!({"access_token": token, "expires_in": expires_in, "token_type": "Bearer"});
    request.respond(200, &[("content-type", "application/json")], body.to_string());
}

/// Checks a send request's token and target and returns its message.
fn message(request: &Exchange, token: &str) -> serde_json::Value {
    assert_eq!(request.method, "POST");
    assert_eq!(request.uri.path(), "/v1/projects/confab-test/messages:send");
    assert_eq!(request.header("authorization"), format!("Bearer {token}"));
    assert_eq!(request.header("content-type"), "application/json");
    let body = request.json();
    assert_eq!(body["message"]["token"], DEVICE);
    body["message"].clone()
}

fn ok(request: Exchange) {
    request.respond(200, &[], r#"{"name": "projects/confab-test/messages/0:1"}"#);
}

fn target() -> Target {
    Target::fcm(DEVICE).unwrap()
}

#[tokio::test]
async fn one_token_serves_several_sends_even_concurrent_ones() {
    let mut server = Server::start(Protocol::Http1).await;
    let provider = Arc::new(provider(&server));
    let sends: Vec<_> = (0..3)
        .map(|_| {
            let provider = provider.clone();
            tokio::spawn(async move {
                provider.send(&target(), &notification().with_preview(Preview::Full)).await
            })
        })
        .collect();
    // One token request, then the three messages: the others waited for that token.
    let first = server.next().await;
    grant(first, &server, "access-1", 3600);
    for _ in 0..3 {
        let request = server.next().await;
        let message = message(&request, "access-1");
        assert_eq!(message["data"]["conversationId"], "conv-1");
        assert_eq!(message["data"]["sequenceNumber"], "7");
        assert_eq!(message["data"]["count"], "2");
        assert_eq!(message["data"]["preview"], "See you at 10");
        assert_eq!(message["notification"]["title"], "Team");
        assert_eq!(message["notification"]["body"], "Alice: See you at 10");
        assert_eq!(message["android"]["priority"], "high");
        assert_eq!(message["android"]["collapse_key"], notification().collapse_key());
        ok(request);
    }
    for send in sends {
        assert_eq!(send.await.unwrap(), Ok(()));
    }
    // Later sends reuse it too.
    let later = {
        let provider = provider.clone();
        tokio::spawn(async move { provider.send(&target(), &notification()).await })
    };
    let request = server.next().await;
    message(&request, "access-1");
    ok(request);
    assert_eq!(later.await.unwrap(), Ok(()));
}

#[tokio::test]
async fn hidden_previews_send_data_only() {
    let mut server = Server::start(Protocol::Http1).await;
    let provider = provider(&server);
    let send =
        tokio::spawn(
            async move { provider.send(&target(), &notification().with_preview(Preview::Hidden)).await },
        );
    grant(server.next().await, &server, "access-1", 3600);
    let request = server.next().await;
    let message = message(&request, "access-1");
    assert!(message.get("notification").is_none());
    assert!(message.get("apns").is_none());
    assert_eq!(
        message["data"],
        serde_json::json!({"conversationId": "conv-1", "messageId": "msg-7", "sequenceNumber": "7", "count": "2"})
    );
    ok(request);
    assert_eq!(send.await.unwrap(), Ok(()));
}

#[tokio::test]
async fn an_expired_token_is_fetched_again() {
    let mut server = Server::start(Protocol::Http1).await;
    let provider = Arc::new(provider(&server));
    // Google's tokens live an hour; this one is within the refresh margin at once.
    for token in ["short-1", "short-2"] {
        let send = {
            let provider = provider.clone();
            tokio::spawn(async move { provider.send(&target(), &notification()).await })
        };
        grant(server.next().await, &server, token, 30);
        let request = server.next().await;
        message(&request, token);
        ok(request);
        assert_eq!(send.await.unwrap(), Ok(()));
    }
}

#[tokio::test]
async fn a_401_drops_the_token_and_tries_once_more() {
    let mut server = Server::start(Protocol::Http1).await;
    let provider = provider(&server);
    let send = tokio::spawn(async move { provider.send(&target(), &notification()).await });
    grant(server.next().await, &server, "revoked", 3600);
    let request = server.next().await;
    message(&request, "revoked");
    request.respond(401, &[], r#"{"error": {"code": 401, "status": "UNAUTHENTICATED"}}"#);
    grant(server.next().await, &server, "fresh", 3600);
    let request = server.next().await;
    message(&request, "fresh");
    ok(request);
    assert_eq!(send.await.unwrap(), Ok(()));
}

#[tokio::test]
async fn a_second_401_is_a_configuration_error() {
    let mut server = Server::start(Protocol::Http1).await;
    let provider = provider(&server);
    let send = tokio::spawn(async move { provider.send(&target(), &notification()).await });
    for token in ["one", "two"] {
        grant(server.next().await, &server, token, 3600);
        server.next().await.respond(401, &[], "");
    }
    assert!(matches!(send.await.unwrap(), Err(PushError::Config(_))));
}

fn fcm_error(status: &str, code: &str) -> String {
    serde_json::json!({"error": {"code": 0, "message": "test", "status": status, "details": [
        {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}]}})
    .to_string()
}

#[tokio::test]
async fn unregistered_is_gone_but_invalid_argument_is_only_rejected() {
    let mut server = Server::start(Protocol::Http1).await;
    let provider = Arc::new(provider(&server));
    let cases = [
        (404, fcm_error("NOT_FOUND", "UNREGISTERED"), "gone"),
        (400, fcm_error("INVALID_ARGUMENT", "INVALID_ARGUMENT"), "rejected"),
        (403, fcm_error("PERMISSION_DENIED", "SENDER_ID_MISMATCH"), "rejected"),
        (429, fcm_error("RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"), "retry"),
        (503, fcm_error("UNAVAILABLE", "UNAVAILABLE"), "retry"),
    ];
    for (i, (status, body, expected)) in cases.into_iter().enumerate() {
        let send = {
            let provider = provider.clone();
            tokio::spawn(async move { provider.send(&target(), &notification()).await })
        };
        if i == 0 {
            grant(server.next().await, &server, "access", 3600);
        }
        server.next().await.respond(status, &[("retry-after", "30")], body);
        let result = send.await.unwrap();
        let outcome = match &result {
            Err(PushError::Gone(_)) => "gone",
            Err(PushError::Rejected(_)) => "rejected",
            Err(PushError::Retry { after, .. }) => {
                assert_eq!(*after, Some(std::time::Duration::from_secs(30)));
                "retry"
            }
            _ => "other",
        };
        assert_eq!(outcome, expected, "{status}: {result:?}");
    }
}

#[tokio::test]
async fn token_endpoint_failures() {
    let mut server = Server::start(Protocol::Http1).await;
    let provider = Arc::new(provider(&server));
    let send = {
        let provider = provider.clone();
        tokio::spawn(async move { provider.send(&target(), &notification()).await })
    };
    server.next().await.respond(
        400,
        &[],
        r#"{"error": "invalid_grant", "error_description": "Invalid JWT"}"#,
    );
    assert!(matches!(send.await.unwrap(), Err(PushError::Config(e)) if e.contains("invalid_grant")));

    let retried = {
        let provider = provider.clone();
        tokio::spawn(async move {
            send_with_retries(provider.as_ref(), &target(), &notification(), &quick_retries()).await
        })
    };
    server.next().await.respond(503, &[], "");
    grant(server.next().await, &server, "access", 3600);
    ok(server.next().await);
    assert_eq!(retried.await.unwrap(), Ok(Attempts(2)));
}
