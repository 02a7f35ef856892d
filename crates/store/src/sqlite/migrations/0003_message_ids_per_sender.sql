-- A message is identified by its sender and messageId: two senders may pick the same messageId.
-- SQLite cannot drop a column constraint, so the table is rebuilt with the new key.
CREATE TABLE messages_v3 (
    conversation_id TEXT NOT NULL,
    sequence_number INTEGER NOT NULL,
    message_id      TEXT NOT NULL,
    sender_id       TEXT NOT NULL,
    content         TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, sequence_number),
    -- messageId first: the same index serves lookups by messageId alone (reading up to a message,
    -- its receipts), which resolve among every sender's message with that id.
    UNIQUE (message_id, sender_id)
) WITHOUT ROWID;

INSERT INTO messages_v3 (conversation_id, sequence_number, message_id, sender_id, content, created_at)
    SELECT conversation_id, sequence_number, message_id, sender_id, content, created_at FROM messages;

DROP TABLE messages;
ALTER TABLE messages_v3 RENAME TO messages;
