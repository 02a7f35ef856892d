-- Users blocking users. The key serves both look-ups a block check makes ("does A block B", and
-- with the ids swapped "does B block A") and the blocker's list.
CREATE TABLE blocks (
    blocker_id TEXT   NOT NULL REFERENCES users (user_id),
    blocked_id TEXT   NOT NULL REFERENCES users (user_id),
    blocked_at BIGINT NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
);
