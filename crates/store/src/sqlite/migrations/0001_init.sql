-- Confab embedded schema, version 1.
CREATE TABLE users (
    user_id       TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT,
    created_at    INTEGER NOT NULL,
    last_seen     INTEGER
);

CREATE TABLE conversations (
    conversation_id      TEXT PRIMARY KEY,
    kind                 TEXT NOT NULL CHECK (kind IN ('direct', 'group')),
    name                 TEXT,
    -- Both user ids, ordered: the same pair always finds the same direct conversation.
    direct_key           TEXT UNIQUE,
    only_admins_can_post INTEGER NOT NULL DEFAULT 0,
    allow_member_invites INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    -- The per-conversation sequence: the next message gets last_sequence + 1.
    last_sequence        INTEGER NOT NULL DEFAULT 0,
    last_activity_at     INTEGER NOT NULL,
    member_count         INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE members (
    conversation_id         TEXT NOT NULL REFERENCES conversations (conversation_id),
    user_id                 TEXT NOT NULL REFERENCES users (user_id),
    role                    TEXT NOT NULL CHECK (role IN ('admin', 'member')),
    joined_at               INTEGER NOT NULL,
    last_read_sequence      INTEGER NOT NULL DEFAULT 0,
    last_delivered_sequence INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, user_id)
) WITHOUT ROWID;

CREATE INDEX members_by_user ON members (user_id, conversation_id);

-- The conversation log. Later event kinds (edits, deletes, reactions) are rows here too, so they
-- reach offline devices through the same sequence.
CREATE TABLE messages (
    conversation_id TEXT NOT NULL,
    sequence_number INTEGER NOT NULL,
    message_id      TEXT NOT NULL UNIQUE,
    sender_id       TEXT NOT NULL,
    content         TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, sequence_number)
) WITHOUT ROWID;

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
