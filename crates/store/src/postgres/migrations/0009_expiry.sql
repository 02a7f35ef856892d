-- Disappearing messages and retention. A message sent with expiresInSeconds keeps its expiry;
-- the sweeper finds those due through the partial index (tombstones leave it once erased).
ALTER TABLE messages ADD COLUMN expires_at BIGINT;
CREATE INDEX messages_expiring ON messages (expires_at) WHERE expires_at IS NOT NULL AND deleted_at IS NULL;

-- A group's own retention in days (0: only the server's applies), and the newest sequence
-- number retention has removed: the conversation's firstSequence is purged_up_to + 1.
ALTER TABLE conversations ADD COLUMN retention_days INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN purged_up_to BIGINT NOT NULL DEFAULT 0;
