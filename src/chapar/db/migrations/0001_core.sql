-- Core schema: users, sessions, login codes, private messages, the per-user update log.
-- Written in the SQL that SQLite and PostgreSQL share; ids come from the counters table
-- rather than engine-specific autoincrement.

CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('user_id', 1000000);
INSERT INTO counters (name, value) VALUES ('session_id', 0);

CREATE TABLE users (
    id BIGINT PRIMARY KEY,
    phone TEXT NOT NULL UNIQUE,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL DEFAULT '',
    username TEXT,
    username_key TEXT UNIQUE,
    about TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    -- the head of this user's update log and of their message box
    pts BIGINT NOT NULL DEFAULT 0,
    last_msg_id BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE sessions (
    id BIGINT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    device TEXT NOT NULL DEFAULT '',
    app TEXT NOT NULL DEFAULT '',
    ip TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    active_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE login_codes (
    hash TEXT PRIMARY KEY,
    phone TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    used SMALLINT NOT NULL DEFAULT 0
);
CREATE INDEX login_codes_phone ON login_codes (phone, created_at);

-- Private messages are fanned out on write: each side owns a copy in its own message box,
-- numbered by that owner's last_msg_id; peer_msg_id links the two copies.
CREATE TABLE messages (
    owner_id BIGINT NOT NULL,
    id BIGINT NOT NULL,
    peer_id BIGINT NOT NULL,
    from_id BIGINT NOT NULL,
    out SMALLINT NOT NULL,
    text TEXT NOT NULL,
    date BIGINT NOT NULL,
    edit_date BIGINT,
    reply_to_id BIGINT,
    random_id BIGINT,
    peer_msg_id BIGINT,
    -- the pts of the updateNewMessage in the owner's log (answers a repeated random_id)
    pts BIGINT NOT NULL,
    PRIMARY KEY (owner_id, id)
);
CREATE INDEX messages_dialog ON messages (owner_id, peer_id, id);
CREATE UNIQUE INDEX messages_random ON messages (owner_id, random_id) WHERE random_id IS NOT NULL;

CREATE TABLE dialogs (
    user_id BIGINT NOT NULL,
    peer_id BIGINT NOT NULL,
    top_message BIGINT NOT NULL,
    read_inbox_max_id BIGINT NOT NULL DEFAULT 0,
    read_outbox_max_id BIGINT NOT NULL DEFAULT 0,
    unread_count INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, peer_id)
);
CREATE INDEX dialogs_order ON dialogs (user_id, top_message);

-- The durable, sequenced per-user update log (pts). data is the update as JSON.
CREATE TABLE updates (
    user_id BIGINT NOT NULL,
    pts BIGINT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (user_id, pts)
);

CREATE TABLE contacts (
    owner_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (owner_id, user_id)
);
