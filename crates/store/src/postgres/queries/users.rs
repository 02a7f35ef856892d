//! Users: accounts and the lookups other changes need.

use confab_core::rules::users::search_prefix;
use confab_core::store::{NewUser, UserCredentials};
use confab_core::{Error, Result};
use confab_proto::User;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use crate::postgres::error::PgResult;

fn user_from(r: &Row) -> User {
    User { user_id: r.get(0), username: r.get(1), display_name: r.get(2) }
}

pub(crate) async fn create_user<C: GenericClient>(c: &C, user: &NewUser) -> Result<User> {
    if let Some(invite) = &user.invite {
        // Inside the caller's transaction: a taken username below undoes this too.
        super::invites::redeem(c, invite).await?;
    }
    let inserted = c
        .execute(
            "INSERT INTO users (user_id, username, display_name, password_hash, created_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            &[&user.user_id, &user.username, &user.display_name, &user.password_hash, &user.created_at],
        )
        .await
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

pub(crate) async fn credentials<C: GenericClient>(c: &C, username: &str) -> Result<Option<UserCredentials>> {
    let row = c
        .query_opt(
            "SELECT user_id, username, display_name, password_hash FROM users WHERE username = $1",
            &[&username],
        )
        .await
        .db()?;
    Ok(row.map(|r| UserCredentials { user: user_from(&r), password_hash: r.get(3) }))
}

pub(crate) async fn user<C: GenericClient>(c: &C, user_id: &str) -> Result<Option<User>> {
    let row = c
        .query_opt("SELECT user_id, username, display_name FROM users WHERE user_id = $1", &[&user_id])
        .await
        .db()?;
    Ok(row.map(|r| user_from(&r)))
}

/// Those of `ids` that are users.
pub(crate) async fn existing<'a, C: GenericClient>(
    c: &C,
    ids: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<String>> {
    let ids: Vec<&str> = ids.into_iter().collect();
    let rows = c.query("SELECT user_id FROM users WHERE user_id = ANY($1)", &[&ids]).await.db()?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

pub(crate) async fn search_users<C: GenericClient>(c: &C, prefix: &str, limit: u32) -> Result<Vec<User>> {
    let prefix = search_prefix(prefix);
    let rows = c
        .query(
            "SELECT user_id, username, display_name FROM users
             WHERE left(username, char_length($1)) = $1 ORDER BY username COLLATE \"C\" LIMIT $2",
            &[&prefix, &(limit as i64)],
        )
        .await
        .db()?;
    Ok(rows.iter().map(user_from).collect())
}

pub(crate) async fn set_display_name<C: GenericClient>(
    c: &C,
    user_id: &str,
    display_name: &str,
) -> Result<User> {
    let row = c
        .query_opt(
            "UPDATE users SET display_name = $2 WHERE user_id = $1 RETURNING user_id, username, display_name",
            &[&user_id, &display_name],
        )
        .await
        .db()?;
    row.map(|r| user_from(&r)).ok_or_else(|| Error::UserNotFound(user_id.to_string()))
}

pub(crate) async fn set_password_hash<C: GenericClient>(
    c: &C,
    user_id: &str,
    password_hash: &str,
) -> Result<()> {
    let changed = c
        .execute("UPDATE users SET password_hash = $2 WHERE user_id = $1", &[&user_id, &password_hash])
        .await
        .db()?;
    if changed == 0 {
        return Err(Error::UserNotFound(user_id.to_string()));
    }
    Ok(())
}
