//! API keys of application backends: created, listed, found by hash, revoked.

use confab_core::store::{ApiKey, NewApiKey};
use confab_core::{Error, Result};
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::sqlite::error::SqlResult;

const COLUMNS: &str = "key_id, name, created_at, revoked_at";

fn key_from(r: &Row<'_>) -> rusqlite::Result<ApiKey> {
    Ok(ApiKey { key_id: r.get(0)?, name: r.get(1)?, created_at: r.get(2)?, revoked_at: r.get(3)? })
}

pub(crate) fn create(conn: &Connection, key: &NewApiKey) -> Result<ApiKey> {
    conn.prepare_cached("INSERT INTO api_keys (key_id, name, key_hash, created_at) VALUES (?1, ?2, ?3, ?4)")
        .and_then(|mut s| s.execute(params![key.key_id, key.name, key.key_hash, key.created_at]))
        .db()?;
    one(conn, "key_id", &key.key_id)?.ok_or_else(|| Error::Internal("API key not stored".into()))
}

fn one(conn: &Connection, column: &str, value: &str) -> Result<Option<ApiKey>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM api_keys WHERE {column} = ?1"))
        .and_then(|mut s| s.query_row([value], key_from).optional())
        .db()
}

pub(crate) fn by_hash(conn: &Connection, key_hash: &str) -> Result<Option<ApiKey>> {
    one(conn, "key_hash", key_hash)
}

pub(crate) fn list(conn: &Connection) -> Result<Vec<ApiKey>> {
    let mut stmt = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM api_keys ORDER BY created_at DESC, key_id"))
        .db()?;
    let rows = stmt.query_map([], key_from).db()?;
    rows.collect::<rusqlite::Result<Vec<_>>>().db()
}

pub(crate) fn revoke(conn: &Connection, id: &str, at: i64) -> Result<ApiKey> {
    conn.prepare_cached("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?2) WHERE key_id = ?1")
        .and_then(|mut s| s.execute(params![id, at]))
        .db()?;
    one(conn, "key_id", id)?.ok_or_else(|| Error::NotFound("no such API key".into()))
}
