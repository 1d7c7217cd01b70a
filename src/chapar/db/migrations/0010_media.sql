-- Media: resumable uploads in parts, stored files (encrypted, deduplicated by content
-- hash, keys here and never beside the blobs), and the media of messages.
-- depends: 0003_search

INSERT INTO counters (name, value) VALUES ('file_id', 0);

CREATE TABLE secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE uploads (
    user_id BIGINT NOT NULL,
    file_id BIGINT NOT NULL,
    enc_key TEXT NOT NULL,
    enc_iv TEXT NOT NULL,
    total_parts INTEGER,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, file_id)
);

CREATE TABLE upload_parts (
    user_id BIGINT NOT NULL,
    file_id BIGINT NOT NULL,
    n INTEGER NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (user_id, file_id, n)
);

CREATE TABLE files (
    id BIGINT PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    size BIGINT NOT NULL,
    mime_type TEXT NOT NULL,
    enc_key TEXT NOT NULL,
    enc_iv TEXT NOT NULL,
    parts INTEGER NOT NULL,
    part_hashes TEXT NOT NULL,
    width INTEGER,
    height INTEGER,
    uploader_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE media_usage (
    user_id BIGINT NOT NULL,
    day BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    PRIMARY KEY (user_id, day)
);

ALTER TABLE messages ADD COLUMN media TEXT;
ALTER TABLE chat_messages ADD COLUMN media TEXT;
