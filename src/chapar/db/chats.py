"""Groups and channels: the chat row, members, the chat's own log and its messages.

A post is one row in chat_messages plus one in chat_updates, whatever the member count
(fan-out on read)."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from chapar.db import bulk
from chapar.db.messages import media_wire
from chapar.domain.persian import normalize
from chapar.domain.rights import Member
from chapar.errors import BadRequest
from chapar.ports.bus import chat_topic
from chapar.ports.store import Row, Tx
from chapar.protocol.types import (
    FwdFrom,
    Message,
    MessageAction,
    Peer,
    Reaction,
    Update,
)

_enc = msgspec.json.Encoder()
_fwd = msgspec.json.Decoder(FwdFrom)
_action = msgspec.json.Decoder(MessageAction)

CHAT_COLS = (
    "id, broadcast, title, about, username, creator_id, pts, last_msg_id, last_msg_date,"
    " members_count, signatures, slow_mode_seconds, pinned_msg_id"
)


@dataclass(frozen=True)
class ChatRow:
    id: int
    broadcast: bool
    title: str
    about: str
    username: str | None
    creator_id: int
    pts: int
    last_msg_id: int
    last_msg_date: int
    members_count: int
    signatures: bool
    slow_mode_seconds: int
    pinned_msg_id: int | None


def _chat(r: Row) -> ChatRow:
    return ChatRow(
        int(r[0]),
        bool(r[1]),
        r[2],
        r[3],
        r[4],
        int(r[5]),
        int(r[6]),
        int(r[7]),
        int(r[8]),
        int(r[9]),
        bool(r[10]),
        int(r[11]),
        r[12],
    )


def create(tx: Tx, broadcast: bool, title: str, about: str, creator_id: int, now: int) -> int:
    r = tx.fetchone("UPDATE counters SET value = value + 1 WHERE name = 'chat_id' RETURNING value")
    assert r is not None
    chat_id = int(r[0])
    tx.execute(
        "INSERT INTO chats (id, broadcast, title, title_norm, about, creator_id, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (chat_id, int(broadcast), title, normalize(title), about, creator_id, now),
    )
    return chat_id


def get(tx: Tx, chat_id: int) -> ChatRow | None:
    r = tx.fetchone(f"SELECT {CHAT_COLS} FROM chats WHERE id = ?", (chat_id,))
    return _chat(r) if r else None


def get_many(tx: Tx, ids: list[int]) -> list[ChatRow]:
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    return [
        _chat(r) for r in tx.fetchall(f"SELECT {CHAT_COLS} FROM chats WHERE id IN ({marks})", ids)
    ]


def by_username(tx: Tx, key: str) -> ChatRow | None:
    r = tx.fetchone(f"SELECT {CHAT_COLS} FROM chats WHERE username_key = ?", (key,))
    return _chat(r) if r else None


def username_taken(tx: Tx, key: str) -> bool:
    """Users and chats share one namespace of usernames, as in Telegram."""
    if tx.fetchone("SELECT 1 FROM chats WHERE username_key = ?", (key,)):
        return True
    return tx.fetchone("SELECT 1 FROM users WHERE username_key = ?", (key,)) is not None


def set_fields(tx: Tx, chat_id: int, **fields: object) -> None:
    if "title" in fields:
        fields["title_norm"] = normalize(str(fields["title"]))
    cols = ", ".join(f"{name} = ?" for name in fields)
    tx.execute(f"UPDATE chats SET {cols} WHERE id = ?", (*fields.values(), chat_id))


# -- members ----------------------------------------------------------------------------
def member(tx: Tx, chat_id: int, user_id: int) -> Member:
    r = tx.fetchone(
        "SELECT role, rights, restrictions, until_date FROM chat_members WHERE chat_id = ? AND user_id = ?",
        (chat_id, user_id),
    )
    if r is None:
        return Member(None)
    return Member(r[0], int(r[1]), int(r[2]), int(r[3]))


def put_member(
    tx: Tx,
    chat_id: int,
    user_id: int,
    role: str,
    now: int,
    inviter_id: int | None = None,
    rights: int = 0,
    restrictions: int = 0,
    until_date: int = 0,
    rank: str = "",
) -> None:
    """Insert or change a member row and keep members_count in step."""
    before = member(tx, chat_id, user_id)
    tx.execute(
        "INSERT INTO chat_members (chat_id, user_id, role, rights, restrictions, until_date, rank,"
        " inviter_id, joined_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (chat_id, user_id) DO UPDATE SET role = excluded.role,"
        " rights = excluded.rights, restrictions = excluded.restrictions,"
        " until_date = excluded.until_date, rank = excluded.rank",
        (chat_id, user_id, role, rights, restrictions, until_date, rank, inviter_id, now),
    )
    _count(tx, chat_id, before.is_member(), role in ("creator", "admin", "member"))


def remove_member(tx: Tx, chat_id: int, user_id: int) -> None:
    before = member(tx, chat_id, user_id)
    tx.execute("DELETE FROM chat_members WHERE chat_id = ? AND user_id = ?", (chat_id, user_id))
    _count(tx, chat_id, before.is_member(), False)


def _count(tx: Tx, chat_id: int, was: bool, now_is: bool) -> None:
    if was != now_is:
        tx.execute(
            "UPDATE chats SET members_count = members_count + ? WHERE id = ?",
            (1 if now_is else -1, chat_id),
        )


def member_chat_ids(tx: Tx, user_id: int) -> list[int]:
    rows = tx.fetchall(
        "SELECT chat_id FROM chat_members WHERE user_id = ? AND role IN ('creator', 'admin', 'member')",
        (user_id,),
    )
    return [int(r[0]) for r in rows]


@dataclass(frozen=True)
class MembershipRow:
    chat_id: int
    role: str
    rights: int
    read_inbox_max_id: int
    last_post_at: int


def memberships(tx: Tx, user_id: int) -> list[MembershipRow]:
    rows = tx.fetchall(
        "SELECT chat_id, role, rights, read_inbox_max_id, last_post_at FROM chat_members"
        " WHERE user_id = ? AND role IN ('creator', 'admin', 'member')",
        (user_id,),
    )
    return [MembershipRow(int(r[0]), r[1], int(r[2]), int(r[3]), int(r[4])) for r in rows]


def read_state(tx: Tx, chat_id: int, user_id: int) -> tuple[int, int]:
    r = tx.fetchone(
        "SELECT read_inbox_max_id, last_post_at FROM chat_members WHERE chat_id = ? AND user_id = ?",
        (chat_id, user_id),
    )
    return (int(r[0]), int(r[1])) if r else (0, 0)


def set_read(tx: Tx, chat_id: int, user_id: int, max_id: int) -> None:
    tx.execute(
        "UPDATE chat_members SET read_inbox_max_id = ? WHERE chat_id = ? AND user_id = ?",
        (max_id, chat_id, user_id),
    )


def set_last_post(tx: Tx, chat_id: int, user_id: int, now: int) -> None:
    bulk.send(
        tx,
        "UPDATE chat_members SET last_post_at = ? WHERE chat_id = ? AND user_id = ?",
        (now, chat_id, user_id),
    )


def participants(
    tx: Tx, chat_id: int, roles: tuple[str, ...], offset: int, limit: int
) -> list[tuple[int, str, int, int, str, int]]:
    marks = ",".join("?" * len(roles))
    rows = tx.fetchall(
        f"SELECT user_id, role, rights, joined_at, rank, until_date FROM chat_members"
        f" WHERE chat_id = ? AND role IN ({marks}) ORDER BY joined_at DESC, user_id LIMIT ? OFFSET ?",
        (chat_id, *roles, limit, offset),
    )
    return [(int(r[0]), r[1], int(r[2]), int(r[3]), r[4], int(r[5])) for r in rows]


def count_role(tx: Tx, chat_id: int, roles: tuple[str, ...]) -> int:
    marks = ",".join("?" * len(roles))
    r = tx.fetchone(
        f"SELECT COUNT(*) FROM chat_members WHERE chat_id = ? AND role IN ({marks})",
        (chat_id, *roles),
    )
    return int(r[0]) if r else 0


# -- the chat's log and messages --------------------------------------------------------
Pushes = list[tuple[str, bytes]]


def next_pts(tx: Tx, chat_id: int) -> int:
    r = tx.fetchone("UPDATE chats SET pts = pts + 1 WHERE id = ? RETURNING pts", (chat_id,))
    if r is None:
        raise BadRequest("CHANNEL_INVALID", "no such chat")
    return int(r[0])


def allocate_message(tx: Tx, chat_id: int, now: int) -> tuple[int, int]:
    """The chat's next pts and message id, in one statement."""
    r = tx.fetchone(
        "UPDATE chats SET pts = pts + 1, last_msg_id = last_msg_id + 1, last_msg_date = ?"
        " WHERE id = ? RETURNING pts, last_msg_id",
        (now, chat_id),
    )
    if r is None:
        raise BadRequest("CHANNEL_INVALID", "no such chat")
    return int(r[0]), int(r[1])


def append(tx: Tx, chat_id: int, pts: int, update: Update, pushes: Pushes) -> None:
    data = _enc.encode(update)
    bulk.send(
        tx,
        "INSERT INTO chat_updates (chat_id, pts, data) VALUES (?, ?, ?)",
        (chat_id, pts, data.decode()),
    )
    pushes.append((chat_topic(chat_id), data))


def read_after(tx: Tx, chat_id: int, pts: int, limit: int) -> list[tuple[int, str]]:
    rows = tx.fetchall(
        "SELECT pts, data FROM chat_updates WHERE chat_id = ? AND pts > ? ORDER BY pts LIMIT ?",
        (chat_id, pts, limit),
    )
    return [(int(r[0]), str(r[1])) for r in rows]


def post_pts(tx: Tx, chat_id: int, msg_id: int) -> int | None:
    """The pts at which a message was posted, for answering a retried send."""
    r = tx.fetchone("SELECT pts FROM chat_messages WHERE chat_id = ? AND id = ?", (chat_id, msg_id))
    return int(r[0]) if r and r[0] else None


MSG_COLS = (
    "chat_id, id, from_id, text, date, edit_date, reply_to_id, fwd_from, action, post_author, views,"
    " media, pts"
)


@dataclass(frozen=True)
class ChatMessageRow:
    chat_id: int
    id: int
    from_id: int
    text: str
    date: int
    edit_date: int | None
    reply_to_id: int | None
    fwd_from: str | None
    action: str | None
    post_author: str | None
    views: int
    media: str | None = None  # JSON of Media, without URLs
    pts: int = 0  # where the post entered the chat's log

    def to_wire(
        self,
        viewer_id: int | None = None,
        reactions: list[Reaction] | None = None,
        broadcast: bool = False,
    ) -> Message:
        return Message(
            id=self.id,
            peer=Peer(chat_id=self.chat_id),
            from_id=self.from_id,
            out=viewer_id is not None and viewer_id == self.from_id,
            text=self.text,
            date=self.date,
            edit_date=self.edit_date,
            reply_to=self.reply_to_id,
            fwd_from=_fwd.decode(self.fwd_from) if self.fwd_from else None,
            action=_action.decode(self.action) if self.action else None,
            post_author=self.post_author,
            views=self.views if broadcast else None,
            reactions=reactions or None,
            media=media_wire(self.media, f"/api/media/c/{self.chat_id}/{self.id}"),
        )


def _msg(r: Row) -> ChatMessageRow:
    return ChatMessageRow(
        int(r[0]), int(r[1]), int(r[2]), r[3], int(r[4]), r[5], r[6], r[7], r[8], r[9], int(r[10]),
        r[11], int(r[12]),
    )  # fmt: skip


def insert_message(tx: Tx, m: ChatMessageRow, random_id: int | None) -> None:
    bulk.send(
        tx,
        "INSERT INTO chat_messages (chat_id, id, from_id, text, date, edit_date, reply_to_id,"
        " random_id, fwd_from, action, post_author, views, media, pts)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            m.chat_id,
            m.id,
            m.from_id,
            m.text,
            m.date,
            m.edit_date,
            m.reply_to_id,
            random_id,
            m.fwd_from,
            m.action,
            m.post_author,
            m.views,
            m.media,
            m.pts,
        ),
    )


_INSERT_MESSAGE_HEAD = (
    "INSERT INTO chat_messages (chat_id, id, from_id, text, date, edit_date, reply_to_id,"
    " random_id, fwd_from, action, post_author, views, media, pts)"
)


def insert_messages(tx: Tx, rows: list[tuple[object, ...]]) -> None:
    """insert_message for many: rows in its column order, random_id included."""
    bulk.insert(tx, _INSERT_MESSAGE_HEAD, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def messages_by_random_ids(
    tx: Tx, keys: list[tuple[int, int, int]]
) -> dict[tuple[int, int, int], ChatMessageRow]:
    """message_by_random_id for many (chat_id, from_id, random_id) keys, by key."""
    rows = bulk.fetch_with(
        tx,
        "q(c, f, r)",
        "(?, ?, ?)",
        keys,
        f"SELECT {MSG_COLS}, random_id FROM q JOIN chat_messages"
        " ON chat_id = q.c AND from_id = q.f AND random_id = q.r",
    )
    return {(int(r[0]), int(r[2]), int(r[13])): _msg(r[:13]) for r in rows}


def members_with_last_post(
    tx: Tx, keys: list[tuple[int, int]]
) -> dict[tuple[int, int], tuple[Member, int]]:
    """member() and read_state()'s last_post_at for many (chat_id, user_id) keys; keys
    without a member row are missing."""
    rows = bulk.fetch_with(
        tx,
        "q(c, u)",
        "(?, ?)",
        keys,
        "SELECT chat_id, user_id, role, rights, restrictions, until_date, last_post_at"
        " FROM q JOIN chat_members ON chat_id = q.c AND user_id = q.u",
    )
    return {
        (int(r[0]), int(r[1])): (Member(r[2], int(r[3]), int(r[4]), int(r[5])), int(r[6]))
        for r in rows
    }


def allocate_messages(tx: Tx, wants: dict[int, tuple[int, int]]) -> dict[int, tuple[int, int]]:
    """allocate_message ``n`` times for each chat (``wants``: chat -> (n, date of the
    last)) in one statement; answers each chat's new (pts, last_msg_id), the highest of
    its range."""
    rows = bulk.fetch_with(
        tx,
        "v(c, n, d)",
        "(?, ?, ?)",
        [(c, n, d) for c, (n, d) in wants.items()],
        "UPDATE chats SET pts = pts + v.n, last_msg_id = last_msg_id + v.n, last_msg_date = v.d"
        " FROM v WHERE chats.id = v.c RETURNING id, pts, last_msg_id",
    )
    return {int(r[0]): (int(r[1]), int(r[2])) for r in rows}


def set_last_posts(tx: Tx, posts: dict[tuple[int, int], int]) -> None:
    """set_last_post for many: (chat_id, user_id) -> time, one entry per member."""
    bulk.send_with(
        tx,
        "v(c, u, t)",
        "(?, ?, ?)",
        [(c, u, t) for (c, u), t in posts.items()],
        "UPDATE chat_members SET last_post_at = v.t FROM v"
        " WHERE chat_members.chat_id = v.c AND chat_members.user_id = v.u",
    )


def append_many(tx: Tx, rows: list[tuple[int, int, str]]) -> None:
    """Already encoded updates, (chat_id, pts, JSON) each, into the chats' logs; the
    caller numbered them and pushes them after commit."""
    bulk.insert(tx, "INSERT INTO chat_updates (chat_id, pts, data)", "(?, ?, ?)", rows)


def encode_json(value: FwdFrom | MessageAction | None) -> str | None:
    return _enc.encode(value).decode() if value is not None else None


def message_by_random_id(
    tx: Tx, chat_id: int, from_id: int, random_id: int
) -> ChatMessageRow | None:
    r = tx.fetchone(
        f"SELECT {MSG_COLS} FROM chat_messages WHERE chat_id = ? AND from_id = ? AND random_id = ?",
        (chat_id, from_id, random_id),
    )
    return _msg(r) if r else None


def get_message(tx: Tx, chat_id: int, msg_id: int) -> ChatMessageRow | None:
    r = tx.fetchone(
        f"SELECT {MSG_COLS} FROM chat_messages WHERE chat_id = ? AND id = ?", (chat_id, msg_id)
    )
    return _msg(r) if r else None


def get_messages(tx: Tx, chat_id: int, ids: list[int]) -> list[ChatMessageRow]:
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = tx.fetchall(
        f"SELECT {MSG_COLS} FROM chat_messages WHERE chat_id = ? AND id IN ({marks})",
        (chat_id, *ids),
    )
    return [_msg(r) for r in rows]


def history(
    tx: Tx, chat_id: int, offset_id: int, add_offset: int, limit: int
) -> list[ChatMessageRow]:
    newer: list[Row] = []
    if add_offset < 0 and offset_id > 0:
        newer = tx.fetchall(
            f"SELECT {MSG_COLS} FROM chat_messages WHERE chat_id = ? AND id >= ? ORDER BY id ASC LIMIT ?",
            (chat_id, offset_id, -add_offset),
        )
        newer.reverse()
    older_limit = limit + add_offset if add_offset < 0 else limit
    upper = offset_id if offset_id > 0 else 2**63 - 1
    older = tx.fetchall(
        f"SELECT {MSG_COLS} FROM chat_messages WHERE chat_id = ? AND id < ?"
        " ORDER BY id DESC LIMIT ? OFFSET ?",
        (chat_id, upper, max(older_limit, 0), max(add_offset, 0)),
    )
    return [_msg(r) for r in newer + older]


def count_messages(tx: Tx, chat_id: int) -> int:
    r = tx.fetchone("SELECT COUNT(*) FROM chat_messages WHERE chat_id = ?", (chat_id,))
    return int(r[0]) if r else 0


def count_unread(tx: Tx, chat_id: int, user_id: int, after_id: int) -> int:
    r = tx.fetchone(
        "SELECT COUNT(*) FROM chat_messages WHERE chat_id = ? AND id > ? AND from_id <> ?",
        (chat_id, after_id, user_id),
    )
    return int(r[0]) if r else 0


def set_message_text(tx: Tx, chat_id: int, msg_id: int, text: str, now: int) -> None:
    tx.execute(
        "UPDATE chat_messages SET text = ?, edit_date = ? WHERE chat_id = ? AND id = ?",
        (text, now, chat_id, msg_id),
    )


def delete_messages(tx: Tx, chat_id: int, ids: list[int]) -> None:
    marks = ",".join("?" * len(ids))
    tx.execute(f"DELETE FROM chat_messages WHERE chat_id = ? AND id IN ({marks})", (chat_id, *ids))
    tx.execute(f"DELETE FROM reactions WHERE chat_id = ? AND msg_id IN ({marks})", (chat_id, *ids))


def add_views(tx: Tx, chat_id: int, ids: list[int]) -> None:
    marks = ",".join("?" * len(ids))
    tx.execute(
        f"UPDATE chat_messages SET views = views + 1 WHERE chat_id = ? AND id IN ({marks})",
        (chat_id, *ids),
    )


# -- reactions --------------------------------------------------------------------------
def set_reaction(tx: Tx, chat_id: int, msg_id: int, user_id: int, emoji: str) -> None:
    if emoji:
        tx.execute(
            "INSERT INTO reactions (chat_id, msg_id, user_id, emoji) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (chat_id, msg_id, user_id) DO UPDATE SET emoji = excluded.emoji",
            (chat_id, msg_id, user_id, emoji),
        )
    else:
        tx.execute(
            "DELETE FROM reactions WHERE chat_id = ? AND msg_id = ? AND user_id = ?",
            (chat_id, msg_id, user_id),
        )


def reactions(tx: Tx, chat_id: int, msg_ids: list[int]) -> dict[int, list[Reaction]]:
    if not msg_ids:
        return {}
    marks = ",".join("?" * len(msg_ids))
    rows = tx.fetchall(
        f"SELECT msg_id, emoji, COUNT(*) FROM reactions WHERE chat_id = ? AND msg_id IN ({marks})"
        " GROUP BY msg_id, emoji ORDER BY msg_id, COUNT(*) DESC, emoji",
        (chat_id, *msg_ids),
    )
    out: dict[int, list[Reaction]] = {}
    for r in rows:
        out.setdefault(int(r[0]), []).append(Reaction(emoji=r[1], count=int(r[2])))
    return out


# -- invites ----------------------------------------------------------------------------
def create_invite(
    tx: Tx, hash_: str, chat_id: int, admin_id: int, now: int, expire: int | None, limit: int | None
) -> None:
    tx.execute(
        "INSERT INTO chat_invites (hash, chat_id, admin_id, created_at, expire_date, usage_limit)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (hash_, chat_id, admin_id, now, expire, limit),
    )


def get_invite(tx: Tx, hash_: str) -> tuple[int, int | None, int | None, int, bool] | None:
    """(chat_id, expire_date, usage_limit, usage, revoked)"""
    r = tx.fetchone(
        "SELECT chat_id, expire_date, usage_limit, usage, revoked FROM chat_invites WHERE hash = ?",
        (hash_,),
    )
    return (int(r[0]), r[1], r[2], int(r[3]), bool(r[4])) if r else None


def use_invite(tx: Tx, hash_: str) -> None:
    tx.execute("UPDATE chat_invites SET usage = usage + 1 WHERE hash = ?", (hash_,))


def revoke_invite(tx: Tx, hash_: str, chat_id: int) -> bool:
    return (
        tx.execute(
            "UPDATE chat_invites SET revoked = 1 WHERE hash = ? AND chat_id = ?", (hash_, chat_id)
        )
        > 0
    )
