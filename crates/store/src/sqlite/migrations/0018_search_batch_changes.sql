-- The writer indexes a batch's new messages from the texts it wrote them with, handed to the index
-- from memory (`search::index_batch`), rather than reading every one back. That holds only while
-- none of them changed before the batch commits: an edit, a delete or a removal of a message of
-- the batch being written (ids from `next_doc_id` on) notes it here, and the writer then reads
-- the batch back as it is. Reset when the batch commits.
ALTER TABLE search_state ADD COLUMN batch_changed INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER message_search_batch_update AFTER UPDATE OF content, deleted_at ON messages
WHEN OLD.doc_id IS NOT NULL
 AND OLD.doc_id >= (SELECT next_doc_id FROM search_state)
BEGIN
    UPDATE search_state SET batch_changed = 1;
END;

CREATE TRIGGER message_search_batch_delete AFTER DELETE ON messages
WHEN OLD.doc_id IS NOT NULL
 AND OLD.doc_id >= (SELECT next_doc_id FROM search_state)
BEGIN
    UPDATE search_state SET batch_changed = 1;
END;
