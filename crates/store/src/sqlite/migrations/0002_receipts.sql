-- Every advance of a member's delivered or read marker, with its time: "when did this member first
-- receive / read message N" is the earliest mark at or beyond N.
CREATE TABLE receipt_marks (
    conversation_id TEXT    NOT NULL,
    user_id         TEXT    NOT NULL,
    kind            TEXT    NOT NULL CHECK (kind IN ('delivered', 'read')),
    up_to_sequence  INTEGER NOT NULL,
    at              INTEGER NOT NULL
);

CREATE INDEX receipt_marks_by_sequence ON receipt_marks (conversation_id, kind, up_to_sequence);
