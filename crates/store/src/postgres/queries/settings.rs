//! Cluster-wide settings: the first value stored for a key wins, whichever node stores it.

use confab_core::Result;
use deadpool_postgres::GenericClient;

use crate::postgres::error::PgResult;

pub(crate) async fn setting_or_init<C: GenericClient>(c: &C, key: &str, candidate: &str) -> Result<String> {
    c.execute(
        "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[&key, &candidate],
    )
    .await
    .db()?;
    Ok(c.query_one("SELECT value FROM settings WHERE key = $1", &[&key]).await.db()?.get(0))
}
