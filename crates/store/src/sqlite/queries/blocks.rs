//! Blocks between users, and the look-ups a block check makes: between two users, and between a
//! direct conversation's sender and its other member (inside the append).

use confab_core::rules::blocks::{self, BlockPlan, Blocking};
use confab_core::Result;
use confab_proto::{BlockedUser, User};
use rusqlite::{params, Connection};

use super::users;
use crate::sqlite::error::SqlResult;

/// `WHERE` condition: neither `?1` nor the user in `other.user_id` blocks the other.
pub(crate) const NOT_BLOCKED_EITHER_WAY: &str = "NOT EXISTS (SELECT 1 FROM blocks
     WHERE (blocker_id = ?1 AND blocked_id = other.user_id) OR (blocker_id = other.user_id AND blocked_id = ?1))";

pub(crate) fn blocking(conn: &Connection, user: &str, peer: &str) -> Result<Blocking> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM blocks WHERE blocker_id = ?1 AND blocked_id = ?2),
                EXISTS (SELECT 1 FROM blocks WHERE blocker_id = ?2 AND blocked_id = ?1)",
    )
    .and_then(|mut s| {
        s.query_row([user, peer], |r| Ok(Blocking { blocks_peer: r.get(0)?, blocked_by_peer: r.get(1)? }))
    })
    .db()
}

/// Blocks between `sender` and the other member of the direct conversation `id` (none when it has
/// no other member).
pub(crate) fn with_direct_peer(conn: &Connection, id: &str, sender: &str) -> Result<Blocking> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM members o JOIN blocks b ON b.blocker_id = ?2 AND b.blocked_id = o.user_id
                        WHERE o.conversation_id = ?1 AND o.user_id != ?2),
                EXISTS (SELECT 1 FROM members o JOIN blocks b ON b.blocker_id = o.user_id AND b.blocked_id = ?2
                        WHERE o.conversation_id = ?1 AND o.user_id != ?2)",
    )
    .and_then(|mut s| {
        s.query_row([id, sender], |r| Ok(Blocking { blocks_peer: r.get(0)?, blocked_by_peer: r.get(1)? }))
    })
    .db()
}

fn count_of(conn: &Connection, blocker: &str) -> Result<u32> {
    conn.prepare_cached("SELECT COUNT(*) FROM blocks WHERE blocker_id = ?1")
        .and_then(|mut s| s.query_row([blocker], |r| r.get(0)))
        .db()
}

pub(crate) fn block(conn: &Connection, blocker: &str, blocked: &str, at: i64) -> Result<bool> {
    let found = !users::existing(conn, [blocked])?.is_empty();
    let already = blocking(conn, blocker, blocked)?.blocks_peer;
    let count = if found && !already { count_of(conn, blocker)? } else { 0 };
    match blocks::block(blocker, blocked, found, already, count)? {
        BlockPlan::Unchanged => Ok(false),
        BlockPlan::Insert => {
            conn.prepare_cached(
                "INSERT INTO blocks (blocker_id, blocked_id, blocked_at) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut s| s.execute(params![blocker, blocked, at]))
            .db()?;
            Ok(true)
        }
    }
}

pub(crate) fn unblock(conn: &Connection, blocker: &str, blocked: &str) -> Result<bool> {
    let found = !users::existing(conn, [blocked])?.is_empty();
    blocks::unblock(blocker, blocked, found)?;
    let removed = conn
        .prepare_cached("DELETE FROM blocks WHERE blocker_id = ?1 AND blocked_id = ?2")
        .and_then(|mut s| s.execute([blocker, blocked]))
        .db()?;
    Ok(removed > 0)
}

pub(crate) fn blocks_of(conn: &Connection, blocker: &str) -> Result<Vec<BlockedUser>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT u.user_id, u.username, u.display_name, b.blocked_at FROM blocks b
             JOIN users u ON u.user_id = b.blocked_id
             WHERE b.blocker_id = ?1 ORDER BY b.blocked_at DESC, u.user_id",
        )
        .db()?;
    let rows = stmt
        .query_map([blocker], |r| {
            Ok(BlockedUser {
                user: User { user_id: r.get(0)?, username: r.get(1)?, display_name: r.get(2)? },
                blocked_at: r.get(3)?,
            })
        })
        .db()?;
    rows.collect::<rusqlite::Result<Vec<_>>>().db()
}
