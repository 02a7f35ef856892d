//! Presence data: when users were last seen, and whom they share conversations with.

use confab_core::rules::presence::in_request_order;
use confab_core::{Error, Result};
use rusqlite::{params, Connection, OptionalExtension};

use super::blocks::NOT_BLOCKED_EITHER_WAY;
use crate::sqlite::error::SqlResult;

pub(crate) fn touch_last_seen(conn: &Connection, user: &str, at: i64) -> Result<()> {
    // Never moves back: a late write from an older connection must not undo a newer one.
    conn.prepare_cached("UPDATE users SET last_seen = MAX(COALESCE(last_seen, 0), ?1) WHERE user_id = ?2")
        .and_then(|mut s| s.execute(params![at, user]))
        .db()
        .map(|_| ())
}

pub(crate) fn last_seen(conn: &Connection, users: &[String]) -> Result<Vec<(String, Option<i64>)>> {
    let mut stmt = conn.prepare_cached("SELECT last_seen FROM users WHERE user_id = ?1").db()?;
    let mut found = Vec::with_capacity(users.len());
    for user in users {
        let seen: Option<Option<i64>> = stmt.query_row([user], |r| r.get(0)).optional().db()?;
        if let Some(seen) = seen {
            found.push((user.clone(), seen));
        }
    }
    Ok(in_request_order(users, &found))
}

pub(crate) fn show_last_seen(conn: &Connection, user: &str) -> Result<bool> {
    conn.prepare_cached("SELECT show_last_seen FROM users WHERE user_id = ?1")
        .and_then(|mut s| s.query_row([user], |r| r.get::<_, bool>(0)).optional())
        .db()?
        .ok_or_else(|| Error::UserNotFound(user.to_string()))
}

pub(crate) fn set_show_last_seen(conn: &Connection, user: &str, show: bool) -> Result<()> {
    let changed = conn
        .prepare_cached("UPDATE users SET show_last_seen = ?2 WHERE user_id = ?1")
        .and_then(|mut s| s.execute(params![user, show]))
        .db()?;
    if changed == 0 {
        return Err(Error::UserNotFound(user.to_string()));
    }
    Ok(())
}

pub(crate) fn hiding_last_seen(conn: &Connection, users: &[String]) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT show_last_seen FROM users WHERE user_id = ?1").db()?;
    let mut hiding = Vec::new();
    for user in users {
        let show: Option<bool> = stmt.query_row([user], |r| r.get(0)).optional().db()?;
        if show == Some(false) && !hiding.contains(user) {
            hiding.push(user.clone());
        }
    }
    Ok(hiding)
}

pub(crate) fn contacts_of(conn: &Connection, user: &str, limit: u32) -> Result<Vec<String>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT DISTINCT other.user_id FROM members mine
             JOIN members other ON other.conversation_id = mine.conversation_id
             WHERE mine.user_id = ?1 AND other.user_id != ?1 AND {NOT_BLOCKED_EITHER_WAY} LIMIT ?2"
        ))
        .db()?;
    let rows = stmt.query_map(params![user, limit], |r| r.get(0)).db()?;
    rows.collect::<rusqlite::Result<Vec<String>>>().db()
}

pub(crate) fn contacts_among(conn: &Connection, user: &str, users: &[String]) -> Result<Vec<String>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT EXISTS (SELECT 1 FROM members mine
             JOIN members other ON other.conversation_id = mine.conversation_id
             WHERE mine.user_id = ?1 AND other.user_id = ?2 AND {NOT_BLOCKED_EITHER_WAY})"
        ))
        .db()?;
    let mut found: Vec<String> = Vec::new();
    let mut asked = std::collections::HashSet::with_capacity(users.len());
    for other in users {
        if other == user || !asked.insert(other.as_str()) {
            continue;
        }
        if stmt.query_row(params![user, other], |r| r.get::<_, bool>(0)).db()? {
            found.push(other.clone());
        }
    }
    Ok(found)
}
