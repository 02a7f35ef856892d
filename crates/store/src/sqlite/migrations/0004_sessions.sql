-- Revocable sessions: tokens revoked one by one (kept until they expire anyway), and per user a
-- cutoff before which every token is revoked but one (the caller of a password change).
CREATE TABLE revoked_sessions (
    session_id TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX revoked_sessions_by_user ON revoked_sessions (user_id);
CREATE INDEX revoked_sessions_by_expiry ON revoked_sessions (expires_at);

CREATE TABLE session_cutoffs (
    user_id        TEXT PRIMARY KEY,
    revoked_before INTEGER NOT NULL,
    kept_session   TEXT
);
