-- API keys of application backends (the server API). The key is kept as its SHA-256 (hex): the
-- database never holds a usable key.
CREATE TABLE api_keys (
    key_id     TEXT   PRIMARY KEY,
    name       TEXT   NOT NULL,
    key_hash   TEXT   NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
