-- Push notifications: members' mutes, devices' subscriptions, messages waiting to be turned into
-- pushes (written by a trigger in the message's own transaction, so a committed message is pushed
-- even when its node dies at once), and the pending pushes per device and conversation.
ALTER TABLE members ADD COLUMN muted_until INTEGER;

CREATE TABLE push_subscriptions (
    subscription_id TEXT    PRIMARY KEY,
    user_id         TEXT    NOT NULL,
    device_id       TEXT    NOT NULL,
    kind            TEXT    NOT NULL CHECK (kind IN ('webpush', 'fcm', 'apns', 'webhook')),
    endpoint        TEXT,
    p256dh          TEXT,
    auth            TEXT,
    token           TEXT,
    created_at      INTEGER NOT NULL,
    UNIQUE (user_id, device_id, kind)
);

-- Only while some device is subscribed: a server without push pays nothing per message.
CREATE TABLE push_outbox (
    id              INTEGER PRIMARY KEY,
    conversation_id TEXT    NOT NULL,
    sequence_number INTEGER NOT NULL
);

CREATE TRIGGER messages_push AFTER INSERT ON messages
WHEN EXISTS (SELECT 1 FROM push_subscriptions)
BEGIN
    INSERT INTO push_outbox (conversation_id, sequence_number) VALUES (NEW.conversation_id, NEW.sequence_number);
END;

-- `count` messages wait for a push due at `due_at`, the newest at `sequence_number`; a row with
-- none waiting remembers `last_sent_at` until its coalescing window is over.
CREATE TABLE push_pending (
    user_id         TEXT    NOT NULL,
    device_id       TEXT    NOT NULL,
    conversation_id TEXT    NOT NULL,
    count           INTEGER NOT NULL,
    sequence_number INTEGER NOT NULL,
    due_at          INTEGER NOT NULL,
    last_sent_at    INTEGER,
    claimed_by      TEXT,
    claimed_until   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, device_id, conversation_id)
) WITHOUT ROWID;

CREATE INDEX push_pending_due ON push_pending (due_at) WHERE count > 0;
CREATE INDEX push_pending_spent ON push_pending (last_sent_at) WHERE count = 0;
