-- Whether others may see when a user was last seen (the default) or not.
ALTER TABLE users ADD COLUMN show_last_seen BOOLEAN NOT NULL DEFAULT TRUE;
