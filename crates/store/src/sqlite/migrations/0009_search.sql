-- Message search. `messages` has no rowid, so each searchable message gets a document id here;
-- the full-text index holds only the words (contentless: the text stays in `messages`, snippets
-- are cut from it), keyed by that id. Case and accents fold away in the tokenizer.
CREATE TABLE message_docs (
    doc_id          INTEGER PRIMARY KEY,
    conversation_id TEXT    NOT NULL,
    sequence_number INTEGER NOT NULL,
    UNIQUE (conversation_id, sequence_number)
);

CREATE VIRTUAL TABLE message_search USING fts5(
    text,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- Only what is searchable has a document: text and captions of messages not deleted. The
-- triggers keep the index in the transaction that writes the message, so an edit is found by its
-- new text and a tombstone is gone from the index when its delete commits.
CREATE TRIGGER message_search_insert AFTER INSERT ON messages
WHEN NEW.deleted_at IS NULL AND json_extract(NEW.content, '$.text') IS NOT NULL
BEGIN
    INSERT INTO message_docs (conversation_id, sequence_number)
        VALUES (NEW.conversation_id, NEW.sequence_number);
    INSERT INTO message_search (rowid, text)
        SELECT doc_id, json_extract(NEW.content, '$.text') FROM message_docs
        WHERE conversation_id = NEW.conversation_id AND sequence_number = NEW.sequence_number;
END;

-- One trigger (the order of several on one event is not defined): the old document goes, a new
-- one comes if the message is still searchable.
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
    INSERT INTO message_search (rowid, text)
        SELECT doc_id, json_extract(NEW.content, '$.text') FROM message_docs
        WHERE conversation_id = NEW.conversation_id AND sequence_number = NEW.sequence_number;
END;

CREATE TRIGGER message_search_delete AFTER DELETE ON messages
BEGIN
    DELETE FROM message_search WHERE rowid = (
        SELECT doc_id FROM message_docs
        WHERE conversation_id = OLD.conversation_id AND sequence_number = OLD.sequence_number);
    DELETE FROM message_docs
        WHERE conversation_id = OLD.conversation_id AND sequence_number = OLD.sequence_number;
END;

-- Messages stored before search existed.
INSERT INTO message_docs (conversation_id, sequence_number)
    SELECT conversation_id, sequence_number FROM messages
    WHERE deleted_at IS NULL AND json_extract(content, '$.text') IS NOT NULL
    ORDER BY conversation_id, sequence_number;
INSERT INTO message_search (rowid, text)
    SELECT d.doc_id, json_extract(m.content, '$.text')
    FROM message_docs d
    JOIN messages m ON m.conversation_id = d.conversation_id AND m.sequence_number = d.sequence_number;
