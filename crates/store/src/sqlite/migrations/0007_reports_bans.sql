-- Reports of messages, bans, and the moderation log nodes poll to learn of bans, unbans and
-- revocations written by another process (the `confab admin` command line).
CREATE TABLE reports (
    report_id       TEXT PRIMARY KEY,
    reporter_id     TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    sequence_number INTEGER NOT NULL,
    message_id      TEXT NOT NULL,
    sender_id       TEXT NOT NULL,
    reason          TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
    created_at      INTEGER NOT NULL,
    resolved_at     INTEGER,
    resolved_by     TEXT,
    resolution      TEXT,
    -- One report per reporter and message.
    UNIQUE (reporter_id, conversation_id, sequence_number)
);
CREATE INDEX reports_by_status ON reports (status, report_id);

CREATE TABLE bans (
    user_id   TEXT PRIMARY KEY,
    reason    TEXT NOT NULL,
    until     INTEGER,
    banned_at INTEGER NOT NULL,
    banned_by TEXT
);

-- AUTOINCREMENT: versions are never reused, even after old entries are purged.
CREATE TABLE moderation_log (
    version INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    kind    TEXT NOT NULL CHECK (kind IN ('ban', 'unban', 'sessions')),
    at      INTEGER NOT NULL
);
CREATE INDEX moderation_log_by_time ON moderation_log (at);
