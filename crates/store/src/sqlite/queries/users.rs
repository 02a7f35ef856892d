//! Users: accounts and the lookups other changes need.

use confab_core::rules::users::search_prefix;
use confab_core::store::{NewUser, UserCredentials};
use confab_core::{Error, Result};
use confab_proto::User;
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::sqlite::error::SqlResult;

fn user_from(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User { user_id: row.get(0)?, username: row.get(1)?, display_name: row.get(2)? })
}

pub(crate) fn create_user(conn: &Connection, user: &NewUser) -> Result<User> {
    if let Some(invite) = &user.invite {
        // Inside the write's savepoint: a taken username below undoes this too.
        super::invites::redeem(conn, invite)?;
    }
    let inserted = conn
        .prepare_cached(
            "INSERT INTO users (user_id, username, display_name, password_hash, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        )
        .and_then(|mut s| {
            s.execute(params![
                user.user_id,
                user.username,
                user.display_name,
                user.password_hash,
                user.created_at
            ])
        })
        .db()?;
    if inserted == 0 {
        return Err(Error::UsernameTaken);
    }
    Ok(User {
        user_id: user.user_id.clone(),
        username: user.username.clone(),
        display_name: user.display_name.clone(),
    })
}

pub(crate) fn credentials(conn: &Connection, username: &str) -> Result<Option<UserCredentials>> {
    conn.prepare_cached(
        "SELECT user_id, username, display_name, password_hash FROM users WHERE username = ?1",
    )
    .and_then(|mut s| {
        s.query_row([username], |r| Ok(UserCredentials { user: user_from(r)?, password_hash: r.get(3)? }))
            .optional()
    })
    .db()
}

pub(crate) fn user(conn: &Connection, user_id: &str) -> Result<Option<User>> {
    conn.prepare_cached("SELECT user_id, username, display_name FROM users WHERE user_id = ?1")
        .and_then(|mut s| s.query_row([user_id], user_from).optional())
        .db()
}

/// Those of `ids` that are users.
pub(crate) fn existing<'a>(conn: &Connection, ids: impl IntoIterator<Item = &'a str>) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT 1 FROM users WHERE user_id = ?1").db()?;
    let mut found = Vec::new();
    for id in ids {
        if stmt.exists([id]).db()? {
            found.push(id.to_string());
        }
    }
    Ok(found)
}

pub(crate) fn search_users(conn: &Connection, prefix: &str, limit: u32) -> Result<Vec<User>> {
    let prefix = search_prefix(prefix);
    // Usernames use only [a-z0-9_.-], all below '~', so [prefix, prefix + "~") is the prefix range
    // and the unique index on username serves it.
    let upper = format!("{prefix}~");
    let mut stmt = conn
        .prepare_cached(
            "SELECT user_id, username, display_name FROM users
             WHERE username >= ?1 AND username < ?2 ORDER BY username LIMIT ?3",
        )
        .db()?;
    let rows = stmt.query_map(params![prefix, upper, limit], user_from).db()?;
    rows.collect::<rusqlite::Result<Vec<_>>>().db()
}

pub(crate) fn set_display_name(conn: &Connection, user_id: &str, display_name: &str) -> Result<User> {
    let changed = conn
        .prepare_cached("UPDATE users SET display_name = ?2 WHERE user_id = ?1")
        .and_then(|mut s| s.execute(params![user_id, display_name]))
        .db()?;
    if changed == 0 {
        return Err(Error::UserNotFound(user_id.to_string()));
    }
    user(conn, user_id)?.ok_or_else(|| Error::UserNotFound(user_id.to_string()))
}

pub(crate) fn set_password_hash(conn: &Connection, user_id: &str, password_hash: &str) -> Result<()> {
    let changed = conn
        .prepare_cached("UPDATE users SET password_hash = ?2 WHERE user_id = ?1")
        .and_then(|mut s| s.execute(params![user_id, password_hash]))
        .db()?;
    if changed == 0 {
        return Err(Error::UserNotFound(user_id.to_string()));
    }
    Ok(())
}
