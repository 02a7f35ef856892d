//! Delivered and read markers, and the receipts recorded from their advances. A marker move locks
//! the member's row, so two moves of one member (from two nodes) apply one after the other.

use confab_core::rows::{MarkerKind, OtherMarkers};
use confab_core::rules::access::{self, Membership};
use confab_core::rules::markers::{self, MarkerAdvance};
use confab_core::store::{MarkerMove, ReadMove};
use confab_core::Result;
use deadpool_postgres::GenericClient;

use super::{conversations, i, u};
use crate::postgres::error::PgResult;

/// The lowest markers of everyone in `id` but `viewer`.
pub(crate) async fn others<C: GenericClient>(c: &C, id: &str, viewer: &str) -> Result<OtherMarkers> {
    let row = c
        .query_one(
            "SELECT MIN(last_delivered_sequence), MIN(last_read_sequence) FROM members
             WHERE conversation_id = $1 AND user_id != $2",
            &[&id, &viewer],
        )
        .await
        .db()?;
    let (delivered, read): (Option<i64>, Option<i64>) = (row.get(0), row.get(1));
    Ok(OtherMarkers { min_delivered: delivered.map(u), min_read: read.map(u) })
}

async fn locked_membership<C: GenericClient>(c: &C, id: &str, user: &str) -> Result<Membership> {
    let member = conversations::member_locked(c, id, user).await?;
    access::membership(conversations::conversation(c, id).await?, member)
}

async fn write<C: GenericClient>(
    c: &C,
    id: &str,
    user: &str,
    advance: &MarkerAdvance,
    at: i64,
) -> Result<()> {
    let update = match advance.kind {
        MarkerKind::Delivered => {
            "UPDATE members SET last_delivered_sequence = $1 WHERE conversation_id = $2 AND user_id = $3"
        }
        MarkerKind::Read => {
            "UPDATE members SET last_read_sequence = $1 WHERE conversation_id = $2 AND user_id = $3"
        }
    };
    c.execute(update, &[&i(advance.up_to), &id, &user]).await.db()?;
    c.execute(
        "INSERT INTO receipt_marks (conversation_id, user_id, kind, up_to_sequence, at) VALUES ($1, $2, $3, $4, $5)",
        &[&id, &user, &advance.kind.as_str(), &i(advance.up_to), &at],
    )
    .await
    .db()
    .map(|_| ())
}

pub(crate) async fn mark_delivered<C: GenericClient>(
    c: &C,
    id: &str,
    user: &str,
    up_to: u64,
    at: i64,
) -> Result<MarkerMove> {
    let (moved, advance) = markers::deliver(&locked_membership(c, id, user).await?, up_to);
    if let Some(a) = &advance {
        write(c, id, user, a, at).await?;
    }
    Ok(moved)
}

pub(crate) async fn mark_read<C: GenericClient>(
    c: &C,
    id: &str,
    user: &str,
    up_to: u64,
    at: i64,
) -> Result<ReadMove> {
    let (moved, advances) = markers::read(&locked_membership(c, id, user).await?, up_to);
    for a in &advances {
        write(c, id, user, a, at).await?;
    }
    Ok(moved)
}
