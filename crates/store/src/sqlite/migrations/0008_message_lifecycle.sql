-- The message lifecycle: replies, edits, deletes for everyone, reactions. Every change to an
-- existing message takes the conversation's next update sequence (a second gapless counter next
-- to last_sequence), which the changed message keeps as its update_sequence.
ALTER TABLE conversations ADD COLUMN last_update_sequence INTEGER NOT NULL DEFAULT 0;

ALTER TABLE messages ADD COLUMN reply_to TEXT;
ALTER TABLE messages ADD COLUMN reply_to_sequence INTEGER;
ALTER TABLE messages ADD COLUMN edited_at INTEGER;
-- A deleted message keeps its row as a tombstone: content overwritten, reply and reactions erased.
ALTER TABLE messages ADD COLUMN deleted_at INTEGER;
-- The reaction summary (JSON: per emoji the exact count and the first users), recounted from
-- `reactions` on every change so that reads need no join. NULL: no reactions.
ALTER TABLE messages ADD COLUMN reactions TEXT;
ALTER TABLE messages ADD COLUMN update_sequence INTEGER NOT NULL DEFAULT 0;

-- Sync reads the changes after a cursor. Messages never changed are left out of the index, so
-- appends do not pay for it.
CREATE INDEX messages_by_update ON messages (conversation_id, update_sequence) WHERE update_sequence > 0;

CREATE TABLE reactions (
    conversation_id TEXT    NOT NULL,
    sequence_number INTEGER NOT NULL,
    emoji           TEXT    NOT NULL,
    user_id         TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, sequence_number, emoji, user_id)
) WITHOUT ROWID;

-- One user's reactions on one message (the limit per user, "already reacted").
CREATE INDEX reactions_by_user ON reactions (conversation_id, sequence_number, user_id);
