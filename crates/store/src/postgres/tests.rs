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
