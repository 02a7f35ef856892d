-- Uploaded files (their bytes live in the blob store, under the attachment id) and the messages
-- that link them. Links are kept by triggers on `messages`, so every write that adds, erases or
-- removes a message (append, delete for everyone, expiry, retention) updates them in its own
-- transaction: access follows the messages with no window in between.
CREATE TABLE attachments (
    attachment_id   TEXT    PRIMARY KEY,
    uploader_id     TEXT    NOT NULL,
    content_type    TEXT    NOT NULL,
    size            BIGINT  NOT NULL,
    filename        TEXT    NOT NULL,
    sha256          TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    width           INTEGER,
    height          INTEGER,
    has_thumbnail   BOOLEAN NOT NULL,
    -- When a message first linked it: an attachment linked once and linked no more is garbage.
    first_linked_at BIGINT,
    -- Set when a link to it goes: collection looks at these (and at old never-linked uploads)
    -- only, never at every attachment.
    maybe_unlinked  BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE INDEX attachments_maybe_unlinked ON attachments (maybe_unlinked) WHERE maybe_unlinked;
CREATE INDEX attachments_never_linked ON attachments (created_at) WHERE first_linked_at IS NULL;

CREATE TABLE attachment_links (
    attachment_id   TEXT   NOT NULL,
    conversation_id TEXT   NOT NULL,
    sequence_number BIGINT NOT NULL,
    PRIMARY KEY (attachment_id, conversation_id, sequence_number)
);

CREATE INDEX attachment_links_by_message ON attachment_links (conversation_id, sequence_number);

-- Message content is JSON text; only attachment messages carry `attachmentId`. The LIKE guard
-- keeps the JSON parse off text messages, which are nearly all of them.
CREATE FUNCTION confab_attachment_of(content TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN content LIKE '%"attachmentId"%' THEN content::jsonb ->> 'attachmentId' END
$$;

CREATE FUNCTION confab_link_attachment() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    linked TEXT := confab_attachment_of(NEW.content);
BEGIN
    IF linked IS NOT NULL THEN
        INSERT INTO attachment_links (attachment_id, conversation_id, sequence_number)
        VALUES (linked, NEW.conversation_id, NEW.sequence_number) ON CONFLICT DO NOTHING;
        UPDATE attachments SET first_linked_at = COALESCE(first_linked_at, NEW.created_at)
        WHERE attachment_id = linked;
    END IF;
    RETURN NULL;
END
$$;

-- Edits keep the attachment; a tombstone (delete, expiry) has none.
CREATE FUNCTION confab_unlink_attachment() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF confab_attachment_of(OLD.content) IS NOT NULL
       AND (TG_OP = 'DELETE' OR confab_attachment_of(NEW.content) IS NULL) THEN
        DELETE FROM attachment_links
        WHERE conversation_id = OLD.conversation_id AND sequence_number = OLD.sequence_number;
        UPDATE attachments SET maybe_unlinked = TRUE WHERE attachment_id = confab_attachment_of(OLD.content);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER messages_link_attachment AFTER INSERT ON messages
FOR EACH ROW EXECUTE FUNCTION confab_link_attachment();
CREATE TRIGGER messages_unlink_erased_attachment AFTER UPDATE OF content ON messages
FOR EACH ROW EXECUTE FUNCTION confab_unlink_attachment();
CREATE TRIGGER messages_unlink_removed_attachment AFTER DELETE ON messages
FOR EACH ROW EXECUTE FUNCTION confab_unlink_attachment();
