//! APNs against a local HTTP/2 server (prior knowledge, no TLS): path, headers, the ES256
//! provider token and the body, and what Apple's answers mean.

mod common;

use std::sync::Arc;

use common::{notification, now, Exchange, Protocol, Server};
use confab_push::{ApnsConfig, ApnsEnvironment, ApnsKey, ApnsProvider, Preview, Provider, PushError, Target};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::EncodePrivateKey;
use url::Url;

const DEVICE: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
const TOPIC: &str = "com.example.confab";

fn provider(server: &Server) -> (ApnsProvider, p256::SecretKey) {
    let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let pem = secret.to_pkcs8_pem(p256::pkcs8::LineEnding::LF).unwrap();
    let key = ApnsKey::from_pem(&pem, "KEYID12345", "TEAMID6789").unwrap();
    let mut config = ApnsConfig::new(key, TOPIC, ApnsEnvironment::Sandbox);
    config.base_url = Some(Url::parse(&server.url("/")).unwrap());
    (ApnsProvider::new(config).unwrap(), secret)
}

/// Checks the request's path, headers and provider token; returns the token.
fn check(request: &Exchange, secret: &p256::SecretKey) -> String {
    assert_eq!(request.version, hyper::Version::HTTP_2);
    assert_eq!(request.method, "POST");
    assert_eq!(request.uri.path(), format!("/3/device/{DEVICE}"));
    assert_eq!(request.header("apns-topic"), TOPIC);
    assert_eq!(request.header("apns-push-type"), "alert");
    assert_eq!(request.header("apns-priority"), "10");
    assert_eq!(request.header("apns-collapse-id"), notification().collapse_key());
    assert!(request.header("apns-collapse-id").len() <= 64);
    let expiration: u64 = request.header("apns-expiration").parse().unwrap();
    assert!(expiration.abs_diff(now() + 86_400) <= 5);

    let token = request.header("authorization").strip_prefix("bearer ").expect("bearer <jwt>").to_owned();
    let point = secret.public_key().to_encoded_point(false);
    let key =
        DecodingKey::from_ec_components(&base64_url(point.x().unwrap()), &base64_url(point.y().unwrap()))
            .unwrap();
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_required_spec_claims(&["iss"]);
    validation.set_issuer(&["TEAMID6789"]);
    validation.validate_exp = false;
    let decoded = jsonwebtoken::decode::<serde_json::Value>(&token, &key, &validation)
        .expect("signed with the .p8 key");
    assert_eq!(decoded.header.kid.as_deref(), Some("KEYID12345"));
    assert_eq!(decoded.header.alg, Algorithm::ES256);
    assert!(decoded.claims["iat"].as_u64().unwrap().abs_diff(now()) <= 5);
    token
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn target() -> Target {
    Target::apns(DEVICE).unwrap()
}

#[tokio::test]
async fn a_push_goes_over_http2_with_a_reused_provider_token() {
    let mut server = Server::start(Protocol::H2c).await;
    let (provider, secret) = provider(&server);
    let provider = Arc::new(provider);
    let mut tokens = Vec::new();
    for preview in [Preview::Full, Preview::Hidden] {
        let send = {
            let provider = provider.clone();
            tokio::spawn(async move { provider.send(&target(), &notification().with_preview(preview)).await })
        };
        let request = server.next().await;
        tokens.push(check(&request, &secret));
        let body = request.json();
        assert_eq!(body["aps"]["thread-id"], "conv-1");
        assert_eq!(body["aps"]["sound"], "default");
        assert_eq!(body["aps"]["badge"], 4);
        assert_eq!(body["conversationId"], "conv-1");
        assert_eq!(body["messageId"], "msg-7");
        assert_eq!(body["sequenceNumber"], 7);
        assert_eq!(body["count"], 2);
        match preview {
            Preview::Full => {
                assert_eq!(
                    body["aps"]["alert"],
                    serde_json::json!({"title": "Team", "body": "Alice: See you at 10"})
                );
                assert_eq!(body["preview"], "See you at 10");
            }
            _ => {
                assert_eq!(body["aps"]["alert"], serde_json::json!({"body": "2 new messages"}));
                assert!(body.get("senderName").is_none() && body.get("preview").is_none());
            }
        }
        request.respond(200, &[("apns-id", "eabeae54-14a8-11e5-b60b-1697f925ec7b")], "");
        assert_eq!(send.await.unwrap(), Ok(()));
    }
    assert_eq!(tokens[0], tokens[1], "the provider token is reused");
}

#[tokio::test]
async fn answers_map_to_outcomes() {
    let mut server = Server::start(Protocol::H2c).await;
    let (provider, _) = provider(&server);
    let provider = Arc::new(provider);
    for (status, reason, expected) in [
        (410, "Unregistered", "gone"),
        (400, "BadDeviceToken", "gone"),
        (400, "DeviceTokenNotForTopic", "rejected"),
        (413, "PayloadTooLarge", "rejected"),
        (403, "InvalidProviderToken", "config"),
        (400, "TopicDisallowed", "config"),
        (429, "TooManyRequests", "retry"),
        (503, "ServiceUnavailable", "retry"),
    ] {
        let send = {
            let provider = provider.clone();
            tokio::spawn(async move { provider.send(&target(), &notification()).await })
        };
        let body = serde_json::json!({"reason": reason}).to_string();
        server.next().await.respond(status, &[("content-type", "application/json")], body);
        let result = send.await.unwrap();
        let outcome = match &result {
            Ok(()) => "ok",
            Err(PushError::Gone(_)) => "gone",
            Err(PushError::Rejected(_)) => "rejected",
            Err(PushError::Config(_)) => "config",
            Err(PushError::Retry { .. }) => "retry",
        };
        assert_eq!(outcome, expected, "{status} {reason}: {result:?}");
        if let Err(e) = &result {
            assert!(e.to_string().contains(reason), "{e}");
        }
    }
}

#[tokio::test]
async fn an_expired_provider_token_is_renewed_once() {
    let mut server = Server::start(Protocol::H2c).await;
    let (provider, secret) = provider(&server);
    let send = tokio::spawn(async move { provider.send(&target(), &notification()).await });
    let request = server.next().await;
    check(&request, &secret);
    request.respond(403, &[], r#"{"reason": "ExpiredProviderToken"}"#);
    let request = server.next().await;
    check(&request, &secret);
    request.respond(200, &[], "");
    assert_eq!(send.await.unwrap(), Ok(()));
}

#[tokio::test]
async fn a_bad_device_token_never_reaches_the_path() {
    let mut server = Server::start(Protocol::H2c).await;
    let (provider, _) = provider(&server);
    let forged = Target::Apns { token: format!("{}/../../x", "a".repeat(64)) };
    assert!(matches!(provider.send(&forged, &notification()).await, Err(PushError::Rejected(_))));
    assert!(!server.pending());
}
