//! Application tokens signed with the application's own keys (ES256 and RS256), checked against
//! the JWKS document it publishes at `--jwks-url` (served here by a small HTTP server of the
//! test's own): accepted and provisioning their user, refused when signed by a key not
//! published, expired, or HS256-signed with the public key; HS256 tokens with the secret still
//! work.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use confab_client::Client;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::*;

/// A test-only RSA key (`keys/test-rsa-2048.der`, PKCS#1) and its modulus, base64url.
const RSA_KEY: &[u8] = include_bytes!("keys/test-rsa-2048.der");
const RSA_N: &str = "vczLbhikq9y66DLlEuC99-zMNzqkSOI3mDc-6704A8dWRbHEeeHScxyb_TvyukZ5rifmVau5ivaU-tn16RR1wOsxelwRFt-DzMAwFfRntIMAml_rpvAvOrQtyEAJwTUfqrsL_xSC2nVfxNWmOGx4i2XfGpFGXtJt22nHsHNoo7SWsEaoAgq7DbFGr1AoJ9hsPt5iifVcm0S9brcxhBkKd1Kj0JeuwIhwQr8SRCsyLlDvBnPtSXnzmeLG1mT926qykVK3Dla3tclot9Q7hDo521iIMtcXrXZQ9pS4mAWRMfler1XEKAfTSeO7BzRruXoWP5D4UF3lOD92gHNaf9ahhQ";

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// A P-256 key: its PKCS#8 DER and its public JWK with `kid`.
fn ec_key(kid: &str) -> (Vec<u8>, serde_json::Value) {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let point = pair.public_key_raw();
    let jwk = serde_json::json!({
        "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
        "x": base64url(&point[1..33]), "y": base64url(&point[33..65]),
    });
    (pair.serialize_der(), jwk)
}

/// Serves whatever `document` holds as `application/json`, to any request.
async fn serve_jwks(document: Arc<Mutex<String>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let body = document.lock().expect("document").clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    url
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn token(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, sub: &str, exp: i64) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    let claims = serde_json::json!({"sub": sub, "exp": exp, "iat": now(), "username": sub.replace('-', "")});
    jsonwebtoken::encode(&header, &claims, key).expect("sign")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_signed_with_the_published_keys_are_accepted_and_others_refused() {
    let (ec_pem, ec_jwk) = ec_key("ec-1");
    let rsa_jwk = serde_json::json!({"kty": "RSA", "alg": "RS256", "use": "sig", "kid": "rsa-1", "n": RSA_N, "e": "AQAB"});
    let document = Arc::new(Mutex::new(serde_json::json!({"keys": [ec_jwk, rsa_jwk]}).to_string()));
    let jwks_url = serve_jwks(document.clone()).await;
    let server = TestServer::start_with(|c| c.jwks_url = Some(jwks_url)).await;
    let me = |token: String| {
        let client = Client::new(&server.url).with_token(&token);
        async move { client.me().await }
    };

    // A key published after the server started is found: keys are fetched when first needed.
    let (late_pem, late_jwk) = ec_key("ec-2");
    {
        let mut doc = document.lock().expect("document");
        let mut value: serde_json::Value = serde_json::from_str(&doc).expect("json");
        value["keys"].as_array_mut().expect("keys").push(late_jwk);
        *doc = value.to_string();
    }

    let ec = EncodingKey::from_ec_der(&ec_pem);
    let profile = me(token(Algorithm::ES256, Some("ec-1"), &ec, "app-ec-user", now() + 600))
        .await
        .expect("ES256 accepted");
    assert_eq!(profile.user.user_id, "app-ec-user", "the user is provisioned from the token");
    let rsa = EncodingKey::from_rsa_der(RSA_KEY);
    me(token(Algorithm::RS256, Some("rsa-1"), &rsa, "app-rsa-user", now() + 600))
        .await
        .expect("RS256 accepted");
    let late = EncodingKey::from_ec_der(&late_pem);
    me(token(Algorithm::ES256, Some("ec-2"), &late, "app-late-user", now() + 600))
        .await
        .expect("a later key");

    // Refused: a key not published (under a published id, or an unknown id), an expired token,
    // and an HS256 token signed with a public key (algorithm confusion).
    let (stranger_pem, _) = ec_key("ec-1");
    let stranger = EncodingKey::from_ec_der(&stranger_pem);
    for bad in [
        token(Algorithm::ES256, Some("ec-1"), &stranger, "app-ec-user", now() + 600),
        token(Algorithm::ES256, Some("nope"), &stranger, "app-ec-user", now() + 600),
        token(Algorithm::ES256, Some("ec-1"), &ec, "app-ec-user", now() - 600),
        token(
            Algorithm::HS256,
            Some("rsa-1"),
            &EncodingKey::from_secret(RSA_N.as_bytes()),
            "app-rsa-user",
            now() + 600,
        ),
    ] {
        let refused = me(bad).await.expect_err("refused");
        assert_eq!(refused.code(), Some(confab_proto::ErrorCode::Unauthorized), "{refused:?}");
    }

    // The shared HS256 secret still works beside the keys.
    let hs = token(
        Algorithm::HS256,
        None,
        &EncodingKey::from_secret(SECRET.as_bytes()),
        "app-hs-user",
        now() + 600,
    );
    me(hs).await.expect("HS256 with the secret");
}
