-- Uploaded files (their bytes live in the blob store, under the attachment id) and the messages
-- that link them. Links are kept by triggers on `messages`, so every write that adds, erases or
-- removes a message (append, delete for everyone, expiry, retention) updates them in its own
-- transaction: access follows the messages with no window in between.
CREATE TABLE attachments (
    attachment_id   TEXT    PRIMARY KEY,
    uploader_id     TEXT    NOT NULL,
    content_type    TEXT    NOT NULL,
    size            INTEGER NOT NULL,
    filename        TEXT    NOT NULL,
    sha256          TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    width           INTEGER,
    height          INTEGER,
    has_thumbnail   INTEGER NOT NULL,
    -- When a message first linked it: an attachment linked once and linked no more is garbage.
    first_linked_at INTEGER,
    -- Set when a link to it goes: collection looks at these (and at old never-linked uploads)
    -- only, never at every attachment.
    maybe_unlinked  INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX attachments_maybe_unlinked ON attachments (maybe_unlinked) WHERE maybe_unlinked = 1;
CREATE INDEX attachments_never_linked ON attachments (created_at) WHERE first_linked_at IS NULL;

CREATE TABLE attachment_links (
    attachment_id   TEXT    NOT NULL,
    conversation_id TEXT    NOT NULL,
    sequence_number INTEGER NOT NULL,
    PRIMARY KEY (attachment_id, conversation_id, sequence_number)
) WITHOUT ROWID;

CREATE INDEX attachment_links_by_message ON attachment_links (conversation_id, sequence_number);

CREATE TRIGGER messages_link_attachment AFTER INSERT ON messages
WHEN json_extract(NEW.content, '$.attachmentId') IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO attachment_links (attachment_id, conversation_id, sequence_number)
    VALUES (json_extract(NEW.content, '$.attachmentId'), NEW.conversation_id, NEW.sequence_number);
    UPDATE attachments SET first_linked_at = COALESCE(first_linked_at, NEW.created_at)
    WHERE attachment_id = json_extract(NEW.content, '$.attachmentId');
END;

-- Edits keep the attachment; a tombstone (delete, expiry) has none.
CREATE TRIGGER messages_unlink_erased_attachment AFTER UPDATE OF content ON messages
WHEN json_extract(OLD.content, '$.attachmentId') IS NOT NULL
 AND json_extract(NEW.content, '$.attachmentId') IS NULL
BEGIN
    DELETE FROM attachment_links
    WHERE conversation_id = NEW.conversation_id AND sequence_number = NEW.sequence_number;
    UPDATE attachments SET maybe_unlinked = 1
    WHERE attachment_id = json_extract(OLD.content, '$.attachmentId');
END;

CREATE TRIGGER messages_unlink_removed_attachment AFTER DELETE ON messages
WHEN json_extract(OLD.content, '$.attachmentId') IS NOT NULL
BEGIN
    DELETE FROM attachment_links
    WHERE conversation_id = OLD.conversation_id AND sequence_number = OLD.sequence_number;
    UPDATE attachments SET maybe_unlinked = 1
    WHERE attachment_id = json_extract(OLD.content, '$.attachmentId');
END;
