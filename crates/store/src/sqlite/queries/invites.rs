//! Invite codes: created, listed, revoked, and one use taken per registration.

use confab_core::store::{Invite, InviteRedemption, NewInvite};
use confab_core::{Error, Result};
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::sqlite::error::SqlResult;

const COLUMNS: &str = "invite_id, uses, uses_left, expires_at, created_at, revoked_at";

fn invite_from(r: &Row<'_>) -> rusqlite::Result<Invite> {
    Ok(Invite {
        invite_id: r.get(0)?,
        uses: r.get(1)?,
        uses_left: r.get(2)?,
        expires_at: r.get(3)?,
        created_at: r.get(4)?,
        revoked_at: r.get(5)?,
    })
}

pub(crate) fn create(conn: &Connection, invite: &NewInvite) -> Result<Invite> {
    conn.prepare_cached(
        "INSERT INTO invites (invite_id, code_hash, uses, uses_left, expires_at, created_at)
         VALUES (?1, ?2, ?3, ?3, ?4, ?5)",
    )
    .and_then(|mut s| {
        s.execute(params![
            invite.invite_id,
            invite.code_hash,
            invite.uses,
            invite.expires_at,
            invite.created_at
        ])
    })
    .db()?;
    one(conn, &invite.invite_id)?.ok_or_else(|| Error::Internal("invite not stored".into()))
}

fn one(conn: &Connection, id: &str) -> Result<Option<Invite>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM invites WHERE invite_id = ?1"))
        .and_then(|mut s| s.query_row([id], invite_from).optional())
        .db()
}

pub(crate) fn list(conn: &Connection) -> Result<Vec<Invite>> {
    let mut stmt = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM invites ORDER BY created_at DESC, invite_id"))
        .db()?;
    let rows = stmt.query_map([], invite_from).db()?;
    rows.collect::<rusqlite::Result<Vec<_>>>().db()
}

pub(crate) fn revoke(conn: &Connection, id: &str, at: i64) -> Result<Invite> {
    conn.prepare_cached("UPDATE invites SET revoked_at = COALESCE(revoked_at, ?2) WHERE invite_id = ?1")
        .and_then(|mut s| s.execute(params![id, at]))
        .db()?;
    one(conn, id)?.ok_or_else(|| Error::NotFound("no such invite".into()))
}

/// Takes one use of the invite, if it can be used at `invite.at`; `Forbidden` otherwise.
pub(crate) fn redeem(conn: &Connection, invite: &InviteRedemption) -> Result<()> {
    let taken = conn
        .prepare_cached(
            "UPDATE invites SET uses_left = uses_left - 1
             WHERE code_hash = ?1 AND uses_left > 0 AND revoked_at IS NULL
               AND (expires_at IS NULL OR expires_at > ?2)",
        )
        .and_then(|mut s| s.execute(params![invite.code_hash, invite.at]))
        .db()?;
    if taken == 0 {
        return Err(confab_core::rules::users::invalid_invite());
    }
    Ok(())
}
