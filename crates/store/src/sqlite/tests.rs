use std::sync::Arc;

use confab_core::store::{SharedStore, Store};

use super::error::SqlResult;
use super::SqliteStore;

async fn fresh() -> Option<(SharedStore, tempfile::TempDir)> {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("confab.db")).expect("open store");
    Some((Arc::new(store) as SharedStore, dir))
}

crate::store_conformance_suite!(fresh());

#[tokio::test]
async fn acknowledged_writes_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("confab.db");
    let store: SharedStore = Arc::new(SqliteStore::open(&path).unwrap());
    let a = crate::conformance::user(&store, "olga").await;
    let b = crate::conformance::user(&store, "pete").await;
    let (c, _) = store.open_direct(&a, &b, "c1".into(), 0).await.unwrap();
    for i in 0..10 {
        crate::conformance::send(&store, &c, &a, &format!("m{i}")).await.unwrap();
    }
    store.shutdown().await;
    drop(store);
    let store: SharedStore = Arc::new(SqliteStore::open(&path).unwrap());
    let view = store.conversation(&c, &b).await.unwrap();
    assert_eq!(view.last_sequence, 10);
    assert_eq!(crate::conformance::send(&store, &c, &b, "after").await.unwrap(), 11);
}

#[tokio::test]
async fn a_database_from_before_per_sender_message_ids_upgrades_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("confab.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for (i, (_, sql)) in super::MIGRATIONS[..2].iter().enumerate() {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", i + 1).unwrap();
        }
        conn.execute_batch(crate::conformance::SEED_BEFORE_PER_SENDER_IDS).unwrap();
    }
    let store: SharedStore = Arc::new(SqliteStore::open(&path).unwrap());
    crate::conformance::check_upgraded_to_per_sender_ids(&store).await;
    store.shutdown().await;
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    assert_eq!(version, super::MIGRATIONS.len());
}

/// Messages indexed before documents moved into `messages` (migration 0017) are still found,
/// follow their edits, and come after what is written since.
#[tokio::test]
async fn search_documents_move_into_messages_in_place() {
    use confab_core::ids::now_millis;
    use confab_core::lifecycle::{Actor, ChangeKind, MessageChange, MessageTarget};
    use confab_core::rules::search;
    use confab_core::store::SearchRequest;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("confab.db");
    let before =
        super::MIGRATIONS.iter().position(|(name, _)| name.contains("0017")).expect("migration 0017");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for (i, (_, sql)) in super::MIGRATIONS[..before].iter().enumerate() {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", i + 1).unwrap();
        }
        conn.execute_batch(crate::conformance::SEED_BEFORE_PER_SENDER_IDS).unwrap();
        conn.execute_batch(
            r#"INSERT INTO messages (conversation_id, sequence_number, message_id, sender_id, content, created_at)
                   VALUES ('c-ab', 2, 'old-2', 'u-ben', '{"type":"text","text":"second before"}', 3);
               UPDATE conversations SET last_sequence = 2 WHERE conversation_id = 'c-ab';"#,
        )
        .unwrap();
    }
    let store: SharedStore = Arc::new(SqliteStore::open(&path).unwrap());
    let find = |q: &str| {
        let store = store.clone();
        let request = SearchRequest::new("u-ben", search::parse(q).unwrap(), 10);
        async move {
            let hits = store.search_messages(request).await.unwrap();
            let mut ids = hits.into_iter().map(|h| h.message.message_id).collect::<Vec<_>>();
            ids.sort();
            ids
        }
    };
    assert_eq!(find("before").await, ["old-1", "old-2"]);
    let edit = MessageChange {
        conversation_id: "c-ab".into(),
        target: MessageTarget::id("old-1"),
        actor: Actor::User("u-ann".into()),
        kind: ChangeKind::Edit { content: crate::conformance::text("rewritten"), window_ms: None },
        at: now_millis(),
    };
    store.change_message(edit).await.unwrap();
    assert_eq!(find("before").await, ["old-2"]);
    assert_eq!(find("rewritten").await, ["old-1"]);
    crate::conformance::send(&store, "c-ab", "u-ann", "new").await.unwrap();
    let new = store.history("c-ab", "u-ben", confab_core::store::HistoryCursor::Latest, 1).await.unwrap();
    let id = new.messages[0].message_id.clone();
    let edit = MessageChange {
        conversation_id: "c-ab".into(),
        target: MessageTarget::id(&id),
        actor: Actor::User("u-ann".into()),
        kind: ChangeKind::Edit { content: crate::conformance::text("rewritten before"), window_ms: None },
        at: now_millis(),
    };
    store.change_message(edit).await.unwrap();
    let mut expected = vec![id.clone(), "old-1".to_string()];
    expected.sort();
    assert_eq!(find("rewritten").await, expected);
    let mut expected = vec![id, "old-2".to_string()];
    expected.sort();
    assert_eq!(find("before").await, expected);
}

#[tokio::test]
async fn a_deleted_message_is_erased_from_the_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("confab.db");
    let store: SharedStore = Arc::new(SqliteStore::open(&path).unwrap());
    let (c, sequence) = crate::conformance::a_deleted_message(&store).await;
    assert_erased(&path, &c, sequence);
    store.shutdown().await;
}

#[tokio::test]
async fn an_expired_message_is_erased_from_the_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("confab.db");
    let store: SharedStore = Arc::new(SqliteStore::open(&path).unwrap());
    let (c, sequence) = crate::conformance::an_expired_message(&store).await;
    assert_erased(&path, &c, sequence);
    store.shutdown().await;
}

/// The message's row holds a tombstone and nothing of what it said, read from the file itself.
fn assert_erased(path: &std::path::Path, c: &str, sequence: u64) {
    // Read the rows straight from the file, not through the store.
    let conn = rusqlite::Connection::open(path).unwrap();
    let row: (String, Option<String>, Option<String>, Option<i64>, Option<i64>) = conn
        .query_row(
            "SELECT content, reactions, reply_to, reply_to_sequence, edited_at FROM messages
             WHERE conversation_id = ?1 AND sequence_number = ?2",
            rusqlite::params![c, sequence as i64],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    assert_eq!(row, (r#"{"type":"deleted"}"#.to_string(), None, None, None, None));
    let reactions: i64 = conn
        .query_row("SELECT COUNT(*) FROM reactions WHERE conversation_id = ?1", [c], |r| r.get(0))
        .unwrap();
    assert_eq!(reactions, 0);
    let anywhere: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM messages WHERE content LIKE ?1",
            [format!("%{}%", crate::conformance::ERASED_TEXT)],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(anywhere, 0);
}

#[tokio::test]
async fn a_schema_newer_than_the_build_is_refused_and_one_behind_only_when_allowed() {
    use crate::schema::Migrations;
    use confab_core::store::Store;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("confab.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        let (_, first) = super::MIGRATIONS[0];
        conn.execute_batch(first).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
    }
    let status = super::schema_status(&path).unwrap();
    assert_eq!(
        (status.version, status.known, status.pending.len()),
        (1, super::MIGRATIONS.len(), super::MIGRATIONS.len() - 1)
    );
    let behind =
        SqliteStore::open_with(&path, Migrations::RequireCurrent).err().expect("refused").to_string();
    assert!(behind.contains("confab migrate"), "{behind}");
    let store = SqliteStore::open_with(&path, Migrations::Apply).unwrap();
    store.shutdown().await;
    drop(store);
    assert!(super::schema_status(&path).unwrap().pending.is_empty());
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", super::MIGRATIONS.len() + 1).unwrap();
    }
    let ahead = SqliteStore::open(&path).err().expect("refused").to_string();
    assert!(ahead.contains("newer than this build"), "{ahead}");
}

#[tokio::test]
async fn a_backup_taken_while_writing_opens_with_everything_acknowledged_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("confab.db");
    let store: SharedStore = Arc::new(SqliteStore::open(&path).unwrap());
    let a = crate::conformance::user(&store, "uma").await;
    let b = crate::conformance::user(&store, "vic").await;
    let (c, _) = store.open_direct(&a, &b, "c1".into(), 0).await.unwrap();
    for i in 0..20 {
        crate::conformance::send(&store, &c, &a, &format!("m{i}")).await.unwrap();
    }
    let dest = dir.path().join("backup.db");
    super::backup(&path, &dest).unwrap();
    assert!(super::backup(&path, &dest).is_err(), "an existing file is never overwritten");
    crate::conformance::send(&store, &c, &a, "after").await.unwrap();
    store.shutdown().await;
    let copy: SharedStore = Arc::new(SqliteStore::open(&dest).unwrap());
    assert_eq!(copy.conversation(&c, &b).await.unwrap().last_sequence, 20);
    copy.shutdown().await;
}

/// New messages are indexed once per batch, just before it commits (migration 0013): a message
/// written and then edited, and another written and deleted, in one batch are found as they
/// ended up, and nothing of what they were before. Either is enough to make the writer read the
/// batch back (migration 0018), and so is a write rolled back in the batch.
#[tokio::test]
async fn writes_and_edits_in_one_batch_are_indexed_as_they_end() {
    one_batch_of_writes_and_edits(true, true).await;
    one_batch_of_writes_and_edits(false, true).await;
}

/// A batch of new messages alone is indexed from the texts it wrote (migration 0018), and so is
/// one with a write that failed: every message found by its text or caption, none by another's.
#[tokio::test]
async fn a_batch_of_new_messages_is_indexed_from_the_texts_written() {
    one_batch_of_writes_and_edits(false, false).await;
    one_batch_of_writes_and_edits(true, false).await;
}

async fn one_batch_of_writes_and_edits(fail_one: bool, change_two: bool) {
    use confab_core::ids::now_millis;
    use confab_core::lifecycle::{Actor, ChangeKind, MessageChange, MessageTarget};
    use confab_core::rules::search;
    use confab_core::store::{NewMessage, SearchRequest};
    use confab_proto::GroupSettings;

    let dir = tempfile::tempdir().unwrap();
    let sqlite = Arc::new(SqliteStore::open(&dir.path().join("confab.db")).unwrap());
    let store: SharedStore = sqlite.clone();
    let a = crate::conformance::user(&store, "bea").await;
    let g = crate::conformance::group(&store, &a, &[], GroupSettings::default()).await;
    // Hold the writer so that everything below queues up and commits as one batch.
    let (release, held) = std::sync::mpsc::channel::<()>();
    let gate = sqlite.writer.submit(
        move |_| {
            let _ = held.recv();
            Ok(())
        },
        None,
    );
    let message =
        |id: &str, t: &str| NewMessage::new(id.into(), g.clone(), a.clone(), crate::conformance::text(t));
    let change = |id: &str, kind: ChangeKind| MessageChange {
        conversation_id: g.clone(),
        target: MessageTarget::id(id),
        actor: Actor::User(a.clone()),
        kind,
        at: now_millis(),
    };
    let kept = store.append(message("kept", "plain words"), None);
    // A write that stored a message and then failed leaves nothing in the index.
    let failing = message("ghost", "ghost words");
    let ghost = fail_one.then(|| {
        sqlite.writer.submit(
            move |c| {
                super::queries::messages::append(c, &failing, now_millis())?;
                Err::<(), _>(confab_core::Error::Internal("failed after the append".into()))
            },
            None,
        )
    });
    let edited = store.append(message("edited", "first draft"), None);
    let deleted = store.append(message("deleted", "draft to delete"), None);
    let (edit, delete) = if change_two {
        let edit = change(
            "edited",
            ChangeKind::Edit { content: crate::conformance::text("final text"), window_ms: None },
        );
        let delete = change("deleted", ChangeKind::Delete);
        (
            Some(sqlite.writer.submit(move |c| super::queries::updates::change(c, &edit), None)),
            Some(sqlite.writer.submit(move |c| super::queries::updates::change(c, &delete), None)),
        )
    } else {
        (None, None)
    };
    release.send(()).unwrap();
    gate.await.unwrap();
    kept.await.unwrap();
    if let Some(ghost) = ghost {
        assert!(ghost.await.is_err());
    }
    edited.await.unwrap();
    deleted.await.unwrap();
    if let (Some(edit), Some(delete)) = (edit, delete) {
        edit.await.unwrap();
        delete.await.unwrap();
    }

    let find = |q: &str| {
        let store = store.clone();
        let request = SearchRequest::new(&a, search::parse(q).unwrap(), 10);
        async move {
            let hits = store.search_messages(request).await.unwrap();
            hits.into_iter().map(|h| h.message.message_id).collect::<Vec<_>>()
        }
    };
    assert_eq!(find("plain").await, ["kept"]);
    assert!(find("ghost").await.is_empty(), "a rolled back write is not indexed");
    if change_two {
        assert_eq!(find("final").await, ["edited"]);
        assert!(find("draft").await.is_empty(), "neither the edited nor the deleted text is found");
    } else {
        assert_eq!(find("first").await, ["edited"]);
        let mut draft = find("draft").await;
        draft.sort();
        assert_eq!(draft, ["deleted", "edited"]);
    }
    // And the next batch indexes only its own messages.
    store.append(message("later", "plain again"), None).await.unwrap();
    let mut plain = find("plain").await;
    plain.sort();
    assert_eq!(plain, ["kept", "later"]);
}

/// A sweep batch stops at the first message after which another write is queued, so that write
/// waits for one erasure, not the whole batch; the sweeper's next calls erase the rest.
#[tokio::test]
async fn a_sweep_batch_steps_aside_for_a_write_queued_behind_it() {
    use std::future::Future;
    use std::pin::Pin;

    use confab_core::store::NewMessage;
    use confab_proto::GroupSettings;

    type Later = Pin<Box<dyn Future<Output = confab_core::Result<()>> + Send>>;

    let dir = tempfile::tempdir().unwrap();
    let sqlite = Arc::new(SqliteStore::open(&dir.path().join("confab.db")).unwrap());
    let store: SharedStore = sqlite.clone();
    let a = crate::conformance::user(&store, "ivy").await;
    let g = crate::conformance::group(&store, &a, &[], GroupSettings::default()).await;
    let mut last = 0;
    for i in 0..30 {
        let mut m =
            NewMessage::new(format!("m{i}"), g.clone(), a.clone(), crate::conformance::text("soon gone"));
        m.expires_in = Some(1);
        last = store.append(m, None).await.unwrap().message.timestamp;
    }
    let at = last + 2_000;

    let writer = sqlite.writer.clone();
    let later: Arc<parking_lot::Mutex<Option<Later>>> = Arc::default();
    let slot = later.clone();
    let erased = sqlite
        .writer
        .submit(
            move |c| {
                let waiting = writer.waiting();
                // The first time the batch asks, a write arrives behind it.
                let others = || {
                    let mut slot = slot.lock();
                    if slot.is_none() {
                        *slot = Some(Box::pin(writer.submit(|_| Ok(()), None)));
                    }
                    waiting.any()
                };
                super::queries::expiry::expire(c, at, 100, &others)
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(erased.len(), 1, "stepped aside after one message");
    let queued = later.lock().take().expect("a write was queued");
    queued.await.unwrap();
    assert!(!sqlite.writer.waiting().any());
    let mut rest = 0;
    loop {
        let n = store.expire_messages(at, 100).await.unwrap().len();
        if n == 0 {
            break;
        }
        rest += n;
    }
    assert_eq!(rest, 29);
}

/// The WAL is never cut while serving (that stalled the commit that did it) but is given back
/// when the store shuts down.
#[tokio::test]
async fn the_wal_is_truncated_at_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("confab.db");
    let store: SharedStore = Arc::new(SqliteStore::open(&path).unwrap());
    let a = crate::conformance::user(&store, "wal").await;
    let b = crate::conformance::user(&store, "log").await;
    let (c, _) = store.open_direct(&a, &b, "c1".into(), 0).await.unwrap();
    for i in 0..200 {
        crate::conformance::send(&store, &c, &a, &format!("m{i}")).await.unwrap();
    }
    let wal = dir.path().join("confab.db-wal");
    assert!(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) > 0, "writes went to the WAL");
    store.shutdown().await;
    assert_eq!(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0), 0);
    drop(store);
    let reopened: SharedStore = Arc::new(SqliteStore::open(&path).unwrap());
    let view = reopened.conversation(&c, &a).await.unwrap();
    assert_eq!(view.last_sequence, 200, "everything acknowledged is still there");
}

/// Frames in the WAL since it last restarted: those whose salt is the header's (SQLite changes the
/// salt at each restart, so frames left from before are not counted).
fn wal_frames(path: &std::path::Path) -> usize {
    let wal = std::fs::read(path.with_extension("db-wal")).unwrap_or_default();
    let Some(header) = wal.get(..32) else { return 0 };
    let page = u32::from_be_bytes(header[8..12].try_into().unwrap()) as usize;
    wal[32..].chunks(24 + page).take_while(|f| f.len() == 24 + page && f[8..16] == header[16..24]).count()
}

/// Under steady writes a checkpoint pass never reaches the WAL's end (frames arrive while it
/// copies; here a reader's older snapshot holds it back the same way). The writer then copies the
/// rest after its next batch, and the WAL is written over from its start again instead of growing
/// for as long as the writes go on.
#[tokio::test]
async fn the_wal_restarts_after_a_pass_that_missed_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("confab.db");
    let sqlite = SqliteStore::open(&path).unwrap();
    let tail_due = sqlite.tail_due.clone();
    let store: SharedStore = Arc::new(sqlite);
    let a = crate::conformance::user(&store, "steady").await;
    let b = crate::conformance::user(&store, "stream").await;
    let (c, _) = store.open_direct(&a, &b, "c1".into(), 0).await.unwrap();
    let send = |from: &str, n: usize| {
        let (store, c, from) = (store.clone(), c.clone(), from.to_string());
        async move {
            for i in 0..n {
                crate::conformance::send(&store, &c, &from, &format!("m{i}")).await.unwrap();
            }
        }
    };
    send(&a, 50).await;
    let reader = rusqlite::Connection::open(&path).unwrap();
    reader.execute_batch("BEGIN").unwrap();
    reader.query_row("SELECT count(*) FROM messages", [], |r| r.get::<_, i64>(0)).unwrap();
    send(&b, 50).await;
    let checkpointer = rusqlite::Connection::open(&path).unwrap();
    super::checkpoint_pass(&checkpointer, &tail_due, 1);
    assert!(tail_due.load(std::sync::atomic::Ordering::Relaxed), "the pass leaves the tail to the writer");
    reader.execute_batch("COMMIT").unwrap();
    let before = wal_frames(&path);
    assert!(before > 100, "every send so far is in the WAL: {before} frames");
    send(&a, 50).await;
    let after = wal_frames(&path);
    assert!(after < before, "the WAL restarted: {after} frames since, {before} before");
    assert!(!tail_due.load(std::sync::atomic::Ordering::Relaxed), "the writer took the tail");
    let view = store.conversation(&c, &a).await.unwrap();
    assert_eq!(view.last_sequence, 150, "nothing acknowledged was lost on the way");
}

/// Walking the caller's conversations and asking FTS5 find the same windows: every page of every
/// query is the same either way, across windows, with filters, and never with a message that is
/// deleted, in a conversation the caller is not in, or that only one of them would count.
#[tokio::test]
async fn walking_and_the_index_find_the_same_pages() {
    use confab_core::rules::search::{encode_cursor, parse};
    use confab_core::store::SearchRequest;
    use futures_util::future::join_all;

    use super::queries::search::{search_with, Plan};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("confab.db");
    let store: SharedStore = Arc::new(SqliteStore::open(&path).unwrap());
    let reader = crate::conformance::user(&store, "reader").await;
    let mut conversations = Vec::new();
    for name in ["ann", "ben", "cat"] {
        let other = crate::conformance::user(&store, name).await;
        let (c, _) = store.open_direct(&reader, &other, format!("c-{name}"), 0).await.unwrap();
        conversations.push((c, other));
    }
    let outsider = crate::conformance::user(&store, "dan").await;
    let eve = crate::conformance::user(&store, "eve").await;
    let (foreign, _) = store.open_direct(&outsider, &eve, "c-foreign".into(), 0).await.unwrap();
    // 2400 messages: more than a window of `co*` matches, some dense, some sparse words.
    let texts: Vec<String> = (0..2400)
        .map(|i| match i % 4 {
            0 => format!("Coffee at the contract review w{i}"),
            1 => format!("cost of the Café w{i}"),
            2 => format!("tea time w{i}"),
            _ => format!("nothing here, w{i}; co-op"),
        })
        .collect();
    for chunk in texts.chunks(300).enumerate().collect::<Vec<_>>() {
        let (n, chunk) = chunk;
        join_all(chunk.iter().enumerate().map(|(i, t)| {
            let (c, sender) = &conversations[(n * 300 + i) % 3];
            let sender = if i % 2 == 0 { sender.clone() } else { reader.clone() };
            let store = store.clone();
            let (c, t) = (c.clone(), t.clone());
            async move { crate::conformance::send(&store, &c, &sender, &t).await.unwrap() }
        }))
        .await;
        crate::conformance::send(&store, &foreign, &outsider, "coffee contract w1").await.unwrap();
    }
    store.shutdown().await;
    drop(store);

    let conn = rusqlite::Connection::open(&path).unwrap();
    let (ann, ann_id) = &conversations[0];
    let queries: Vec<(&str, Option<&str>, Option<&str>)> = vec![
        ("co*", None, None),
        ("cof* contract", None, None),
        ("w1*", None, None),
        ("caf*", Some(ann.as_str()), None),
        ("co*", None, Some(ann_id.as_str())),
        ("\"the contract\"* co*", None, None),
        ("zzz*", None, None),
        ("co*", Some(foreign.as_str()), None),
    ];
    for (q, conversation, sender) in queries {
        let page = |plan: Plan, cursor: Option<String>| {
            let mut req = SearchRequest::new(&reader, parse(q).unwrap(), 40);
            req.conversation_id = conversation.map(str::to_string);
            req.sender_id = sender.map(str::to_string);
            req.after_key = cursor.map(|c| confab_core::rules::search::decode_cursor(&c).unwrap());
            search_with(&conn, &req, plan).unwrap()
        };
        let (mut walked, mut indexed, mut chosen) = (Vec::new(), Vec::new(), Vec::new());
        for (plan, out) in [(Plan::Walk, &mut walked), (Plan::Fts, &mut indexed), (Plan::Choose, &mut chosen)]
        {
            let mut cursor = None;
            loop {
                let hits = page(plan, cursor.take());
                out.extend(hits.iter().map(|h| (h.key.clone(), h.message.message_id.clone())));
                match hits.last() {
                    Some(last) if hits.len() == 40 && out.len() < 1400 => {
                        cursor = Some(encode_cursor(&last.key))
                    }
                    _ => break,
                }
            }
        }
        assert_eq!(walked, indexed, "{q}");
        assert_eq!(chosen, indexed, "{q}");
        if q == "co*" && conversation.is_none() && sender.is_none() {
            assert_eq!(walked.len(), 1400, "pages across windows");
        }
        if q == "zzz*" || conversation == Some(foreign.as_str()) {
            assert!(walked.is_empty(), "{q}");
        }
    }
}

/// A search statement still running when the time limit runs out is interrupted, and the search
/// ends with `SearchTooBroad`; the connection it ran on answers what comes next, uninterrupted.
#[tokio::test]
async fn a_search_statement_past_the_time_limit_is_interrupted() {
    use confab_core::Error;
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("confab.db")).unwrap();
    // Counts without end: only the interruption ends it.
    let endless = |c: &rusqlite::Connection| {
        c.query_row(
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n",
            [],
            |r| r.get::<_, i64>(0),
        )
        .db()
    };
    let stopped = store.search_snapshot(Duration::from_millis(50), endless).await;
    assert_eq!(stopped.unwrap_err(), Error::SearchTooBroad { limit_ms: 50 });
    // The pool's one idle reader is the interrupted one: it is used next, and lasts past the
    // earlier limit without being interrupted.
    let counted = store
        .search_snapshot(Duration::from_secs(60), |c| {
            std::thread::sleep(Duration::from_millis(100));
            c.query_row("SELECT count(*) FROM messages", [], |r| r.get::<_, i64>(0)).db()
        })
        .await;
    assert_eq!(counted.unwrap(), 0);
    store.shutdown().await;
}

/// Searches stopped by their limits while others run beside them on the same reader pool stop
/// only themselves: a watchdog never interrupts a connection another search has taken since.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn interrupted_searches_stop_only_themselves() {
    use confab_core::Error;
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("confab.db")).unwrap());
    let mut tasks = Vec::new();
    for i in 0..24u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                let endless = |c: &rusqlite::Connection| {
                    c.query_row(
                        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n",
                        [],
                        |r| r.get::<_, i64>(0),
                    )
                    .db()
                };
                let limit = Duration::from_millis(1 + i % 7);
                assert_eq!(store.search_snapshot(limit, endless).await.unwrap_err(), confab_core::rules::search::too_broad(limit));
            } else {
                // Longer than every other search's limit, so a stray interrupt would land here.
                let slow = |c: &rusqlite::Connection| {
                    c.query_row(
                        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 300000) SELECT count(*) FROM n",
                        [],
                        |r| r.get::<_, i64>(0),
                    )
                    .db()
                };
                let counted: Result<i64, Error> = store.search_snapshot(Duration::from_secs(60), slow).await;
                assert_eq!(counted.unwrap(), 300_000);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    store.shutdown().await;
}
