-- Reports of messages, bans, and the moderation log nodes poll to learn of bans, unbans and
-- revocations written by another process (the `confab admin` command line).
CREATE TABLE reports (
    report_id       TEXT PRIMARY KEY,
    reporter_id     TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    sequence_number BIGINT NOT NULL,
    message_id      TEXT NOT NULL,
    sender_id       TEXT NOT NULL,
    reason          TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
    created_at      BIGINT NOT NULL,
    resolved_at     BIGINT,
    resolved_by     TEXT,
    resolution      TEXT,
    -- One report per reporter and message.
    UNIQUE (reporter_id, conversation_id, sequence_number)
);
CREATE INDEX reports_by_status ON reports (status, report_id);

CREATE TABLE bans (
    user_id   TEXT PRIMARY KEY,
    reason    TEXT NOT NULL,
    until     BIGINT,
    banned_at BIGINT NOT NULL,
    banned_by TEXT
);

-- The log's version counter. Each entry takes the next version by updating this one row, whose
-- lock is held until the entry commits: versions become visible in order, never out of it.
CREATE TABLE moderation_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO moderation_version (id, version) VALUES (1, 0);

CREATE TABLE moderation_log (
    version BIGINT PRIMARY KEY,
    user_id TEXT NOT NULL,
    kind    TEXT NOT NULL CHECK (kind IN ('ban', 'unban', 'sessions')),
    at      BIGINT NOT NULL
);
CREATE INDEX moderation_log_by_time ON moderation_log (at);
