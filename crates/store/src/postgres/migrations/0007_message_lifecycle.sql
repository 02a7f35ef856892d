-- The message lifecycle: replies, edits, deletes for everyone, reactions. Every change to an
-- existing message takes the conversation's next update sequence (a second gapless counter next
-- to last_sequence, taken under the conversation row's lock), which the changed message keeps as
-- its update_sequence.
ALTER TABLE conversations ADD COLUMN last_update_sequence BIGINT NOT NULL DEFAULT 0;

ALTER TABLE messages
    ADD COLUMN reply_to TEXT,
    ADD COLUMN reply_to_sequence BIGINT,
    ADD COLUMN edited_at BIGINT,
    -- A deleted message keeps its row as a tombstone: content overwritten, reply and reactions erased.
    ADD COLUMN deleted_at BIGINT,
    -- The reaction summary (JSON: per emoji the exact count and the first users), recounted from
    -- `reactions` on every change so that reads need no join. NULL: no reactions.
    ADD COLUMN reactions TEXT,
    ADD COLUMN update_sequence BIGINT NOT NULL DEFAULT 0;

-- Sync reads the changes after a cursor. Messages never changed are left out of the index, so
-- appends do not pay for it.
CREATE INDEX messages_by_update ON messages (conversation_id, update_sequence) WHERE update_sequence > 0;

CREATE TABLE reactions (
    conversation_id TEXT   NOT NULL,
    sequence_number BIGINT NOT NULL,
    emoji           TEXT   NOT NULL,
    user_id         TEXT   NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, sequence_number, emoji, user_id)
);

-- One user's reactions on one message (the limit per user, "already reacted").
CREATE INDEX reactions_by_user ON reactions (conversation_id, sequence_number, user_id);
