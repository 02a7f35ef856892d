//! Message search: who finds what, how words match, the order and the pages.

use std::collections::HashSet;

use confab_core::ids::now_millis;
use confab_core::lifecycle::{Actor, ChangeKind, MessageChange, MessageTarget};
use confab_core::rules::search::{self, SearchKey};
use confab_core::store::{NewMessage, SearchHit, SearchRequest, SharedStore};
use confab_proto::{AttachmentContent, Content, GroupSettings};

use super::{group, text, user};

async fn post(store: &SharedStore, conv: &str, sender: &str, id: &str, t: &str) {
    let msg = NewMessage::new(id.into(), conv.into(), sender.into(), text(t));
    store.append(msg, None).await.expect("append");
}

async fn hits(store: &SharedStore, req: SearchRequest) -> Vec<SearchHit> {
    store.search_messages(req).await.expect("search")
}

/// The message ids `viewer` finds with `q`, in the order found.
async fn find(store: &SharedStore, viewer: &str, q: &str) -> Vec<String> {
    let query = search::parse(q).expect("query");
    let found = hits(store, SearchRequest::new(viewer, query, 100)).await;
    found.into_iter().map(|h| h.message.message_id).collect()
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

fn ids(list: &[&str]) -> Vec<String> {
    sorted(list.iter().map(|s| s.to_string()).collect())
}

pub async fn search_covers_the_viewers_conversations_only(store: SharedStore) {
    let a = user(&store, "sara").await;
    let b = user(&store, "tom").await;
    let c = user(&store, "uma").await;
    let ours = group(&store, &a, std::slice::from_ref(&b), GroupSettings::default()).await;
    let theirs = group(&store, &b, std::slice::from_ref(&c), GroupSettings::default()).await;
    post(&store, &ours, &a, "m1", "the launch plan").await;
    post(&store, &theirs, &c, "m2", "the secret launch plan").await;

    assert_eq!(find(&store, &a, "launch").await, ids(&["m1"]));
    assert_eq!(sorted(find(&store, &b, "launch").await), ids(&["m1", "m2"]));
    // A foreign or unknown conversation finds nothing, the same way.
    for conv in [theirs.clone(), "no-such-conversation".to_string()] {
        let mut req = SearchRequest::new(&a, search::parse("launch").unwrap(), 10);
        req.conversation_id = Some(conv);
        assert!(hits(&store, req).await.is_empty());
    }
    let mut req = SearchRequest::new(&b, search::parse("launch").unwrap(), 10);
    req.conversation_id = Some(theirs.clone());
    assert_eq!(hits(&store, req).await.len(), 1);
    // Leaving a conversation ends searching it at once.
    store.remove_member(&theirs, &b, &b).await.expect("leave");
    assert_eq!(find(&store, &b, "launch").await, ids(&["m1"]));
}

pub async fn search_folds_case_and_accents_and_knows_phrases_and_prefixes(store: SharedStore) {
    let a = user(&store, "vera").await;
    let g = group(&store, &a, &[], GroupSettings::default()).await;
    post(&store, &g, &a, "cafe", "Meet at the CAFÉ tomorrow").await;
    post(&store, &g, &a, "zoe", "Zoë said hello").await;
    post(&store, &g, &a, "order", "plan the trip, then book").await;
    post(&store, &g, &a, "phrase", "book the trip plan").await;
    super::attachments::upload(&store, &a, "att").await;
    super::attachments::upload(&store, &a, "f").await;
    let caption = Content::Image(AttachmentContent {
        attachment_id: "att".into(),
        text: Some("holiday photos".into()),
        metadata: None,
    });
    store.append(NewMessage::new("img".into(), g.clone(), a.clone(), caption), None).await.unwrap();
    let bare = Content::File(AttachmentContent { attachment_id: "f".into(), text: None, metadata: None });
    store.append(NewMessage::new("file".into(), g.clone(), a.clone(), bare), None).await.unwrap();

    for q in ["cafe", "café", "Cafe", "CAFÉ"] {
        assert_eq!(find(&store, &a, q).await, ids(&["cafe"]), "{q}");
    }
    for q in ["zoe", "ZOË", "zoë"] {
        assert_eq!(find(&store, &a, q).await, ids(&["zoe"]), "{q}");
    }
    assert_eq!(find(&store, &a, "tomor*").await, ids(&["cafe"]));
    assert_eq!(find(&store, &a, "tomor").await, Vec::<String>::new(), "a word is not a prefix");
    assert_eq!(sorted(find(&store, &a, "trip plan").await), ids(&["order", "phrase"]));
    assert_eq!(find(&store, &a, "\"trip plan\"").await, ids(&["phrase"]));
    assert_eq!(sorted(find(&store, &a, "\"the tri\"*").await), ids(&["order", "phrase"]));
    assert_eq!(find(&store, &a, "holiday").await, ids(&["img"]), "captions are searched");
    // Phrases fold like words, span punctuation, and hold every word in order, next to each other.
    post(&store, &g, &a, "pairs", "red fox, red hen; fox hen").await;
    for q in ["\"the café TOMORROW\"", "\"at the cafe\" \"Meet at\"", "\"Meet at the CAFÉ tomorrow\""] {
        assert_eq!(find(&store, &a, q).await, ids(&["cafe"]), "{q}");
    }
    assert_eq!(find(&store, &a, "\"fox red\"").await, ids(&["pairs"]), "punctuation between the words");
    assert_eq!(find(&store, &a, "\"red fox hen\"").await, Vec::<String>::new(), "every pair, not the phrase");
    assert_eq!(find(&store, &a, "\"tomorrow meet\"").await, Vec::<String>::new(), "out of order");
    assert_eq!(find(&store, &a, "\"red hen\" \"fox h\"*").await, ids(&["pairs"]));
}

pub async fn search_follows_edits_and_deletes_at_once(store: SharedStore) {
    let a = user(&store, "wade").await;
    let g = group(&store, &a, &[], GroupSettings::default()).await;
    post(&store, &g, &a, "m1", "first draft").await;
    post(&store, &g, &a, "m2", "draft two").await;
    let change = |id: &str, kind: ChangeKind| MessageChange {
        conversation_id: g.clone(),
        target: MessageTarget::id(id),
        actor: Actor::User(a.clone()),
        kind,
        at: now_millis(),
    };
    store
        .change_message(change("m1", ChangeKind::Edit { content: text("final version"), window_ms: None }))
        .await
        .expect("edit");
    assert_eq!(find(&store, &a, "draft").await, ids(&["m2"]));
    assert_eq!(find(&store, &a, "final").await, ids(&["m1"]));
    store.change_message(change("m2", ChangeKind::Delete)).await.expect("delete");
    assert!(find(&store, &a, "draft").await.is_empty(), "a tombstone never matches");
    assert!(find(&store, &a, "deleted").await.is_empty());
    // A reaction changes the row but not its text: still found.
    store
        .change_message(change("m1", ChangeKind::React { emoji: "👍".into(), add: true }))
        .await
        .expect("react");
    assert_eq!(find(&store, &a, "final").await, ids(&["m1"]));
}

pub async fn search_filters_by_sender_and_time(store: SharedStore) {
    let a = user(&store, "xena").await;
    let b = user(&store, "yuri").await;
    let g = group(&store, &a, std::slice::from_ref(&b), GroupSettings::default()).await;
    post(&store, &g, &a, "a1", "report one").await;
    post(&store, &g, &b, "b1", "report two").await;
    let all = hits(&store, SearchRequest::new(&a, search::parse("report").unwrap(), 10)).await;
    assert_eq!(all.len(), 2);
    let mut req = SearchRequest::new(&a, search::parse("report").unwrap(), 10);
    req.sender_id = Some(b.clone());
    let by_b = hits(&store, req).await;
    assert_eq!(by_b.iter().map(|h| h.message.message_id.as_str()).collect::<Vec<_>>(), ["b1"]);
    let t = all.iter().find(|h| h.message.message_id == "a1").unwrap().message.timestamp;
    let mut req = SearchRequest::new(&a, search::parse("report").unwrap(), 10);
    req.before = Some(t + 1);
    req.after = Some(t - 1);
    let at_t = hits(&store, req).await;
    assert!(
        at_t.iter().all(|h| h.message.timestamp == t) && at_t.iter().any(|h| h.message.message_id == "a1")
    );
    let mut req = SearchRequest::new(&a, search::parse("report").unwrap(), 10);
    req.before = Some(t);
    assert!(hits(&store, req).await.iter().all(|h| h.message.timestamp < t), "`before` is exclusive");
}

pub async fn search_ranks_best_first_then_newest(store: SharedStore) {
    let a = user(&store, "zack").await;
    let g = group(&store, &a, &[], GroupSettings::default()).await;
    // The same text three times: equal relevance, so newest first.
    for id in ["old", "mid", "new"] {
        post(&store, &g, &a, id, "weekly sync notes").await;
    }
    let found = hits(&store, SearchRequest::new(&a, search::parse("sync").unwrap(), 10)).await;
    let keys: Vec<&SearchKey> = found.iter().map(|h| &h.key).collect();
    assert!(keys.windows(2).all(|w| w[0] > w[1]), "strictly descending keys: {keys:?}");
    assert_eq!(
        found.iter().map(|h| h.message.message_id.as_str()).collect::<Vec<_>>(),
        ["new", "mid", "old"]
    );
    // A message that is mostly the word ranks above ones where it is lost in other words (in a
    // corpus where the word is not common: BM25 gives no weight to a word in half the messages).
    for n in 0..6 {
        post(&store, &g, &a, &format!("other{n}"), "unrelated chatter").await;
    }
    post(&store, &g, &a, "long", &format!("budget {}", "filler words here ".repeat(30))).await;
    post(&store, &g, &a, "short", "budget budget").await;
    post(&store, &g, &a, "long2", &format!("{} budget", "more filler text ".repeat(30))).await;
    let found = find(&store, &a, "budget").await;
    assert_eq!(found[0], "short", "{found:?}");
}

pub async fn search_pages_visit_every_result_once_despite_inserts(store: SharedStore) {
    let a = user(&store, "abel").await;
    let g = group(&store, &a, &[], GroupSettings::default()).await;
    let other = group(&store, &a, &[], GroupSettings::default()).await;
    for i in 0..25 {
        let conv = if i % 3 == 0 { &other } else { &g };
        let t =
            if i % 4 == 0 { "alpha alpha beta".to_string() } else { format!("alpha number {i} and more") };
        post(&store, conv, &a, &format!("m{i}"), &t).await;
    }
    let mut seen = Vec::new();
    let mut after = None;
    let mut round = 0;
    loop {
        let mut req = SearchRequest::new(&a, search::parse("alpha").unwrap(), 4);
        req.after_key = after.clone();
        let page = hits(&store, req).await;
        if let (Some(prev), Some(first)) = (&after, page.first()) {
            assert!(*prev > first.key, "pages continue after the cursor");
        }
        // Messages arrive between pages (newer, so they would come first): no page shifts.
        post(&store, &g, &a, &format!("late{round}"), "alpha arrives late").await;
        round += 1;
        seen.extend(page.iter().map(|h| h.message.message_id.clone()).filter(|id| !id.starts_with("late")));
        match page.last() {
            Some(last) if page.len() == 4 => {
                after = Some(search::decode_cursor(&search::encode_cursor(&last.key)).unwrap())
            }
            _ => break,
        }
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no result twice: {seen:?}");
    assert_eq!(unique.len(), 25, "every result once: {seen:?}");
}

/// More matches than one window ranks (`search::WINDOW`): pages go on into older windows, every
/// match is found once, and a phrase only old messages hold is found under a window of newer
/// messages holding its words apart. Many of the messages share a millisecond.
pub async fn search_walks_windows_older_than_the_newest(store: SharedStore) {
    let a = user(&store, "wanda").await;
    let g = group(&store, &a, &[], GroupSettings::default()).await;
    for i in 0..30 {
        post(&store, &g, &a, &format!("old{i}"), "a rare phrase from long ago").await;
    }
    let newer = search::WINDOW + 300;
    for i in 0..newer {
        post(&store, &g, &a, &format!("new{i}"), "phrase that is rare").await;
    }
    let phrase = find(&store, &a, "\"rare phrase\"").await;
    assert_eq!(phrase.len(), 30, "{phrase:?}");
    assert!(phrase.iter().all(|id| id.starts_with("old")));

    let mut seen = HashSet::new();
    let mut after: Option<SearchKey> = None;
    let mut pages = 0;
    loop {
        let mut req = SearchRequest::new(&a, search::parse("rare").unwrap(), 100);
        req.after_key = after.clone();
        let page = hits(&store, req).await;
        pages += 1;
        for h in &page {
            assert!(seen.insert(h.message.message_id.clone()), "{} twice", h.message.message_id);
        }
        match page.last() {
            Some(last) if page.len() == 100 => after = Some(last.key.clone()),
            _ => break,
        }
    }
    assert_eq!(seen.len(), newer + 30, "after {pages} pages");
    // The newest window comes first: the old messages are on the last pages.
    let first = find(&store, &a, "rare").await;
    assert!(first.iter().all(|id| id.starts_with("new")), "{first:?}");
}

/// A word in nearly every message of several conversations (where an engine may walk each
/// conversation newest first rather than read every match): every page is right, nothing is seen
/// twice, a foreign conversation stays out, and edits and deletes count at once.
pub async fn search_merges_busy_conversations_newest_first(store: SharedStore) {
    let a = user(&store, "yusuf").await;
    let b = user(&store, "zara").await;
    let mine: Vec<String> = [
        group(&store, &a, std::slice::from_ref(&b), GroupSettings::default()).await,
        group(&store, &a, &[], GroupSettings::default()).await,
        group(&store, &b, std::slice::from_ref(&a), GroupSettings::default()).await,
    ]
    .into();
    let foreign = group(&store, &b, &[], GroupSettings::default()).await;
    let total = search::WINDOW + 400;
    let mut expected = HashSet::new();
    for i in 0..total {
        let id = format!("s{i}");
        if i % 4 == 3 {
            post(&store, &foreign, &b, &id, "status update from elsewhere").await;
        } else {
            let text = if i % 7 == 0 { "weekly status: all good" } else { "status update" };
            post(&store, &mine[i % 4], &a, &id, text).await;
            expected.insert(id);
        }
    }
    let change = |conv: &str, id: &str, kind: ChangeKind| MessageChange {
        conversation_id: conv.to_string(),
        target: MessageTarget::id(id),
        actor: Actor::User(a.clone()),
        kind,
        at: now_millis(),
    };
    // The newest of the first conversation loses the word; an older one is deleted.
    let newest = format!("s{}", (0..total).rev().find(|i| i % 4 == 0).expect("one"));
    store
        .change_message(change(
            &mine[0],
            &newest,
            ChangeKind::Edit { content: text("done"), window_ms: None },
        ))
        .await
        .expect("edit");
    store.change_message(change(&mine[1], "s1", ChangeKind::Delete)).await.expect("delete");
    expected.remove(&newest);
    expected.remove("s1");

    let mut seen = HashSet::new();
    let mut after: Option<SearchKey> = None;
    loop {
        let mut req = SearchRequest::new(&a, search::parse("status").unwrap(), 100);
        req.after_key = after.clone();
        let page = hits(&store, req).await;
        for h in &page {
            assert!(seen.insert(h.message.message_id.clone()), "{} twice", h.message.message_id);
        }
        match page.last() {
            Some(last) if page.len() == 100 => after = Some(last.key.clone()),
            _ => break,
        }
    }
    assert_eq!(seen, expected);
    // Prefixes and the one-conversation filter walk the same way.
    let prefix = find(&store, &a, "stat*").await;
    assert_eq!(prefix.len(), 100);
    assert!(prefix.iter().all(|id| expected.contains(id)), "{prefix:?}");
    let mut req = SearchRequest::new(&a, search::parse("status").unwrap(), 100);
    req.conversation_id = Some(mine[2].clone());
    let one = hits(&store, req).await;
    assert_eq!(one.len(), 100);
    assert!(one.iter().all(|h| h.message.conversation_id == mine[2]));
    let mut req = SearchRequest::new(&a, search::parse("status").unwrap(), 100);
    req.conversation_id = Some(foreign.clone());
    assert!(hits(&store, req).await.is_empty());
}

/// Queries full of the engines' syntax are searched as words: none fails.
pub const HOSTILE_QUERIES: &[&str] = &[
    "\"",
    "\"\"\"",
    "a\"b",
    "*",
    "**",
    "a**",
    "*a",
    "(",
    ")",
    "()",
    "(a OR b)",
    "a AND",
    "OR",
    "NOT a",
    "a NOT",
    "NEAR(a b, 2)",
    "NEAR",
    "a:b",
    "text:a",
    "-a",
    "a -b",
    "^a",
    "a^",
    "+a",
    "{a b}",
    "[a]",
    "a & b",
    "a | b",
    "!a",
    "a <-> b",
    "'a'",
    "a' OR '1'='1",
    "\\",
    "a\\b",
    "%",
    "_",
    "a;DROP TABLE messages",
    "\u{0}",
    "a\u{0}b",
    "é*",
    "\"unbalanced phrase",
    "phrase\" end",
    ":*",
    "a:*",
    "'':*",
    "\u{202e}",
];

pub async fn search_treats_hostile_syntax_as_text(store: SharedStore) {
    let a = user(&store, "bert").await;
    let g = group(&store, &a, &[], GroupSettings::default()).await;
    post(&store, &g, &a, "or", "this OR that, near (the) end: a-b ^c").await;
    post(&store, &g, &a, "html", "1 < 2 & \"quotes\" <script>alert('x')</script>").await;
    for q in HOSTILE_QUERIES {
        let Ok(query) = search::parse(q) else { continue };
        store
            .search_messages(SearchRequest::new(&a, query, 10))
            .await
            .unwrap_or_else(|e| panic!("{q:?}: {e}"));
    }
    assert_eq!(find(&store, &a, "OR").await, ids(&["or"]), "OR is a word");
    assert_eq!(find(&store, &a, "NEAR(the end)").await, ids(&["or"]));
    assert_eq!(find(&store, &a, "a-b").await, ids(&["or"]));
    assert_eq!(find(&store, &a, "(this").await, ids(&["or"]));
    let query = search::parse("script quotes").unwrap();
    let found = hits(&store, SearchRequest::new(&a, query.clone(), 10)).await;
    assert_eq!(found.len(), 1);
    let text = found[0].message.content.text().unwrap().to_string();
    assert_eq!(
        search::snippet(&query, &text),
        "1 &lt; 2 &amp; &quot;<mark>quotes</mark>&quot; &lt;<mark>script</mark>&gt;alert(&#39;x&#39;)&lt;/<mark>script</mark>&gt;"
    );
}

/// Words longer than people type (a pasted token, a long URL's path) are found whole, by a
/// prefix and in phrases, and a word sharing their first hundred characters is not taken for
/// them.
pub async fn search_finds_long_words_whole_by_prefix_and_in_phrases(store: SharedStore) {
    let a = user(&store, "lena").await;
    let g = group(&store, &a, &[], GroupSettings::default()).await;
    let long = format!("lo{}", "n".repeat(148));
    let twin = format!("{}z", &long[..120]);
    post(&store, &g, &a, "long", &format!("alpha {long} tail")).await;
    post(&store, &g, &a, "twin", &format!("alpha {twin} other")).await;

    assert_eq!(find(&store, &a, &long).await, ids(&["long"]));
    assert_eq!(sorted(find(&store, &a, "lonn*").await), ids(&["long", "twin"]));
    assert_eq!(find(&store, &a, &format!("\"alpha {long}\"")).await, ids(&["long"]));
    assert_eq!(find(&store, &a, &format!("\"{long} tail\"")).await, ids(&["long"]));
    assert_eq!(find(&store, &a, &format!("\"alpha {twin}\"")).await, ids(&["twin"]));
    assert_eq!(
        sorted(find(&store, &a, &format!("\"alpha {}\"*", &long[..110])).await),
        ids(&["long", "twin"])
    );
    assert_eq!(find(&store, &a, &format!("\"alpha {}\"*", &long[..130])).await, ids(&["long"]));
    assert_eq!(find(&store, &a, &format!("\"{twin} tail\"")).await, Vec::<String>::new());
    // Longer than a query may be and than PostgreSQL keeps in a lexeme: found by its start.
    let huge = "h".repeat(3000);
    post(&store, &g, &a, "huge", &format!("beta {huge} gamma")).await;
    assert_eq!(find(&store, &a, &format!("{}*", &huge[..200])).await, ids(&["huge"]));
    assert_eq!(find(&store, &a, &format!("\"beta {}\"*", &huge[..200])).await, ids(&["huge"]));
    assert_eq!(find(&store, &a, &format!("\"{}\"* gamma", &huge[..200])).await, ids(&["huge"]));
}

/// A search past its time limit ends with `SearchTooBroad` (whatever step it had reached), and
/// the store answers the next search as if nothing had happened: the connection it used is not
/// left with the limit or in a failed transaction.
pub async fn search_past_its_time_limit_is_too_broad_and_the_next_one_answers(store: SharedStore) {
    use confab_core::Error;
    use std::time::Duration;
    let a = user(&store, "vera").await;
    let b = user(&store, "walt").await;
    let conv = group(&store, &a, std::slice::from_ref(&b), GroupSettings::default()).await;
    for i in 0..30 {
        post(&store, &conv, &a, &format!("t{i}"), &format!("the quarterly report number {i}")).await;
    }
    for q in ["report", "rep*", "\"quarterly report\"", "zzz"] {
        let mut req = SearchRequest::new(&b, search::parse(q).unwrap(), 10);
        req.time_limit = Some(Duration::ZERO);
        let err = store.search_messages(req).await.expect_err(q);
        assert_eq!(err, Error::SearchTooBroad { limit_ms: 0 }, "{q}");
        assert_eq!(err.code(), confab_proto::ErrorCode::InvalidRequest);
        // The same search with time enough: every report, on what may be the same connection.
        let mut req = SearchRequest::new(&b, search::parse(q).unwrap(), 100);
        req.time_limit = Some(Duration::from_secs(60));
        let expected = if q == "zzz" { 0 } else { 30 };
        assert_eq!(hits(&store, req).await.len(), expected, "{q}");
    }
}
