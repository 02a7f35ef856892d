//! Message search over real HTTP: who finds what, edits and deletes at once, pages, and requests
//! that try to break it.

use confab_client::ClientError;
use confab_proto::ErrorCode;
use reqwest::Method;

use crate::harness::*;

fn ids(page: &confab_proto::SearchResponse) -> Vec<String> {
    page.results.iter().map(|r| r.message.message_id.clone()).collect()
}

fn code(result: Result<impl std::fmt::Debug, ClientError>) -> ErrorCode {
    result.expect_err("refused").code().expect("a protocol error")
}

#[tokio::test]
async fn members_find_their_messages_with_snippets_edits_and_deletes_at_once() {
    let server = TestServer::start().await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let carol = register(&server.url, "carol").await;
    let group = alice.api.create_group("trip", std::slice::from_ref(&bob.id), None).await.unwrap();
    let g = group.conversation_id;
    let (other, _) = bob.api.open_direct(&carol.id).await.unwrap();
    let o = other.conversation_id;

    alice
        .api
        .send_message(&g, Some("m1"), text("Meet at the Café <b>at noon</b> & bring \"maps\""))
        .await
        .unwrap();
    bob.api.send_message(&g, Some("m2"), text("the café was closed")).await.unwrap();
    carol.api.send_message(&o, Some("m3"), text("secret cafe plans")).await.unwrap();

    let page = alice.api.search("cafe").send().await.unwrap();
    assert_eq!(page.results.len(), 2, "only Alice's conversations: {:?}", ids(&page));
    assert!(page.next_cursor.is_none());
    let m1 = page.results.iter().find(|r| r.message.message_id == "m1").unwrap();
    assert_eq!(
        m1.snippet,
        "Meet at the <mark>Café</mark> &lt;b&gt;at noon&lt;/b&gt; &amp; bring &quot;maps&quot;"
    );
    // Bob is in both; the filters narrow.
    assert_eq!(bob.api.search("CAFÉ").send().await.unwrap().results.len(), 3);
    assert_eq!(ids(&bob.api.search("cafe").in_conversation(&o).send().await.unwrap()), ["m3"]);
    assert_eq!(ids(&bob.api.search("cafe").from_sender(&bob.id).send().await.unwrap()), ["m2"]);
    // A foreign conversation and an unknown one answer alike: nothing.
    for conv in [o.as_str(), "no-such-conversation"] {
        let page = alice.api.search("cafe").in_conversation(conv).send().await.unwrap();
        assert!(page.results.is_empty() && page.next_cursor.is_none());
    }

    // An edit is found by its new text, a delete is gone, as soon as each is acknowledged.
    alice.api.edit_message(&g, "m1", text("lunch moved to the bistro")).await.unwrap();
    assert_eq!(ids(&alice.api.search("bistro").send().await.unwrap()), ["m1"]);
    assert_eq!(ids(&alice.api.search("cafe").send().await.unwrap()), ["m2"]);
    bob.api.delete_message(&g, "m2", None).await.unwrap();
    assert!(alice.api.search("cafe").send().await.unwrap().results.is_empty());
    assert!(alice.api.search("deleted").send().await.unwrap().results.is_empty());

    // Leaving ends it.
    bob.api.remove_member(&g, &bob.id).await.unwrap();
    assert!(bob.api.search("bistro").send().await.unwrap().results.is_empty());
}

#[tokio::test]
async fn pages_follow_the_cursor_while_messages_arrive() {
    let server = TestServer::start().await;
    let alice = register(&server.url, "alice").await;
    let group = alice.api.create_group("log", &[], None).await.unwrap();
    let g = group.conversation_id;
    for i in 0..12 {
        alice
            .api
            .send_message(&g, Some(&format!("m{i}")), text(&format!("deploy number {i}")))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for round in 0.. {
        let mut search = alice.api.search("deplo*").limit(5);
        if let Some(c) = &cursor {
            search = search.cursor(c);
        }
        let page = search.send().await.unwrap();
        assert!(page.results.len() <= 5);
        seen.extend(ids(&page));
        alice.api.send_message(&g, Some(&format!("late{round}")), text("deploy again")).await.unwrap();
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    seen.retain(|id| !id.starts_with("late"));
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((unique.len(), seen.len()), (12, 12), "each result once: {seen:?}");
}

#[tokio::test]
async fn hostile_searches_are_answered_never_failed() {
    let server = TestServer::start().await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let group = alice.api.create_group("ops", &[], None).await.unwrap();
    let g = group.conversation_id;
    alice.api.send_message(&g, Some("m1"), text("this OR that NEAR the end: a-b ^c (x)")).await.unwrap();
    let hostile = [
        "\"",
        "\"\"\"",
        "*",
        "a**",
        "(",
        ")",
        "(a OR b)",
        "OR",
        "NOT a",
        "NEAR(a b, 2)",
        "a:b",
        "text:a",
        "-a",
        "^a",
        "{a b}",
        "a & b",
        "a | b",
        "!a",
        "a <-> b",
        "'a'",
        "a' OR '1'='1",
        "\\",
        "%",
        "_",
        "a;DROP TABLE messages",
        "\u{0}",
        "é*",
        "\"unbalanced",
        ":*",
        "'':*",
        "\u{202e}",
        "🙂*",
        "\"a b\"*",
    ];
    for q in hostile {
        let status = match alice.api.search(q).send().await {
            Ok(_) => 200,
            Err(ClientError::Api { status, .. }) => status,
            Err(e) => panic!("{q:?}: {e}"),
        };
        assert!(status == 200 || status == 400, "{q:?} answered {status}");
    }
    assert_eq!(ids(&alice.api.search("OR").send().await.unwrap()), ["m1"]);
    assert_eq!(ids(&alice.api.search("NEAR(the end)").send().await.unwrap()), ["m1"]);
    assert_eq!(ids(&alice.api.search("\"that near\"").send().await.unwrap()), ["m1"]);

    // Empty, blank and huge queries; bad limits and cursors.
    for q in ["", "   ", "\t\n"] {
        assert_eq!(code(alice.api.search(q).send().await), ErrorCode::InvalidRequest, "{q:?}");
    }
    assert_eq!(code(alice.api.search(&"x".repeat(257)).send().await), ErrorCode::InvalidRequest);
    assert_eq!(code(alice.api.search(&"word ".repeat(2000)).send().await), ErrorCode::InvalidRequest);
    for limit in [0, 101, 100_000] {
        assert_eq!(code(alice.api.search("end").limit(limit).send().await), ErrorCode::InvalidRequest);
    }
    assert_eq!(alice.api.search("end").limit(100).send().await.unwrap().results.len(), 1);
    for cursor in ["nope", "zz", "00"] {
        assert_eq!(code(alice.api.search("end").cursor(cursor).send().await), ErrorCode::InvalidRequest);
    }
    for path in [
        "/api/v1/search/messages",
        "/api/v1/search/messages?q=end&limit=-1",
        "/api/v1/search/messages?q=end&limit=abc",
        "/api/v1/search/messages?q=end&before=soon",
    ] {
        let (status, body) = alice.api.raw(Method::GET, path, None).await.unwrap();
        assert_eq!((status, body["error"].as_str()), (400, Some("INVALID_REQUEST")), "{path}");
    }
    // Not signed in.
    let (status, _) = server.client().raw(Method::GET, "/api/v1/search/messages?q=end", None).await.unwrap();
    assert_eq!(status, 401);
    // Bob, in no conversation of Alice's, finds nothing, whether he names it or not.
    assert!(bob.api.search("end").send().await.unwrap().results.is_empty());
    assert!(bob.api.search("end").in_conversation(&g).send().await.unwrap().results.is_empty());
}

#[tokio::test]
async fn searches_are_rate_limited_per_user_and_refused_input_costs_nothing() {
    let server = TestServer::start_with(|c| c.limits.searches_per_minute = 3).await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    // Refused before any search runs: no budget used.
    for _ in 0..5 {
        assert_eq!(code(alice.api.search("  ").send().await), ErrorCode::InvalidRequest);
    }
    for q in ["a*", "b*", "c*"] {
        alice.api.search(q).send().await.unwrap();
    }
    let err = alice.api.search("d*").send().await.unwrap_err();
    let ClientError::Api { status: 429, body } = err else { panic!("expected 429, got {err}") };
    assert_eq!(body.error, ErrorCode::RateLimited);
    assert!(body.retry_after.is_some_and(|s| s >= 1), "{body:?}");
    // Another user's budget is their own.
    bob.api.search("d*").send().await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn a_search_past_the_time_limit_answers_400_asking_to_narrow_it() {
    // A limit of 0 ms is spent before the search starts: every search is past it.
    let server = TestServer::start_with(|c| c.limits.search_timeout_ms = Some(0)).await;
    let alice = register(&server.url, "alice").await;
    let bob = register(&server.url, "bob").await;
    let group = alice.api.create_group("team", std::slice::from_ref(&bob.id), None).await.unwrap();
    let g = group.conversation_id;
    alice.api.send_message(&g, Some("m1"), text("the quarterly report")).await.unwrap();
    let err = bob.api.search("report").send().await.unwrap_err();
    let ClientError::Api { status: 400, body } = err else { panic!("expected 400, got {err}") };
    assert_eq!(body.error, ErrorCode::InvalidRequest);
    assert!(body.message.contains("narrow it"), "{body:?}");
    // Nothing else is affected: the message is there, and sending goes on.
    assert_eq!(bob.api.history(&g, None, None, None).await.unwrap().messages.len(), 1);
    alice.api.send_message(&g, Some("m2"), text("and the budget")).await.unwrap();
    server.shutdown().await;
}
