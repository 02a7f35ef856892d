-- Search walks each of the caller's conversations newest first when the words are common (see
-- `queries/search.rs`): this index hands out one conversation's messages by time, so merging
-- them stops after the window instead of reading and sorting every match.
CREATE INDEX messages_by_time ON messages (conversation_id, created_at);
