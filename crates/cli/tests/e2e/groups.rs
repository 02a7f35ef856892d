//! Group management over REST: renames, settings and roles reach every member as
//! `conversation.updated`; who may manage a group; the last admin; hostile requests.

use confab_client::{ClientError, Connection};
use confab_proto::{Conversation, ErrorCode, GroupSettings, Role, ServerFrame, UpdateConversationRequest};
use reqwest::Method;
use serde_json::json;

use crate::harness::*;

fn refused(e: ClientError) -> (u16, ErrorCode) {
    match e {
        ClientError::Api { status, body } => (status, body.error),
        other => panic!("expected a protocol error, got {other}"),
    }
}

/// The first `conversation.updated` about `id` that `pick` accepts (earlier ones are skipped).
async fn updated(conn: &mut Connection, id: &str, pick: impl Fn(&Conversation) -> bool) -> Conversation {
    conn.wait_for(WAIT, "conversation.updated", |f| match &f.frame {
        ServerFrame::ConversationUpdated(c) if c.conversation_id == id && pick(c) => Some(c.clone()),
        _ => None,
    })
    .await
    .expect("conversation.updated")
}

fn role_of(c: &Conversation, user: &str) -> Option<Role> {
    c.participants.iter().find(|p| p.user_id == user).map(|p| p.role)
}

#[tokio::test]
async fn admins_rename_change_settings_and_roles_and_every_member_hears() {
    let server = TestServer::start().await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let carol = register(&server.url, "carol").await;
    let members = [bob.id.clone(), carol.id.clone()];
    let id = alice.api.create_group("team", &members, None).await.unwrap().conversation_id;
    let mut bob_ws = bob.connect("bob").await;
    let mut carol_ws = carol.connect("carol").await;
    let mut alice_other = alice.connect("alice-phone").await;

    let renamed = alice.api.update_group(&id, Some("  Night \t owls "), None).await.unwrap();
    assert_eq!(renamed.name.as_deref(), Some("Night owls"), "normalised like at creation");
    for ws in [&mut bob_ws, &mut carol_ws, &mut alice_other] {
        updated(ws, &id, |c| c.name.as_deref() == Some("Night owls")).await;
    }
    // One setting by key; the others stay as they are, unknown keys are ignored.
    let body = UpdateConversationRequest {
        name: None,
        settings: json!({"onlyAdminsCanPost": true, "someFutureSetting": 1}).as_object().cloned(),
    };
    let quiet = alice.api.update_conversation(&id, &body).await.unwrap();
    assert_eq!(
        quiet.settings,
        GroupSettings { only_admins_can_post: true, allow_member_invites: false, retention_days: 0 }
    );
    updated(&mut bob_ws, &id, |c| c.settings == quiet.settings).await;
    let err = bob_ws.send_text(&id, "m1", "may I?").await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Forbidden), "the setting applies at once");

    let promoted = alice.api.set_role(&id, &bob.id, Role::Admin).await.unwrap();
    assert_eq!(role_of(&promoted, &bob.id), Some(Role::Admin));
    updated(&mut carol_ws, &id, |c| role_of(c, &bob.id) == Some(Role::Admin)).await;
    bob_ws.send_text(&id, "m2", "now I may").await.unwrap();
    let demoted = bob.api.set_role(&id, &alice.id, Role::Member).await.unwrap();
    assert_eq!(role_of(&demoted, &alice.id), Some(Role::Member));
    updated(&mut alice_other, &id, |c| role_of(c, &alice.id) == Some(Role::Member)).await;
    // Alice is no admin now; Bob is the last one and cannot step down.
    assert_eq!(
        refused(alice.api.update_group(&id, Some("Mine"), None).await.unwrap_err()),
        (403, ErrorCode::Forbidden)
    );
    let last = bob.api.set_role(&id, &bob.id, Role::Member).await.unwrap_err();
    assert_eq!(refused(last), (400, ErrorCode::InvalidRequest));
    // Changing nothing is answered with the group and announces nothing.
    let same = bob.api.set_role(&id, &bob.id, Role::Admin).await.unwrap();
    assert_eq!(same.name.as_deref(), Some("Night owls"));
    // Leaving still works as before, and hands the admin role on when the last admin leaves.
    bob.api.remove_member(&id, &bob.id).await.unwrap();
    let after = updated(&mut carol_ws, &id, |c| c.participants.iter().all(|p| p.user_id != bob.id)).await;
    assert_eq!(role_of(&after, &alice.id), Some(Role::Admin), "the longest-standing member");
    server.shutdown().await;
}

#[tokio::test]
async fn group_management_refuses_what_it_must() {
    let server = TestServer::start().await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let mallory = register(&server.url, "mallory").await;
    let id =
        alice.api.create_group("team", std::slice::from_ref(&bob.id), None).await.unwrap().conversation_id;
    let direct = alice.api.open_direct(&bob.id).await.unwrap().0.conversation_id;
    let raw = |who: &TestUser, method: Method, path: String, body: serde_json::Value| {
        let api = who.api.clone();
        async move {
            let (status, v) = api.raw(method, &path, Some(body.to_string())).await.unwrap();
            (status, v["error"].as_str().unwrap_or("").to_string())
        }
    };
    let patch = |c: &str| format!("/api/v1/conversations/{c}");
    let role = |c: &str, u: &str| format!("/api/v1/conversations/{c}/members/{u}/role");
    let cases = [
        (&bob, Method::PATCH, patch(&id), json!({"name": "x"}), 403, "FORBIDDEN"),
        (&mallory, Method::PATCH, patch(&id), json!({"name": "x"}), 403, "FORBIDDEN"),
        (
            &alice,
            Method::PATCH,
            patch("no-such-conversation"),
            json!({"name": "x"}),
            404,
            "CONVERSATION_NOT_FOUND",
        ),
        (&alice, Method::PATCH, patch(&direct), json!({"name": "us"}), 400, "INVALID_REQUEST"),
        (&alice, Method::PATCH, patch(&id), json!({}), 400, "INVALID_REQUEST"),
        (&alice, Method::PATCH, patch(&id), json!({"name": "   "}), 400, "INVALID_REQUEST"),
        (&alice, Method::PATCH, patch(&id), json!({"name": "a\u{202E}b"}), 400, "INVALID_REQUEST"),
        (&alice, Method::PATCH, patch(&id), json!({"name": "é".repeat(101)}), 400, "INVALID_REQUEST"),
        (
            &alice,
            Method::PATCH,
            patch(&id),
            json!({"settings": {"allowMemberInvites": "yes"}}),
            400,
            "INVALID_REQUEST",
        ),
        (&alice, Method::PATCH, patch(&id), json!({"settings": [true]}), 400, "INVALID_REQUEST"),
        (&alice, Method::PATCH, patch(&id), json!({"name": 7}), 400, "INVALID_REQUEST"),
        (&bob, Method::PUT, role(&id, &bob.id), json!({"role": "admin"}), 403, "FORBIDDEN"),
        (&mallory, Method::PUT, role(&id, &mallory.id), json!({"role": "admin"}), 403, "FORBIDDEN"),
        (&alice, Method::PUT, role(&id, &mallory.id), json!({"role": "admin"}), 404, "NOT_FOUND"),
        (&alice, Method::PUT, role(&id, &bob.id), json!({"role": "owner"}), 400, "INVALID_REQUEST"),
        (&alice, Method::PUT, role(&id, &bob.id), json!({}), 400, "INVALID_REQUEST"),
        (&alice, Method::PUT, role(&id, &"x".repeat(4096)), json!({"role": "admin"}), 400, "INVALID_REQUEST"),
        (&alice, Method::PUT, role(&direct, &bob.id), json!({"role": "admin"}), 400, "INVALID_REQUEST"),
        (&alice, Method::PUT, role(&id, &alice.id), json!({"role": "member"}), 400, "INVALID_REQUEST"),
        (
            &alice,
            Method::PUT,
            role("no-such-conversation", &bob.id),
            json!({"role": "admin"}),
            404,
            "CONVERSATION_NOT_FOUND",
        ),
    ];
    for (who, method, path, body, status, code) in cases {
        let what = format!("{method} {} {body}", &path[..path.len().min(80)]);
        assert_eq!(raw(who, method, path, body).await, (status, code.to_string()), "{what}");
    }
    let view = alice.api.conversation(&id).await.unwrap();
    assert_eq!((view.name.as_deref(), view.settings), (Some("team"), GroupSettings::default()), "unchanged");
    assert_eq!(role_of(&view, &alice.id), Some(Role::Admin));
    assert_eq!(role_of(&view, &bob.id), Some(Role::Member));
    server.shutdown().await;
}

/// Two admins step down at the same moment, many times over: each time exactly one succeeds.
#[tokio::test]
async fn concurrent_step_downs_over_rest_leave_one_admin() {
    let server = TestServer::start().await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    for round in 0..10 {
        let id = alice
            .api
            .create_group(&format!("round {round}"), std::slice::from_ref(&bob.id), None)
            .await
            .unwrap()
            .conversation_id;
        alice.api.set_role(&id, &bob.id, Role::Admin).await.unwrap();
        let (a, b) = tokio::join!(
            alice.api.set_role(&id, &alice.id, Role::Member),
            bob.api.set_role(&id, &bob.id, Role::Member)
        );
        assert_eq!([a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(), 1, "round {round}");
        let view = alice.api.conversation(&id).await.unwrap();
        assert_eq!(view.participants.iter().filter(|p| p.role == Role::Admin).count(), 1);
    }
    server.shutdown().await;
}
