-- New documents are indexed once per commit instead of once per write: the insert trigger only
-- gives a message its document id, and the writer indexes every document newer than the
-- batch's first in one statement just before the batch commits (`search::index_batch`), still in
-- the transaction that stores the messages. FTS5 writes its pending words to disk whenever a
-- savepoint begins, and every write runs in a savepoint of its own, so indexing inside the write
-- made one index segment per message, and merging them cost more than the rest of the append.
-- Edits and deletes still take their document out of the index at once.
--
-- Document ids are never reused (AUTOINCREMENT), so "newer than the batch's first" holds even
-- after the newest document was deleted, and id order stays the order messages were written.
DROP TRIGGER message_search_insert;
DROP TRIGGER message_search_update;
DROP TRIGGER message_search_delete;

CREATE TABLE message_docs_numbered (
    doc_id          INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT    NOT NULL,
    sequence_number INTEGER NOT NULL,
    UNIQUE (conversation_id, sequence_number)
);
INSERT INTO message_docs_numbered (doc_id, conversation_id, sequence_number)
    SELECT doc_id, conversation_id, sequence_number FROM message_docs;
DROP TABLE message_docs;
ALTER TABLE message_docs_numbered RENAME TO message_docs;

CREATE TRIGGER message_search_insert AFTER INSERT ON messages
WHEN NEW.deleted_at IS NULL AND json_extract(NEW.content, '$.text') IS NOT NULL
BEGIN
    INSERT INTO message_docs (conversation_id, sequence_number)
        VALUES (NEW.conversation_id, NEW.sequence_number);
END;

-- A document not indexed yet (written earlier in the same batch) has nothing in the index to
-- delete: deleting its id there is a no-op.
CREATE TRIGGER message_search_update AFTER UPDATE OF content, deleted_at ON messages
BEGIN
    DELETE FROM message_search WHERE rowid = (
        SELECT doc_id FROM message_docs
        WHERE conversation_id = OLD.conversation_id AND sequence_number = OLD.sequence_number);
    DELETE FROM message_docs
        WHERE conversation_id = OLD.conversation_id AND sequence_number = OLD.sequence_number;
    INSERT INTO message_docs (conversation_id, sequence_number)
        SELECT NEW.conversation_id, NEW.sequence_number
        WHERE NEW.deleted_at IS NULL AND json_extract(NEW.content, '$.text') IS NOT NULL;
END;

CREATE TRIGGER message_search_delete AFTER DELETE ON messages
BEGIN
    DELETE FROM message_search WHERE rowid = (
        SELECT doc_id FROM message_docs
        WHERE conversation_id = OLD.conversation_id AND sequence_number = OLD.sequence_number);
    DELETE FROM message_docs
        WHERE conversation_id = OLD.conversation_id AND sequence_number = OLD.sequence_number;
END;
