//! Blocking: a user may block another, which ends their direct conversation both ways (the blocked
//! user can neither open it nor send into it; the blocker cannot send there either until they
//! unblock) and their presence both ways. Groups they share are not affected.

use crate::error::{Error, Result};

/// Most users one user may block at once: enough for anyone, and it bounds the list and what a
/// script blocking the whole directory can store.
pub const MAX_BLOCKS: u32 = 1000;

/// What a blocked user is told when they try to open or send into the direct conversation. It says
/// no more than that they cannot (a `403` tells that much anyway).
pub const BLOCKED_MESSAGE: &str = "you cannot message this user";

/// What the blocker is told when they send to the user they block.
pub const BLOCKER_MESSAGE: &str = "you blocked this user; unblock them to send messages";

/// Blocks between a user and the one other member of a direct conversation (the peer), as read
/// with the rows an operation decides on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Blocking {
    /// The user blocks the peer.
    pub blocks_peer: bool,
    /// The peer blocks the user.
    pub blocked_by_peer: bool,
}

impl Blocking {
    /// A block either way.
    pub fn any(self) -> bool {
        self.blocks_peer || self.blocked_by_peer
    }
}

/// What to write for a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockPlan {
    /// Store the block (with the time of this request).
    Insert,
    /// The block exists already: keep it and its time.
    Unchanged,
}

/// Nobody blocks or unblocks themselves.
fn not_self(user: &str, other: &str) -> Result<()> {
    if user == other {
        return Err(Error::InvalidRequest("you cannot block or unblock yourself".into()));
    }
    Ok(())
}

/// `blocker` blocks `blocked`, who must exist (`found`), given whether the block exists already
/// and how many users `blocker` blocks now. Blocking again is a no-op; a new block past
/// [`MAX_BLOCKS`] is `InvalidRequest`.
pub fn block(blocker: &str, blocked: &str, found: bool, already: bool, count: u32) -> Result<BlockPlan> {
    not_self(blocker, blocked)?;
    if !found {
        return Err(Error::UserNotFound(blocked.to_string()));
    }
    if already {
        return Ok(BlockPlan::Unchanged);
    }
    if count >= MAX_BLOCKS {
        return Err(Error::InvalidRequest(format!(
            "you can block at most {MAX_BLOCKS} users; unblock someone first"
        )));
    }
    Ok(BlockPlan::Insert)
}

/// `blocker` unblocks `blocked`, who must exist (`found`). Unblocking someone not blocked is a
/// no-op.
pub fn unblock(blocker: &str, blocked: &str, found: bool) -> Result<()> {
    not_self(blocker, blocked)?;
    if !found {
        return Err(Error::UserNotFound(blocked.to_string()));
    }
    Ok(())
}

/// Whether a user may send into their direct conversation with the peer: not while the peer
/// blocks them, nor while they block the peer. A blocker is told about their own block first (it is
/// theirs to lift), whether or not the peer blocks them too.
pub fn direct_send(blocking: Blocking) -> Result<()> {
    if blocking.blocks_peer {
        return Err(Error::Forbidden(BLOCKER_MESSAGE.into()));
    }
    if blocking.blocked_by_peer {
        return Err(Error::Forbidden(BLOCKED_MESSAGE.into()));
    }
    Ok(())
}

/// Whether a user may open (create or fetch by `POST /conversations`) their direct conversation
/// with the peer: not while the peer blocks them. The blocker may, so they can reach the
/// conversation to unblock from it.
pub fn direct_open(blocking: Blocking) -> Result<()> {
    if blocking.blocked_by_peer {
        return Err(Error::Forbidden(BLOCKED_MESSAGE.into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocking_needs_another_existing_user_and_room() {
        assert_eq!(block("a", "b", true, false, 0), Ok(BlockPlan::Insert));
        assert_eq!(block("a", "b", true, true, MAX_BLOCKS), Ok(BlockPlan::Unchanged), "a repeat is free");
        assert!(matches!(block("a", "a", true, false, 0), Err(Error::InvalidRequest(_))));
        assert_eq!(block("a", "ghost", false, false, 0), Err(Error::UserNotFound("ghost".into())));
        assert!(matches!(block("a", "b", true, false, MAX_BLOCKS), Err(Error::InvalidRequest(_))));
        assert_eq!(block("a", "b", true, false, MAX_BLOCKS - 1), Ok(BlockPlan::Insert));
    }

    #[test]
    fn unblocking_needs_another_existing_user() {
        assert_eq!(unblock("a", "b", true), Ok(()));
        assert!(matches!(unblock("a", "a", true), Err(Error::InvalidRequest(_))));
        assert_eq!(unblock("a", "ghost", false), Err(Error::UserNotFound("ghost".into())));
    }

    #[test]
    fn a_block_either_way_stops_direct_sends() {
        assert_eq!(direct_send(Blocking::default()), Ok(()));
        let by_peer = Blocking { blocked_by_peer: true, blocks_peer: false };
        let of_peer = Blocking { blocked_by_peer: false, blocks_peer: true };
        let both = Blocking { blocked_by_peer: true, blocks_peer: true };
        assert_eq!(direct_send(by_peer), Err(Error::Forbidden(BLOCKED_MESSAGE.into())));
        assert_eq!(direct_send(of_peer), Err(Error::Forbidden(BLOCKER_MESSAGE.into())));
        assert_eq!(direct_send(both), Err(Error::Forbidden(BLOCKER_MESSAGE.into())));
        assert!(by_peer.any() && of_peer.any() && !Blocking::default().any());
    }

    #[test]
    fn only_the_blocked_user_cannot_open_the_conversation() {
        assert_eq!(direct_open(Blocking::default()), Ok(()));
        assert_eq!(direct_open(Blocking { blocks_peer: true, blocked_by_peer: false }), Ok(()));
        assert_eq!(
            direct_open(Blocking { blocks_peer: false, blocked_by_peer: true }),
            Err(Error::Forbidden(BLOCKED_MESSAGE.into()))
        );
    }
}
