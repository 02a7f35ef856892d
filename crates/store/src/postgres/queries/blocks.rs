//! Blocks between users, and the look-ups a block check makes: between two users, and (as SQL the
//! append's check embeds) between a direct conversation's sender and its other member.

use confab_core::rules::blocks::{self, BlockPlan, Blocking};
use confab_core::Result;
use confab_proto::{BlockedUser, User};
use deadpool_postgres::GenericClient;

use super::users;
use crate::postgres::error::PgResult;

/// `WHERE` condition: neither `$1` nor the user in `other.user_id` blocks the other.
pub(crate) const NOT_BLOCKED_EITHER_WAY: &str = "NOT EXISTS (SELECT 1 FROM blocks
     WHERE (blocker_id = $1 AND blocked_id = other.user_id) OR (blocker_id = other.user_id AND blocked_id = $1))";

pub(crate) async fn blocking<C: GenericClient>(c: &C, user: &str, peer: &str) -> Result<Blocking> {
    let row = c
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM blocks WHERE blocker_id = $1 AND blocked_id = $2),
                    EXISTS (SELECT 1 FROM blocks WHERE blocker_id = $2 AND blocked_id = $1)",
            &[&user, &peer],
        )
        .await
        .db()?;
    Ok(Blocking { blocks_peer: row.get(0), blocked_by_peer: row.get(1) })
}

pub(crate) async fn block<C: GenericClient>(c: &C, blocker: &str, blocked: &str, at: i64) -> Result<bool> {
    // One user's blocks are decided one at a time (on any node), so the cap holds under a storm.
    // NO KEY UPDATE: others may still block this user meanwhile (their rows only reference it).
    c.execute("SELECT 1 FROM users WHERE user_id = $1 FOR NO KEY UPDATE", &[&blocker]).await.db()?;
    // Whether the pair is blocked and how many the blocker has, read in one statement: an unblock
    // committing between two reads would otherwise pair a count with the pair still in it and an
    // answer without it, and refuse a block the cap allows.
    let (found, state) = tokio::try_join!(users::existing(c, [blocked]), async {
        c.query_one(
            "SELECT EXISTS (SELECT 1 FROM blocks WHERE blocker_id = $1 AND blocked_id = $2),
                    (SELECT COUNT(*) FROM blocks WHERE blocker_id = $1)",
            &[&blocker, &blocked],
        )
        .await
        .db()
    })?;
    let (blocks_peer, count): (bool, i64) = (state.get(0), state.get(1));
    let count = u32::try_from(count).unwrap_or(u32::MAX);
    match blocks::block(blocker, blocked, !found.is_empty(), blocks_peer, count)? {
        BlockPlan::Unchanged => Ok(false),
        BlockPlan::Insert => {
            let inserted = c
                .execute(
                    "INSERT INTO blocks (blocker_id, blocked_id, blocked_at) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING",
                    &[&blocker, &blocked, &at],
                )
                .await
                .db()?;
            Ok(inserted > 0)
        }
    }
}

pub(crate) async fn unblock<C: GenericClient>(c: &C, blocker: &str, blocked: &str) -> Result<bool> {
    let found = users::existing(c, [blocked]).await?;
    blocks::unblock(blocker, blocked, !found.is_empty())?;
    let removed = c
        .execute("DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2", &[&blocker, &blocked])
        .await
        .db()?;
    Ok(removed > 0)
}

pub(crate) async fn blocks_of<C: GenericClient>(c: &C, blocker: &str) -> Result<Vec<BlockedUser>> {
    let rows = c
        .query(
            "SELECT u.user_id, u.username, u.display_name, b.blocked_at FROM blocks b
             JOIN users u ON u.user_id = b.blocked_id
             WHERE b.blocker_id = $1 ORDER BY b.blocked_at DESC, u.user_id",
            &[&blocker],
        )
        .await
        .db()?;
    Ok(rows
        .iter()
        .map(|r| BlockedUser {
            user: User { user_id: r.get(0), username: r.get(1), display_name: r.get(2) },
            blocked_at: r.get(3),
        })
        .collect())
}
