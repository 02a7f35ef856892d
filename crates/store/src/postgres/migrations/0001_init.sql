-- Confab PostgreSQL schema, version 1 (same model as the embedded store).
CREATE TABLE users (
    user_id       TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT,
    created_at    BIGINT NOT NULL,
    last_seen     BIGINT
);

CREATE TABLE conversations (
    conversation_id      TEXT PRIMARY KEY,
    kind                 TEXT NOT NULL CHECK (kind IN ('direct', 'group')),
    name                 TEXT,
    direct_key           TEXT UNIQUE,
    only_admins_can_post BOOLEAN NOT NULL DEFAULT FALSE,
    allow_member_invites BOOLEAN NOT NULL DEFAULT FALSE,
    created_at           BIGINT NOT NULL,
    -- The per-conversation sequence. Appends take this row's lock (UPDATE … RETURNING), which
    -- serializes concurrent appends to one conversation across nodes and keeps it gapless.
    last_sequence        BIGINT NOT NULL DEFAULT 0,
    last_activity_at     BIGINT NOT NULL,
    member_count         INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE members (
    conversation_id         TEXT NOT NULL REFERENCES conversations (conversation_id),
    user_id                 TEXT NOT NULL REFERENCES users (user_id),
    role                    TEXT NOT NULL CHECK (role IN ('admin', 'member')),
    joined_at               BIGINT NOT NULL,
    last_read_sequence      BIGINT NOT NULL DEFAULT 0,
    last_delivered_sequence BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, user_id)
);

CREATE INDEX members_by_user ON members (user_id, conversation_id);

CREATE TABLE messages (
    conversation_id TEXT NOT NULL,
    sequence_number BIGINT NOT NULL,
    message_id      TEXT NOT NULL UNIQUE,
    sender_id       TEXT NOT NULL,
    content         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, sequence_number)
);

CREATE TABLE receipt_marks (
    conversation_id TEXT   NOT NULL,
    user_id         TEXT   NOT NULL,
    kind            TEXT   NOT NULL CHECK (kind IN ('delivered', 'read')),
    up_to_sequence  BIGINT NOT NULL,
    at              BIGINT NOT NULL
);

CREATE INDEX receipt_marks_by_sequence ON receipt_marks (conversation_id, kind, up_to_sequence);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
