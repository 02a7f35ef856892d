//! The services driven directly, without HTTP or WebSocket, against the embedded store and the
//! in-process bus. Devices are registered straight into the node's hub to see what they are sent.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use confab_core::Error;
use confab_proto::{LoginRequest, PresenceStatus, RegisterRequest, ServerFrame};
use serde_json::json;
use tokio::time::Instant;

use crate::config::{AuthLimits, Limits, ServerConfig};
use crate::outbox::Outbox;
use crate::service::Via;
use crate::testing::TestApp;

fn text(t: &str) -> serde_json::Value {
    json!({"type": "text", "text": t})
}

/// `alice` and `bob` and their direct conversation.
async fn pair(t: &TestApp) -> String {
    t.user("alice").await;
    t.user("bob").await;
    let opened = t.app.conversations().open_direct("alice", &["bob".to_string()]).await.unwrap();
    opened.conversation.conversation_id
}

const HOME: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const ELSEWHERE: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
const PASSWORD: &str = "correct horse battery";

fn register(name: &str) -> RegisterRequest {
    RegisterRequest {
        username: name.into(),
        password: PASSWORD.into(),
        display_name: None,
        invite_code: None,
    }
}

fn login(name: &str, password: &str) -> LoginRequest {
    LoginRequest { username: name.into(), password: password.into() }
}

/// Settings with the throttles lifted except as `tune` sets them.
fn auth_config(tune: impl FnOnce(&mut AuthLimits)) -> ServerConfig {
    let mut auth = AuthLimits {
        login_failures_per_account: 1_000,
        login_failures_per_address: 1_000,
        registrations_per_address: 1_000,
        ..AuthLimits::default()
    };
    tune(&mut auth);
    ServerConfig { auth, ..ServerConfig::default() }
}

mod accounts;
mod attachments;
mod lifecycle;
mod messages;
mod moderation;
mod presence;
mod sessions;
