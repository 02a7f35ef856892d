//! API keys of application backends: created, listed, found by hash, revoked.

use confab_core::store::{ApiKey, NewApiKey};
use confab_core::{Error, Result};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use crate::postgres::error::PgResult;

const COLUMNS: &str = "key_id, name, created_at, revoked_at";

fn key_from(r: &Row) -> ApiKey {
    ApiKey { key_id: r.get(0), name: r.get(1), created_at: r.get(2), revoked_at: r.get(3) }
}

pub(crate) async fn create<C: GenericClient>(c: &C, key: &NewApiKey) -> Result<ApiKey> {
    let row = c
        .query_one(
            &format!(
                "INSERT INTO api_keys (key_id, name, key_hash, created_at) VALUES ($1, $2, $3, $4)
                 RETURNING {COLUMNS}"
            ),
            &[&key.key_id, &key.name, &key.key_hash, &key.created_at],
        )
        .await
        .db()?;
    Ok(key_from(&row))
}

pub(crate) async fn by_hash<C: GenericClient>(c: &C, key_hash: &str) -> Result<Option<ApiKey>> {
    let row = c
        .query_opt(&format!("SELECT {COLUMNS} FROM api_keys WHERE key_hash = $1"), &[&key_hash])
        .await
        .db()?;
    Ok(row.map(|r| key_from(&r)))
}

pub(crate) async fn list<C: GenericClient>(c: &C) -> Result<Vec<ApiKey>> {
    let rows = c
        .query(&format!("SELECT {COLUMNS} FROM api_keys ORDER BY created_at DESC, key_id"), &[])
        .await
        .db()?;
    Ok(rows.iter().map(key_from).collect())
}

pub(crate) async fn revoke<C: GenericClient>(c: &C, id: &str, at: i64) -> Result<ApiKey> {
    let row = c
        .query_opt(
            &format!(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE key_id = $1 RETURNING {COLUMNS}"
            ),
            &[&id, &at],
        )
        .await
        .db()?;
    row.map(|r| key_from(&r)).ok_or_else(|| Error::NotFound("no such API key".into()))
}
