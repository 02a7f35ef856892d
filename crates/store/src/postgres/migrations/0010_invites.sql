-- Invite codes for registration by invite only. The code is kept as its SHA-256 (hex): the
-- database never holds a usable code.
CREATE TABLE invites (
    invite_id  TEXT    PRIMARY KEY,
    code_hash  TEXT    NOT NULL UNIQUE,
    uses       INTEGER NOT NULL,
    uses_left  INTEGER NOT NULL,
    expires_at BIGINT,
    created_at BIGINT  NOT NULL,
    revoked_at BIGINT
);
