-- The pts at which each post entered its chat's log, to answer a retried send exactly.
-- depends: 0010_media

ALTER TABLE chat_messages ADD COLUMN pts BIGINT NOT NULL DEFAULT 0;
