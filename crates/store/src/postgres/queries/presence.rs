//! Presence data: when users were last seen, and whom they share conversations with.

use std::collections::HashSet;

use confab_core::rules::presence::in_request_order;
use confab_core::{Error, Result};
use deadpool_postgres::GenericClient;

use super::blocks::NOT_BLOCKED_EITHER_WAY;
use crate::postgres::error::PgResult;

pub(crate) async fn touch_last_seen<C: GenericClient>(c: &C, user: &str, at: i64) -> Result<()> {
    // Never moves back: a late write from an older connection must not undo a newer one.
    c.execute(
        "UPDATE users SET last_seen = GREATEST(COALESCE(last_seen, 0), $1) WHERE user_id = $2",
        &[&at, &user],
    )
    .await
    .db()
    .map(|_| ())
}

pub(crate) async fn last_seen<C: GenericClient>(
    c: &C,
    users: &[String],
) -> Result<Vec<(String, Option<i64>)>> {
    let rows =
        c.query("SELECT user_id, last_seen FROM users WHERE user_id = ANY($1)", &[&users]).await.db()?;
    let found: Vec<(String, Option<i64>)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    Ok(in_request_order(users, &found))
}

pub(crate) async fn show_last_seen<C: GenericClient>(c: &C, user: &str) -> Result<bool> {
    let row = c.query_opt("SELECT show_last_seen FROM users WHERE user_id = $1", &[&user]).await.db()?;
    row.map(|r| r.get(0)).ok_or_else(|| Error::UserNotFound(user.to_string()))
}

pub(crate) async fn set_show_last_seen<C: GenericClient>(c: &C, user: &str, show: bool) -> Result<()> {
    let changed =
        c.execute("UPDATE users SET show_last_seen = $2 WHERE user_id = $1", &[&user, &show]).await.db()?;
    if changed == 0 {
        return Err(Error::UserNotFound(user.to_string()));
    }
    Ok(())
}

pub(crate) async fn hiding_last_seen<C: GenericClient>(c: &C, users: &[String]) -> Result<Vec<String>> {
    let rows = c
        .query("SELECT user_id FROM users WHERE user_id = ANY($1) AND NOT show_last_seen", &[&users])
        .await
        .db()?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

pub(crate) async fn contacts_of<C: GenericClient>(c: &C, user: &str, limit: u32) -> Result<Vec<String>> {
    let rows = c
        .query(
            &format!(
                "SELECT DISTINCT other.user_id FROM members mine
                 JOIN members other ON other.conversation_id = mine.conversation_id
                 WHERE mine.user_id = $1 AND other.user_id != $1 AND {NOT_BLOCKED_EITHER_WAY} LIMIT $2"
            ),
            &[&user, &(limit as i64)],
        )
        .await
        .db()?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

pub(crate) async fn contacts_among<C: GenericClient>(
    c: &C,
    user: &str,
    users: &[String],
) -> Result<Vec<String>> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let rows = c
        .query(
            &format!(
                "SELECT DISTINCT other.user_id FROM members mine
                 JOIN members other ON other.conversation_id = mine.conversation_id
                 WHERE mine.user_id = $1 AND other.user_id = ANY($2) AND other.user_id != $1
                   AND {NOT_BLOCKED_EITHER_WAY}"
            ),
            &[&user, &users],
        )
        .await
        .db()?;
    let found: HashSet<String> = rows.iter().map(|r| r.get(0)).collect();
    let mut once = HashSet::with_capacity(found.len());
    Ok(users.iter().filter(|u| found.contains(*u) && once.insert(u.as_str())).cloned().collect())
}
