-- Groups and channels (Telegram's channel model for both): each chat has its own
-- sequenced log (chat_updates, numbered by chats.pts) and its own message ids
-- (chats.last_msg_id). A post is written once and read by every member (fan-out on read).
-- depends: 0001_core

INSERT INTO counters (name, value) VALUES ('chat_id', 0);

CREATE TABLE chats (
    id BIGINT PRIMARY KEY,
    broadcast SMALLINT NOT NULL,
    title TEXT NOT NULL,
    about TEXT NOT NULL DEFAULT '',
    username TEXT,
    username_key TEXT UNIQUE,
    creator_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    pts BIGINT NOT NULL DEFAULT 0,
    last_msg_id BIGINT NOT NULL DEFAULT 0,
    last_msg_date BIGINT NOT NULL DEFAULT 0,
    members_count INTEGER NOT NULL DEFAULT 0,
    signatures SMALLINT NOT NULL DEFAULT 0,
    slow_mode_seconds INTEGER NOT NULL DEFAULT 0,
    pinned_msg_id BIGINT
);

-- role: creator, admin, member, banned (banned rows keep the user out). Leaving deletes
-- the row. rights: admin rights bitmask; restrictions: what a restricted member may not do.
CREATE TABLE chat_members (
    chat_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    role TEXT NOT NULL,
    rights INTEGER NOT NULL DEFAULT 0,
    restrictions INTEGER NOT NULL DEFAULT 0,
    until_date BIGINT NOT NULL DEFAULT 0,
    rank TEXT NOT NULL DEFAULT '',
    inviter_id BIGINT,
    joined_at BIGINT NOT NULL,
    read_inbox_max_id BIGINT NOT NULL DEFAULT 0,
    last_post_at BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (chat_id, user_id)
);
CREATE INDEX chat_members_user ON chat_members (user_id, chat_id);
CREATE INDEX chat_members_role ON chat_members (chat_id, role);

CREATE TABLE chat_messages (
    chat_id BIGINT NOT NULL,
    id BIGINT NOT NULL,
    from_id BIGINT NOT NULL,
    text TEXT NOT NULL,
    date BIGINT NOT NULL,
    edit_date BIGINT,
    reply_to_id BIGINT,
    random_id BIGINT,
    -- JSON: forward origin, service action; NULL when absent
    fwd_from TEXT,
    action TEXT,
    post_author TEXT,
    views INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (chat_id, id)
);
CREATE UNIQUE INDEX chat_messages_random ON chat_messages (chat_id, from_id, random_id)
    WHERE random_id IS NOT NULL;

CREATE TABLE chat_updates (
    chat_id BIGINT NOT NULL,
    pts BIGINT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (chat_id, pts)
);

CREATE TABLE chat_invites (
    hash TEXT PRIMARY KEY,
    chat_id BIGINT NOT NULL,
    admin_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expire_date BIGINT,
    usage_limit INTEGER,
    usage INTEGER NOT NULL DEFAULT 0,
    revoked SMALLINT NOT NULL DEFAULT 0
);
CREATE INDEX chat_invites_chat ON chat_invites (chat_id);

CREATE TABLE reactions (
    chat_id BIGINT NOT NULL,
    msg_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    emoji TEXT NOT NULL,
    PRIMARY KEY (chat_id, msg_id, user_id)
);

-- Forward origin on private messages too (JSON, NULL when not forwarded).
ALTER TABLE messages ADD COLUMN fwd_from TEXT;

-- Dialogs of every kind are ordered by the date of their last message.
ALTER TABLE dialogs ADD COLUMN top_date BIGINT NOT NULL DEFAULT 0;
CREATE INDEX dialogs_date ON dialogs (user_id, top_date, top_message);
