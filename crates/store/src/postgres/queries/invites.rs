//! Invite codes: created, listed, revoked, and one use taken per registration (the row lock of
//! the `UPDATE` makes concurrent registrations with the last use take it once).

use confab_core::store::{Invite, InviteRedemption, NewInvite};
use confab_core::{Error, Result};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use crate::postgres::error::PgResult;

const COLUMNS: &str = "invite_id, uses, uses_left, expires_at, created_at, revoked_at";

fn invite_from(r: &Row) -> Invite {
    Invite {
        invite_id: r.get(0),
        uses: r.get::<_, i32>(1).max(0) as u32,
        uses_left: r.get::<_, i32>(2).max(0) as u32,
        expires_at: r.get(3),
        created_at: r.get(4),
        revoked_at: r.get(5),
    }
}

pub(crate) async fn create<C: GenericClient>(c: &C, invite: &NewInvite) -> Result<Invite> {
    let uses = i32::try_from(invite.uses).unwrap_or(i32::MAX);
    let row = c
        .query_one(
            &format!(
                "INSERT INTO invites (invite_id, code_hash, uses, uses_left, expires_at, created_at)
                 VALUES ($1, $2, $3, $3, $4, $5) RETURNING {COLUMNS}"
            ),
            &[&invite.invite_id, &invite.code_hash, &uses, &invite.expires_at, &invite.created_at],
        )
        .await
        .db()?;
    Ok(invite_from(&row))
}

pub(crate) async fn list<C: GenericClient>(c: &C) -> Result<Vec<Invite>> {
    let rows = c
        .query(&format!("SELECT {COLUMNS} FROM invites ORDER BY created_at DESC, invite_id"), &[])
        .await
        .db()?;
    Ok(rows.iter().map(invite_from).collect())
}

pub(crate) async fn revoke<C: GenericClient>(c: &C, id: &str, at: i64) -> Result<Invite> {
    let row = c
        .query_opt(
            &format!(
                "UPDATE invites SET revoked_at = COALESCE(revoked_at, $2) WHERE invite_id = $1 RETURNING {COLUMNS}"
            ),
            &[&id, &at],
        )
        .await
        .db()?;
    row.map(|r| invite_from(&r)).ok_or_else(|| Error::NotFound("no such invite".into()))
}

/// Takes one use of the invite, if it can be used at `invite.at`; `Forbidden` otherwise.
pub(crate) async fn redeem<C: GenericClient>(c: &C, invite: &InviteRedemption) -> Result<()> {
    let taken = c
        .execute(
            "UPDATE invites SET uses_left = uses_left - 1
             WHERE code_hash = $1 AND uses_left > 0 AND revoked_at IS NULL
               AND (expires_at IS NULL OR expires_at > $2)",
            &[&invite.code_hash, &invite.at],
        )
        .await
        .db()?;
    if taken == 0 {
        return Err(confab_core::rules::users::invalid_invite());
    }
    Ok(())
}
