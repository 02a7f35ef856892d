use std::sync::Arc;

use confab_core::store::SharedStore;

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
