-- Search reads only the caller's conversations: each document also holds its conversation as one
-- word (the id in hex: letters and digits only, so the tokenizer keeps it whole) in a second
-- column, and a search matches `text : (words) AND cid : (the caller's conversations)`, so the
-- index intersects before anything is read from the tables. Document ids stay as they are.
DROP TRIGGER message_search_insert;
DROP TRIGGER message_search_update;
DROP TRIGGER message_search_delete;
DROP TABLE message_search;

CREATE VIRTUAL TABLE message_search USING fts5(
    text,
    cid,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER message_search_insert AFTER INSERT ON messages
WHEN NEW.deleted_at IS NULL AND json_extract(NEW.content, '$.text') IS NOT NULL
BEGIN
    INSERT INTO message_docs (conversation_id, sequence_number)
        VALUES (NEW.conversation_id, NEW.sequence_number);
    INSERT INTO message_search (rowid, text, cid)
        SELECT doc_id, json_extract(NEW.content, '$.text'), hex(NEW.conversation_id) FROM message_docs
        WHERE conversation_id = NEW.conversation_id AND sequence_number = NEW.sequence_number;
END;

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
    INSERT INTO message_search (rowid, text, cid)
        SELECT doc_id, json_extract(NEW.content, '$.text'), hex(NEW.conversation_id) FROM message_docs
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

INSERT INTO message_search (rowid, text, cid)
    SELECT d.doc_id, json_extract(m.content, '$.text'), hex(d.conversation_id)
    FROM message_docs d
    JOIN messages m ON m.conversation_id = d.conversation_id AND m.sequence_number = d.sequence_number;
