//! Reports, server administrators and bans over real HTTP and WebSocket, on one node.

use std::time::Duration;

use confab_client::{ClientError, Connection};
use confab_proto::{ErrorCode, ReportStatus};
use reqwest::Method;
use serde_json::json;

use crate::harness::{register, text, TestServer, TestUser, PASSWORD, WAIT};
use crate::sessions::{closed_with, refused, still_open};

pub(crate) fn admins<'a>(names: &'a [&'a str]) -> impl FnOnce(&mut confab_server::ServerConfig) + 'a {
    move |c| c.moderation.admin_users = names.iter().map(|n| n.to_string()).collect()
}

/// The error a call failed with: its status and code.
pub(crate) fn failure(err: ClientError) -> (u16, ErrorCode) {
    match err {
        ClientError::Api { status, body } => (status, body.error),
        other => panic!("expected a protocol error, got {other}"),
    }
}

pub(crate) fn banned(err: &ClientError) -> bool {
    matches!(err, ClientError::Api { status: 403, body } if body.error == ErrorCode::Banned)
}

/// Alice and Bob's direct conversation, with Bob's message `m1` in it.
async fn rude_message(alice: &TestUser, bob: &TestUser) -> String {
    let id = alice.api.open_direct(&bob.id).await.unwrap().0.conversation_id;
    bob.api.send_message(&id, Some("m1"), text("something rude")).await.unwrap();
    id
}

#[tokio::test]
async fn members_report_a_message_once_and_administrators_resolve_it() {
    let server = TestServer::start_with(admins(&["root"])).await;
    let root = register(&server.url, "root").await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let eve = register(&server.url, "eve").await;
    let conv = rude_message(&alice, &bob).await;
    alice.api.send_message(&conv, Some("mine"), text("hello")).await.unwrap();
    assert!(root.api.me().await.unwrap().admin);
    assert!(!alice.api.me().await.unwrap().admin);

    let (first, created) = alice.api.report("m1", "insults", None).await.unwrap();
    assert!(created);
    assert_eq!((first.conversation_id.as_str(), first.status), (conv.as_str(), ReportStatus::Open));
    let (again, created) = alice.api.report("m1", "still rude", Some(&conv)).await.unwrap();
    assert!(!created, "reporting again answers the first report");
    assert_eq!(again.report_id, first.report_id);
    // Someone outside the conversation learns nothing, not even that the message exists.
    assert_eq!(
        failure(eve.api.report("m1", "x", None).await.unwrap_err()),
        (404, ErrorCode::MessageNotFound)
    );
    assert_eq!(
        failure(eve.api.report("m1", "x", Some(&conv)).await.unwrap_err()).1,
        ErrorCode::MessageNotFound
    );
    assert_eq!(failure(alice.api.report("mine", "x", None).await.unwrap_err()).1, ErrorCode::InvalidRequest);
    for reason in ["", "   ", &"x".repeat(1001), "a\u{202E}b"] {
        let err = alice.api.report("m1", reason, None).await.unwrap_err();
        assert_eq!(failure(err).1, ErrorCode::InvalidRequest, "{reason:?}");
    }
    let (status, body) =
        alice.api.raw(Method::POST, "/api/v1/reports", Some(r#"{"reason":"no id"}"#.into())).await.unwrap();
    assert_eq!((status, body["error"].as_str()), (400, Some("INVALID_REQUEST")));

    // Only administrators see reports.
    let err = alice.api.admin_reports(ReportStatus::Open, None, None).await.unwrap_err();
    assert_eq!(failure(err), (403, ErrorCode::Forbidden));
    let anon = server.client();
    assert_eq!(failure(anon.admin_stats().await.unwrap_err()), (401, ErrorCode::Unauthorized));
    let open = root.api.admin_reports(ReportStatus::Open, None, None).await.unwrap();
    assert_eq!(open.reports.len(), 1);
    let report = &open.reports[0];
    assert_eq!(
        (report.reporter_id.as_str(), report.sender_id.as_str()),
        (alice.id.as_str(), bob.id.as_str())
    );
    assert_eq!(report.reason, "insults");
    let shown = report.message.as_ref().expect("the message as stored");
    assert_eq!(shown.content, confab_proto::Content::Text { text: "something rude".into() });
    assert_eq!(root.api.admin_stats().await.unwrap().open_reports, 1);

    let resolved = root.api.resolve_report(&report.report_id, "warned bob").await.unwrap();
    assert_eq!(resolved.status, ReportStatus::Resolved);
    assert_eq!(resolved.resolved_by.as_deref(), Some(root.id.as_str()));
    let err = root.api.resolve_report("no-such-report", "x").await.unwrap_err();
    assert_eq!(failure(err), (404, ErrorCode::NotFound));
    assert!(root.api.admin_reports(ReportStatus::Open, None, None).await.unwrap().reports.is_empty());
    let done = root.api.admin_reports(ReportStatus::Resolved, None, None).await.unwrap();
    assert_eq!(done.reports[0].resolution.as_deref(), Some("warned bob"));
    let (status, body) =
        root.api.raw(Method::GET, "/api/v1/admin/reports?status=closed", None).await.unwrap();
    assert_eq!((status, body["error"].as_str()), (400, Some("INVALID_REQUEST")));
    server.shutdown().await;
}

#[tokio::test]
async fn reports_are_rate_limited_per_user_but_repeats_are_free() {
    let server = TestServer::start_with(|c| c.moderation.reports_per_hour = 2).await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let conv = alice.api.open_direct(&bob.id).await.unwrap().0.conversation_id;
    for i in 0..3 {
        bob.api.send_message(&conv, Some(&format!("b{i}")), text("spam")).await.unwrap();
    }
    alice.api.report("b0", "spam", None).await.unwrap();
    for _ in 0..5 {
        assert!(!alice.api.report("b0", "spam", None).await.unwrap().1, "a repeat does not count");
    }
    alice.api.report("b1", "spam", None).await.unwrap();
    let err = alice.api.report("b2", "spam", None).await.unwrap_err();
    let ClientError::Api { status: 429, body } = err else { panic!("expected 429, got {err}") };
    assert!(body.retry_after.is_some_and(|s| s >= 1));
    // Probing for messages costs the same budget.
    bob.api.send_message(&conv, Some("b3"), text("more")).await.unwrap();
    let probe = alice.api.report("b3", "spam", None).await.unwrap_err();
    assert_eq!(failure(probe).0, 429);
    server.shutdown().await;
}

#[tokio::test]
async fn a_ban_closes_sockets_and_refuses_login_tokens_and_upgrades_until_lifted() {
    let server = TestServer::start_with(admins(&["root", "deputy"])).await;
    let root = register(&server.url, "root").await;
    let deputy = register(&server.url, "deputy").await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let mut phone = alice.connect("phone").await;
    let mut bobs = bob.connect("bob").await;

    let ban = root.api.ban(&alice.id, "spamming", None).await.unwrap();
    assert_eq!((ban.until, ban.banned_by.as_deref()), (None, Some(root.id.as_str())));
    assert_eq!(closed_with(&mut phone).await, Some(4004));
    still_open(&mut bobs).await;
    let err = alice.api.me().await.unwrap_err();
    let ClientError::Api { status: 403, body } = &err else { panic!("expected 403, got {err}") };
    assert_eq!(body.error, ErrorCode::Banned);
    assert_eq!(body.ban.as_ref().map(|b| (b.reason.as_str(), b.until)), Some(("spamming", None)));
    assert!(banned(&Connection::connect(&server.url, &alice.token, "phone").await.err().expect("refused")));
    assert!(banned(&server.client().login("alice", PASSWORD).await.unwrap_err()));
    let wrong = server.client().login("alice", "not-the-password-9").await.unwrap_err();
    assert!(refused(wrong), "a wrong password says nothing about the ban");

    // Administrators (oneself included) are never banned; bad input is refused.
    assert_eq!(failure(root.api.ban(&root.id, "x", None).await.unwrap_err()), (403, ErrorCode::Forbidden));
    assert_eq!(failure(root.api.ban(&deputy.id, "x", None).await.unwrap_err()), (403, ErrorCode::Forbidden));
    assert_eq!(failure(bob.api.ban(&alice.id, "x", None).await.unwrap_err()), (403, ErrorCode::Forbidden));
    let past = confab_core::ids::now_millis() - 1;
    assert_eq!(
        failure(root.api.ban(&bob.id, "x", Some(past)).await.unwrap_err()).1,
        ErrorCode::InvalidRequest
    );
    assert_eq!(failure(root.api.ban("nobody", "x", None).await.unwrap_err()).1, ErrorCode::UserNotFound);

    let listed = root.api.admin_users("al", None, None).await.unwrap();
    assert_eq!(listed.users.len(), 1);
    assert_eq!(listed.users[0].ban.as_ref().map(|b| b.reason.as_str()), Some("spamming"));
    assert!(root.api.admin_users("root", None, None).await.unwrap().users[0].admin);
    assert_eq!(root.api.admin_stats().await.unwrap().active_bans, 1);

    root.api.unban(&alice.id).await.unwrap();
    assert_eq!(alice.api.me().await.unwrap().user.user_id, alice.id, "the same token works again");
    let mut again = alice.connect("phone").await;
    still_open(&mut again).await;
    server.client().login("alice", PASSWORD).await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn a_timed_ban_ends_by_itself() {
    let server = TestServer::start_with(admins(&["root"])).await;
    let root = register(&server.url, "root").await;
    let alice = register(&server.url, "alice").await;
    let until = confab_core::ids::now_millis() + 1_500;
    root.api.ban(&alice.id, "cool off", Some(until)).await.unwrap();
    let err = alice.api.me().await.unwrap_err();
    assert!(
        matches!(&err, ClientError::Api { body, .. } if body.ban.as_ref().is_some_and(|b| b.until == Some(until)))
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match alice.api.me().await {
            Ok(me) => {
                assert!(confab_core::ids::now_millis() >= until, "not before its end");
                assert_eq!(me.user.user_id, alice.id);
                break;
            }
            Err(e) if banned(&e) && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("the ban did not end: {e}"),
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn administrators_list_and_close_a_users_sessions() {
    let server = TestServer::start_with(admins(&["root"])).await;
    let root = register(&server.url, "root").await;
    let alice = register(&server.url, "alice").await;
    let laptop_token = server.client().login("alice", PASSWORD).await.unwrap().token;
    let mut phone = alice.connect("phone").await;
    let mut laptop = Connection::connect(&server.url, &laptop_token, "laptop").await.unwrap();

    let sessions = root.api.user_sessions(&alice.id).await.unwrap();
    assert_eq!(sessions.presence, confab_proto::PresenceStatus::Online);
    let mut devices: Vec<&str> = sessions.connections.iter().map(|c| c.device_id.as_str()).collect();
    devices.sort();
    assert_eq!(devices, ["laptop", "phone"]);
    let phone_session = sessions
        .connections
        .iter()
        .find(|c| c.device_id == "phone")
        .and_then(|c| c.session_id.clone())
        .expect("a session id");
    let err = alice.api.user_sessions(&alice.id).await.unwrap_err();
    assert_eq!(failure(err), (403, ErrorCode::Forbidden));

    root.api.close_session(&alice.id, &phone_session).await.unwrap();
    assert_eq!(closed_with(&mut phone).await, Some(4003));
    assert!(refused(alice.api.me().await.unwrap_err()));
    still_open(&mut laptop).await;
    root.api.close_sessions(&alice.id).await.unwrap();
    assert_eq!(closed_with(&mut laptop).await, Some(4003));
    assert!(refused(server.client().with_token(&laptop_token).me().await.unwrap_err()));
    assert!(root.api.user_sessions(&alice.id).await.unwrap().connections.is_empty());
    assert_eq!(failure(root.api.close_sessions("nobody").await.unwrap_err()).1, ErrorCode::UserNotFound);
    server.shutdown().await;
}

#[tokio::test]
async fn admin_lists_page_and_count() {
    let server = TestServer::start_with(admins(&["root"])).await;
    let root = register(&server.url, "root").await;
    for i in 0..5 {
        register(&server.url, &format!("user{i}")).await;
    }
    let first = root.api.admin_users("user", None, Some(2)).await.unwrap();
    assert_eq!(first.next_cursor.as_deref(), Some("user1"));
    let mut names: Vec<String> = first.users.iter().map(|u| u.user.username.clone()).collect();
    let mut cursor = first.next_cursor;
    while let Some(c) = cursor {
        let page = root.api.admin_users("user", Some(&c), Some(2)).await.unwrap();
        names.extend(page.users.iter().map(|u| u.user.username.clone()));
        cursor = page.next_cursor;
    }
    assert_eq!(names, ["user0", "user1", "user2", "user3", "user4"]);
    let stats = root.api.admin_stats().await.unwrap();
    assert_eq!((stats.users, stats.conversations, stats.messages, stats.live_connections), (6, 0, 0, 0));
    let (status, _) = root
        .api
        .raw(Method::PUT, "/api/v1/admin/users/x/ban", Some(json!({"reason": 5}).to_string()))
        .await
        .unwrap();
    assert_eq!(status, 400);
    server.shutdown().await;
}

/// An administrator deletes a reported message in a conversation they are not in: every member's
/// history shows the tombstone and a live member is told with `message.updated`; nobody else may.
#[tokio::test]
async fn administrators_delete_any_message_for_everyone() {
    let server = TestServer::start_with(admins(&["root"])).await;
    let root = register(&server.url, "root").await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let conv = rude_message(&alice, &bob).await;
    let mut alice_conn = alice.connect("phone").await;

    assert_eq!(
        failure(alice.api.admin_delete_message(&conv, "m1", None).await.unwrap_err()),
        (403, ErrorCode::Forbidden),
        "a member who is no administrator"
    );
    let tombstone = root.api.admin_delete_message(&conv, "m1", Some(&bob.id)).await.unwrap();
    assert_eq!(tombstone.deleted, Some(true));
    assert_eq!(tombstone.content, confab_proto::Content::Deleted);
    let told = alice_conn
        .wait_for(WAIT, "message.updated", |f| match &f.frame {
            confab_proto::ServerFrame::MessageUpdated(u) => Some(u.message.clone()),
            _ => None,
        })
        .await
        .unwrap();
    assert_eq!((told.message_id.as_str(), told.deleted), ("m1", Some(true)));
    let history = alice.api.history(&conv, None, None, None).await.unwrap();
    assert_eq!(history.messages[0].content, confab_proto::Content::Deleted);
    assert_eq!(
        failure(root.api.admin_delete_message(&conv, "nope", None).await.unwrap_err()),
        (404, ErrorCode::MessageNotFound)
    );
    server.shutdown().await;
}
