-- A message is identified by its sender and messageId: two senders may pick the same messageId.
ALTER TABLE messages DROP CONSTRAINT messages_message_id_key;
-- messageId first: the same index serves lookups by messageId alone (reading up to a message, its
-- receipts), which resolve among every sender's message with that id. One index, as before.
ALTER TABLE messages ADD CONSTRAINT messages_message_id_sender_key UNIQUE (message_id, sender_id);
