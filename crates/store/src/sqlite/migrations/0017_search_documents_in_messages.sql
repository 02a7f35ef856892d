-- A message carries its search document id itself, and the index keeps the message's key beside
-- its words (unindexed, never searched), so a new message costs the index one row at the end of
-- its own table instead of a row in `message_docs`, that table's index on the key and the
-- AUTOINCREMENT counter. The index keeps no word positions (`detail=column`) and no document
-- lengths (`columnsize=0`): phrases are checked on the window's texts and ranking is computed
-- there too (`confab_core::rules::search`), never by FTS5.
--
-- A document leaves the index by FTS5's `delete` command, which is given the words the document
-- was indexed with: the row's text before the change (`OLD`), which is always what was indexed,
-- since every change to it passes through the trigger below. Only documents in the index are
-- deleted (a `delete` of words never indexed would corrupt it): not deleted, with text, and
-- indexed by an earlier batch.
--
-- Ids come from `search_state.next_doc_id`, which the writer reads when a batch begins and
-- advances when it commits (`search::SearchBatch`): ids are never reused, and their order is the
-- order messages were written. Every message gets one, text or not, so an edit that gives an
-- attachment a caption finds it a place in the index. An edit keeps the id: it stays where it was
-- in the newest-first order.
DROP TRIGGER message_search_insert;
DROP TRIGGER message_search_update;
DROP TRIGGER message_search_delete;

ALTER TABLE messages ADD COLUMN doc_id INTEGER;

CREATE TABLE search_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    next_doc_id INTEGER NOT NULL
);
INSERT INTO search_state (id, next_doc_id)
    SELECT 1, MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'message_docs'), 0),
                  COALESCE((SELECT MAX(doc_id) FROM message_docs), 0)) + 1;

UPDATE messages SET doc_id = (
    SELECT d.doc_id FROM message_docs d
    WHERE d.conversation_id = messages.conversation_id AND d.sequence_number = messages.sequence_number);

-- Messages that had no document (no text, or deleted) get one now, numbered after the rest.
CREATE TEMP TABLE undocumented (
    n               INTEGER PRIMARY KEY,
    conversation_id TEXT    NOT NULL,
    sequence_number INTEGER NOT NULL,
    UNIQUE (conversation_id, sequence_number)
);
INSERT INTO temp.undocumented (conversation_id, sequence_number)
    SELECT conversation_id, sequence_number FROM messages WHERE doc_id IS NULL
    ORDER BY created_at, conversation_id, sequence_number;
UPDATE messages SET doc_id = (SELECT next_doc_id FROM search_state) + (
    SELECT u.n FROM temp.undocumented u
    WHERE u.conversation_id = messages.conversation_id AND u.sequence_number = messages.sequence_number)
WHERE doc_id IS NULL;
UPDATE search_state SET next_doc_id = next_doc_id + (SELECT COUNT(*) FROM temp.undocumented) + 1;
DROP TABLE temp.undocumented;

DROP TABLE message_search;
DROP TABLE message_docs;

CREATE VIRTUAL TABLE message_search USING fts5(
    text,
    cid,
    conversation_id UNINDEXED,
    sequence_number UNINDEXED,
    content = '',
    contentless_unindexed = 1,
    detail = column,
    columnsize = 0,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- Each commit adds one segment; merging 8 of a level at a time rather than 4 rewrites each
-- document fewer times as it moves up the levels.
INSERT INTO message_search (message_search, rank) VALUES ('automerge', 8);

INSERT INTO message_search (rowid, text, cid, conversation_id, sequence_number)
    SELECT doc_id, json_extract(content, '$.text'), hex(conversation_id), conversation_id, sequence_number
    FROM messages
    WHERE deleted_at IS NULL AND json_extract(content, '$.text') IS NOT NULL
    ORDER BY doc_id;

-- A change to a message's text or deletion takes its document out of the index at once and puts
-- the new text back under the same id. Documents of the batch being written are not in the index
-- yet (ids from `next_doc_id` on): the writer indexes them, as they are then, before the batch
-- commits. A change that leaves the text as it was (a reaction) does not touch the index.
CREATE TRIGGER message_search_update AFTER UPDATE OF content, deleted_at ON messages
WHEN OLD.doc_id IS NOT NULL
 AND OLD.doc_id < (SELECT next_doc_id FROM search_state)
 AND (OLD.content IS NOT NEW.content OR OLD.deleted_at IS NOT NEW.deleted_at)
BEGIN
    INSERT INTO message_search (message_search, rowid, text, cid)
        SELECT 'delete', OLD.doc_id, json_extract(OLD.content, '$.text'), hex(OLD.conversation_id)
        WHERE OLD.deleted_at IS NULL AND json_extract(OLD.content, '$.text') IS NOT NULL;
    INSERT INTO message_search (rowid, text, cid, conversation_id, sequence_number)
        SELECT NEW.doc_id, json_extract(NEW.content, '$.text'), hex(NEW.conversation_id),
               NEW.conversation_id, NEW.sequence_number
        WHERE NEW.deleted_at IS NULL AND json_extract(NEW.content, '$.text') IS NOT NULL;
END;

CREATE TRIGGER message_search_delete AFTER DELETE ON messages
WHEN OLD.doc_id IS NOT NULL
 AND OLD.doc_id < (SELECT next_doc_id FROM search_state)
 AND OLD.deleted_at IS NULL
 AND json_extract(OLD.content, '$.text') IS NOT NULL
BEGIN
    INSERT INTO message_search (message_search, rowid, text, cid)
        VALUES ('delete', OLD.doc_id, json_extract(OLD.content, '$.text'), hex(OLD.conversation_id));
END;
