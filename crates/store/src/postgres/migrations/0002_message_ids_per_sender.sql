-- A message is identified by its sender and messageId: two senders may pick the same messageId.
ALTER TABLE messages DROP CONSTRAINT messages_message_id_key;
ALTER TABLE messages ADD CONSTRAINT messages_sender_message_id_key UNIQUE (sender_id, message_id);

-- Lookups by messageId alone (reading up to a message, its receipts) resolve among every sender's
-- message with that id.
CREATE INDEX messages_by_message_id ON messages (message_id, conversation_id);
