-- Per-user settings of a dialog, Telegram's way: pinned (up to 5, most recently pinned
-- first) and muted until a unix time. peer_kind 0 is a private chat with the user peer_id,
-- 1 a group or channel. pinned_order 0 means not pinned; a higher order was pinned later.
-- mute_until 0 means not muted. A row with neither is deleted rather than kept.
-- depends: 0011_chat_message_pts

CREATE TABLE dialog_settings (
    user_id BIGINT NOT NULL,
    peer_kind SMALLINT NOT NULL,
    peer_id BIGINT NOT NULL,
    pinned_order BIGINT NOT NULL DEFAULT 0,
    mute_until BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, peer_kind, peer_id)
);
