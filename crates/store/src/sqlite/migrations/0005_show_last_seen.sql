-- Whether others may see when a user was last seen (1, the default) or not (0).
ALTER TABLE users ADD COLUMN show_last_seen INTEGER NOT NULL DEFAULT 1;
