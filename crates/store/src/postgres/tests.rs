//! The conformance suite against a real PostgreSQL, each test in a schema of its own.

use std::sync::Arc;

use confab_core::store::SharedStore;

use super::PostgresStore;

/// `CONFAB_TEST_DATABASE_URL`, or the local server.
pub(crate) fn database_url() -> String {
    std::env::var("CONFAB_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Drops the test's schema when the test ends.
pub(crate) struct SchemaGuard(String);

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        let schema = self.0.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(PostgresStore::drop_schema(&database_url(), &schema)).ok()
        })
        .join();
    }
}

async fn fresh() -> Option<(SharedStore, SchemaGuard)> {
    let schema = format!("confab_test_{}", uuid_like());
    match PostgresStore::connect(&database_url(), Some(&schema)).await {
        Ok(store) => Some((Arc::new(store) as SharedStore, SchemaGuard(schema))),
        Err(e) if std::env::var("CONFAB_REQUIRE_SERVICES").as_deref() != Ok("1") => {
            eprintln!("PostgreSQL not reachable ({e}); set CONFAB_REQUIRE_SERVICES=1 to make this a failure");
            None
        }
        Err(e) => panic!("PostgreSQL is required (CONFAB_REQUIRE_SERVICES=1) but not reachable: {e}"),
    }
}

fn uuid_like() -> String {
    confab_core::ids::new_id().replace('-', "")
}

crate::store_conformance_suite!(fresh());

/// A schema of its own as an earlier release left it: the first `version` migrations applied and
/// recorded, then `seed` run. `None` when PostgreSQL is not reachable and not required.
async fn schema_at(version: usize, seed: &str) -> Option<(String, SchemaGuard)> {
    let schema = format!("confab_test_{}", uuid_like());
    let mut config: tokio_postgres::Config = database_url().parse().expect("database URL");
    let (client, connection) = match config.connect(tokio_postgres::NoTls).await {
        Ok(connected) => connected,
        Err(e) if std::env::var("CONFAB_REQUIRE_SERVICES").as_deref() != Ok("1") => {
            eprintln!("PostgreSQL not reachable ({e}); set CONFAB_REQUIRE_SERVICES=1 to make this a failure");
            return None;
        }
        Err(e) => panic!("PostgreSQL is required (CONFAB_REQUIRE_SERVICES=1) but not reachable: {e}"),
    };
    let guard = SchemaGuard(schema.clone());
    let driver = tokio::spawn(connection);
    client.batch_execute(&format!("CREATE SCHEMA {schema}")).await.unwrap();
    drop(client);
    let _ = driver.await;
    config.options(format!("-c search_path={schema}"));
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    let driver = tokio::spawn(connection);
    client.batch_execute("CREATE TABLE confab_migrations (version INTEGER PRIMARY KEY)").await.unwrap();
    for (i, (_, sql)) in super::MIGRATIONS[..version].iter().enumerate() {
        client.batch_execute(sql).await.unwrap();
        client
            .execute("INSERT INTO confab_migrations (version) VALUES ($1)", &[&(i as i32 + 1)])
            .await
            .unwrap();
    }
    client.batch_execute(seed).await.unwrap();
    drop(client);
    let _ = driver.await;
    Some((schema, guard))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_from_before_per_sender_message_ids_upgrades_in_place() {
    // The schema as the first release left it, with data.
    let Some((schema, _guard)) = schema_at(1, crate::conformance::SEED_BEFORE_PER_SENDER_IDS).await else {
        return;
    };
    let store: SharedStore = Arc::new(PostgresStore::connect(&database_url(), Some(&schema)).await.unwrap());
    crate::conformance::check_upgraded_to_per_sender_ids(&store).await;
    store.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_the_database_folded_are_rewritten_as_confab_folds_queries() {
    // Before migration 16 the database folded documents (`unaccent`: `ß` became `ss`); queries
    // are folded by Confab now, which keeps `ß`, so an old document would not be found by the
    // word as it is written without the upgrade's rewrite.
    let text = "Die Straße am Øresund, naïve!";
    let seed = format!(
        "{}
         INSERT INTO messages (conversation_id, sequence_number, message_id, sender_id, content, created_at)
             VALUES ('c-ab', 2, 'old-2', 'u-ben', '{{\"type\":\"text\",\"text\":\"{text}\"}}', 3),
                    ('c-ab', 3, 'old-3', 'u-ben', '{{\"type\":\"deleted\"}}', 4);
         UPDATE messages SET deleted_at = 5 WHERE sequence_number = 3;
         UPDATE conversations SET last_sequence = 3;",
        crate::conformance::SEED_BEFORE_PER_SENDER_IDS
    );
    let Some((schema, guard)) = schema_at(super::SEARCH_DOCUMENTS_BY_CONFAB - 1, &seed).await else { return };
    let store: SharedStore = Arc::new(PostgresStore::connect(&database_url(), Some(&schema)).await.unwrap());
    for q in ["STRASSE", "Straße", "naive \"die strasse\"", "\"die straße\""] {
        let expected: &[&str] = if q.to_lowercase().contains("strasse") { &[] } else { &["old-2"] };
        assert_eq!(found_by_ann(&store, q).await, expected, "{q}");
    }
    let written = confab_core::rules::search::tsvector;
    assert_eq!(stored_documents(&guard).await, [Some(written("before")), Some(written(text)), None]);
    store.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_with_every_word_and_pair_are_rewritten_with_each_word_and_the_next() {
    // Migration 16's documents held every word and every pair of adjacent words; 17 keeps one
    // lexeme per word (with the word after it), and the upgrade rewrites what is stored.
    let text = "Project deadline today";
    let seed = format!(
        "{}
         INSERT INTO messages (conversation_id, sequence_number, message_id, sender_id, content, created_at, search)
             VALUES ('c-ab', 2, 'old-2', 'u-ben', '{{\"type\":\"text\",\"text\":\"{text}\"}}', 3,
                     'deadline project today ''~deadline today'' ''~project deadline''');
         UPDATE conversations SET last_sequence = 2;",
        crate::conformance::SEED_BEFORE_PER_SENDER_IDS
    );
    let Some((schema, guard)) = schema_at(super::SEARCH_DOCUMENTS_AS_WRITTEN - 1, &seed).await else {
        return;
    };
    let store: SharedStore = Arc::new(PostgresStore::connect(&database_url(), Some(&schema)).await.unwrap());
    for q in ["deadline", "proj*", "\"project deadline\" today", "\"deadline tod\"*"] {
        assert_eq!(found_by_ann(&store, q).await, ["old-2"], "{q}");
    }
    let written = confab_core::rules::search::tsvector;
    assert_eq!(stored_documents(&guard).await, [Some(written("before")), Some(written(text))]);
    store.shutdown().await;
}

/// The message ids Ann's search for `q` finds.
async fn found_by_ann(store: &SharedStore, q: &str) -> Vec<String> {
    let query = confab_core::rules::search::parse(q).expect("query");
    let found = store
        .search_messages(confab_core::store::SearchRequest::new("u-ann", query, 10))
        .await
        .expect("search");
    found.into_iter().map(|h| h.message.message_id).collect()
}

/// Every message's search document as PostgreSQL prints it, in sequence order, read with a
/// connection of the test's own.
async fn stored_documents(guard: &SchemaGuard) -> Vec<Option<String>> {
    let mut config: tokio_postgres::Config = database_url().parse().expect("database URL");
    config.options(format!("-c search_path={}", guard.0));
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    let driver = tokio::spawn(connection);
    let rows = client.query("SELECT search::TEXT FROM messages ORDER BY sequence_number", &[]).await.unwrap();
    let documents = rows.iter().map(|r| r.get(0)).collect();
    drop(client);
    let _ = driver.await;
    documents
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_message_is_erased_from_the_rows() {
    let Some((store, guard)) = fresh().await else { return };
    let (c, sequence) = crate::conformance::a_deleted_message(&store).await;
    assert_erased(&guard, &c, sequence).await;
    store.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_message_is_erased_from_the_rows() {
    let Some((store, guard)) = fresh().await else { return };
    let (c, sequence) = crate::conformance::an_expired_message(&store).await;
    assert_erased(&guard, &c, sequence).await;
    store.shutdown().await;
}

/// The message's row holds a tombstone and nothing of what it said, read with a connection of
/// the test's own.
async fn assert_erased(guard: &SchemaGuard, c: &str, sequence: u64) {
    // Read the rows with a connection of our own, not through the store.
    let mut config: tokio_postgres::Config = database_url().parse().expect("database URL");
    config.options(format!("-c search_path={}", guard.0));
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    let driver = tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT content, reactions, reply_to, reply_to_sequence, edited_at, search::TEXT FROM messages
             WHERE conversation_id = $1 AND sequence_number = $2",
            &[&c, &(sequence as i64)],
        )
        .await
        .unwrap();
    let content: String = row.get(0);
    assert_eq!(content, r#"{"type":"deleted"}"#);
    assert_eq!(
        (
            row.get::<_, Option<String>>(1),
            row.get::<_, Option<String>>(2),
            row.get::<_, Option<i64>>(3),
            row.get::<_, Option<i64>>(4),
            row.get::<_, Option<String>>(5)
        ),
        (None, None, None, None, None),
        "nothing of the message is left, not even its words in the search document"
    );
    let reactions: i64 = client
        .query_one("SELECT COUNT(*) FROM reactions WHERE conversation_id = $1", &[&c])
        .await
        .unwrap()
        .get(0);
    assert_eq!(reactions, 0);
    let pattern = format!("%{}%", crate::conformance::ERASED_TEXT);
    let anywhere: i64 = client
        .query_one("SELECT COUNT(*) FROM messages WHERE content LIKE $1", &[&pattern])
        .await
        .unwrap()
        .get(0);
    assert_eq!(anywhere, 0);
    drop(client);
    let _ = driver.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_newer_than_the_build_is_refused_and_one_behind_only_when_allowed() {
    use crate::schema::Migrations;
    let Some((store, guard)) = fresh().await else { return };
    store.shutdown().await;
    let schema = Some(guard.0.as_str());
    let status = super::schema_status(&database_url(), schema).await.unwrap();
    assert_eq!((status.version, status.pending.len()), (super::MIGRATIONS.len(), 0));
    // A newer confab ran here: one more migration is recorded.
    let mut config: tokio_postgres::Config = database_url().parse().unwrap();
    config.options(format!("-c search_path={}", guard.0));
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    let driver = tokio::spawn(connection);
    let next = super::MIGRATIONS.len() as i32 + 1;
    client.execute("INSERT INTO confab_migrations (version) VALUES ($1)", &[&next]).await.unwrap();
    let ahead = PostgresStore::connect(&database_url(), schema).await.err().expect("refused").to_string();
    assert!(ahead.contains("newer than this build"), "{ahead}");
    // One migration behind: refused when migrating is not allowed, migrated otherwise.
    client.execute("DELETE FROM confab_migrations WHERE version >= $1", &[&(next - 1)]).await.unwrap();
    let behind = PostgresStore::connect_with(&database_url(), schema, Migrations::RequireCurrent)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(behind.contains("confab migrate"), "{behind}");
    drop(client);
    let _ = driver.await;
}

/// `?sslmode=…` in the database URL: `require` encrypts the sessions; `verify-ca` with the server's
/// own certificate as `sslrootcert` checks the chain; `verify-full` also checks the host name,
/// which the local server's self-signed certificate does not carry for `127.0.0.1`, so it is
/// refused; `disable` stays in plain text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sslmode_in_the_url_encrypts_and_checks_the_certificate() {
    let required = std::env::var("CONFAB_REQUIRE_SERVICES").as_deref() == Ok("1");
    let base = database_url();
    let plain = match super::tls::target(&base) {
        Ok(target) => super::tls::connect(&target.config, &target.tls).await,
        Err(e) => Err(e),
    };
    let (client, _driver) = match plain {
        Ok(connected) => connected,
        Err(e) if !required => return eprintln!("PostgreSQL not reachable ({e}); skipped"),
        Err(e) => panic!("PostgreSQL is required (CONFAB_REQUIRE_SERVICES=1) but not reachable: {e}"),
    };
    let ssl: String = client.query_one("SHOW ssl", &[]).await.unwrap().get(0);
    if ssl != "on" {
        assert!(!required, "PostgreSQL at {base} does not offer TLS (ssl = {ssl}): this test needs it");
        return eprintln!("PostgreSQL offers no TLS; skipped");
    }
    let cert_file: String = client.query_one("SHOW ssl_cert_file", &[]).await.unwrap().get(0);
    let data_dir: String = client.query_one("SHOW data_directory", &[]).await.unwrap().get(0);
    let cert_path = std::path::Path::new(&data_dir).join(&cert_file);
    let separator = if base.contains('?') { '&' } else { '?' };
    let with = |params: &str| format!("{base}{separator}{params}");

    let encrypted = |url: String| async move {
        let schema = format!("confab_test_{}", uuid_like());
        let _guard = SchemaGuard(schema.clone());
        let store = PostgresStore::connect(&url, Some(&schema)).await?;
        let client = store.client().await?;
        let row = client
            .query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])
            .await
            .map_err(|e| confab_core::Error::Internal(e.to_string()))?;
        drop(client);
        confab_core::store::Store::shutdown(&store).await;
        Ok::<bool, confab_core::Error>(row.get(0))
    };
    assert!(encrypted(with("sslmode=require")).await.expect("require connects"), "require encrypts");
    assert!(!encrypted(with("sslmode=disable")).await.expect("disable connects"), "disable does not");
    let root = format!("sslrootcert={}", cert_path.display());
    assert!(encrypted(with(&format!("sslmode=verify-ca&{root}"))).await.expect("verify-ca connects"));
    let refused = encrypted(with(&format!("sslmode=verify-full&{root}"))).await;
    assert!(refused.is_err(), "a certificate not issued for 127.0.0.1 fails verify-full");
    assert!(super::tls::target(&with("sslmode=bogus")).is_err());
}

/// A search statement cancelled by the `statement_timeout` of the search's time limit (`57014`)
/// is the search being too broad, not the database being down; without a limit it stays what
/// it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_cancelled_by_the_time_limit_is_a_search_too_broad() {
    use super::error::PgResult;
    use super::queries::search::timed;
    use confab_core::rules::search::Deadline;
    use confab_core::Error;
    use std::time::Duration;
    let Some((_store, _guard)) = fresh().await else { return };
    let (client, connection) = tokio_postgres::connect(&database_url(), tokio_postgres::NoTls).await.unwrap();
    let driver = tokio::spawn(connection);
    client.batch_execute("SET statement_timeout = 5").await.unwrap();
    let limited = Deadline::start(Some(Duration::from_millis(5)));
    let slept = timed(&limited, async { client.batch_execute("SELECT pg_sleep(5)").await.db() }).await;
    assert_eq!(slept.unwrap_err(), Error::SearchTooBroad { limit_ms: 5 });
    let unlimited = Deadline::start(None);
    let slept = timed(&unlimited, async { client.batch_execute("SELECT pg_sleep(5)").await.db() }).await;
    assert!(
        matches!(slept, Err(Error::Unavailable(ref m)) if m.starts_with("database (57014)")),
        "{slept:?}"
    );
    drop(client);
    let _ = driver.await;
}
