"""Private messages: each side owns a copy in its own box (fan-out on write), linked by
peer_msg_id. Ids are per owner, so a user can only ever name messages of their own box."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from chapar.db import bulk
from chapar.errors import BadRequest
from chapar.ports.store import Row, Tx
from chapar.protocol.types import FwdFrom, Media, Message, Peer

COLS = (
    "owner_id, id, peer_id, from_id, out, text, date, edit_date, reply_to_id, peer_msg_id, pts,"
    " fwd_from, media"
)
_fwd = msgspec.json.Decoder(FwdFrom)
_media = msgspec.json.Decoder(Media)


def media_wire(media_json: str | None, base_url: str) -> Media | None:
    """The stored media with the viewer's download URLs filled in."""
    if not media_json:
        return None
    m = _media.decode(media_json)
    m.url = base_url
    for t in m.thumbs:
        t.url = f"{base_url}?thumb={t.type}"
    return m


@dataclass(frozen=True)
class MessageRow:
    owner_id: int
    id: int
    peer_id: int
    from_id: int
    out: bool
    text: str
    date: int
    edit_date: int | None
    reply_to_id: int | None
    peer_msg_id: int | None
    pts: int
    fwd_from: str | None = None  # JSON of FwdFrom
    media: str | None = None  # JSON of Media, without URLs

    def to_wire(self) -> Message:
        return Message(
            id=self.id,
            peer=Peer(user_id=self.peer_id),
            from_id=self.from_id,
            out=self.out,
            text=self.text,
            date=self.date,
            edit_date=self.edit_date,
            reply_to=self.reply_to_id,
            fwd_from=_fwd.decode(self.fwd_from) if self.fwd_from else None,
            media=media_wire(self.media, f"/api/media/p/{self.id}"),
        )


def _row(r: Row) -> MessageRow:
    return MessageRow(
        int(r[0]),
        int(r[1]),
        int(r[2]),
        int(r[3]),
        bool(r[4]),
        r[5],
        int(r[6]),
        r[7],
        r[8],
        r[9],
        int(r[10]),
        r[11],
        r[12],
    )


def by_random_id(tx: Tx, owner_id: int, random_id: int) -> MessageRow | None:
    r = tx.fetchone(
        f"SELECT {COLS} FROM messages WHERE owner_id = ? AND random_id = ?", (owner_id, random_id)
    )
    return _row(r) if r else None


def get(tx: Tx, owner_id: int, msg_id: int) -> MessageRow | None:
    r = tx.fetchone(
        f"SELECT {COLS} FROM messages WHERE owner_id = ? AND id = ?", (owner_id, msg_id)
    )
    return _row(r) if r else None


def id_by_peer_copy(tx: Tx, owner_id: int, peer_id: int, peer_msg_id: int) -> int | None:
    """The owner's copy of the message the peer holds as peer_msg_id (scans the dialog;
    used only when the peer's own copy, which links to ours, is gone)."""
    r = tx.fetchone(
        "SELECT id FROM messages WHERE owner_id = ? AND peer_id = ? AND peer_msg_id = ?",
        (owner_id, peer_id, peer_msg_id),
    )
    return int(r[0]) if r else None


def get_many(tx: Tx, owner_id: int, ids: list[int]) -> list[MessageRow]:
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = tx.fetchall(
        f"SELECT {COLS} FROM messages WHERE owner_id = ? AND id IN ({marks})", (owner_id, *ids)
    )
    return [_row(r) for r in rows]


def allocate(tx: Tx, user_id: int) -> tuple[int, int]:
    """Take the user's next pts and next message id in one statement. Deleted accounts
    and the system account (users.kind) have no box to write to."""
    r = tx.fetchone(
        "UPDATE users SET pts = pts + 1, last_msg_id = last_msg_id + 1"
        " WHERE id = ? AND kind = 'user' RETURNING pts, last_msg_id",
        (user_id,),
    )
    if r is None:  # the caller's savepoint undoes whatever it did before
        raise BadRequest("PEER_ID_INVALID", "no such user")
    return int(r[0]), int(r[1])


def by_random_ids(tx: Tx, keys: list[tuple[int, int]]) -> dict[tuple[int, int], MessageRow]:
    """The messages already sent under these (owner, random_id) pairs, by pair."""
    rows = bulk.fetch_with(
        tx,
        "q(o, r)",
        "(?, ?)",
        keys,
        f"SELECT {COLS}, random_id FROM q JOIN messages ON owner_id = q.o AND random_id = q.r",
    )
    return {(int(r[0]), int(r[13])): _row(r) for r in rows}


def allocate_many(tx: Tx, counts: dict[int, int]) -> dict[int, tuple[int, int]]:
    """Take ``n`` pts and ``n`` message ids for each user (``counts``: user -> n) in one
    statement; answers each user's new (pts, last_msg_id), the highest of their range.
    Users without a box (see allocate) are missing from the answer."""
    rows = bulk.fetch_with(
        tx,
        "v(uid, n)",
        "(?, ?)",
        list(counts.items()),
        "UPDATE users SET pts = pts + v.n, last_msg_id = last_msg_id + v.n FROM v"
        " WHERE users.id = v.uid AND users.kind = 'user' RETURNING id, pts, last_msg_id",
    )
    return {int(r[0]): (int(r[1]), int(r[2])) for r in rows}


INSERT_HEAD = (
    "INSERT INTO messages (owner_id, id, peer_id, from_id, out, text, date, edit_date,"
    " reply_to_id, random_id, peer_msg_id, pts, fwd_from, media)"
)
INSERT_ROW = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


def insert_many(tx: Tx, rows: list[tuple[object, ...]]) -> None:
    """Rows in INSERT_HEAD's column order, random_id included."""
    bulk.insert(tx, INSERT_HEAD, INSERT_ROW, rows)


def insert(tx: Tx, m: MessageRow, random_id: int | None) -> None:
    tx.execute(
        "INSERT INTO messages (owner_id, id, peer_id, from_id, out, text, date, edit_date,"
        " reply_to_id, random_id, peer_msg_id, pts, fwd_from, media)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            m.owner_id,
            m.id,
            m.peer_id,
            m.from_id,
            int(m.out),
            m.text,
            m.date,
            m.edit_date,
            m.reply_to_id,
            random_id,
            m.peer_msg_id,
            m.pts,
            m.fwd_from,
            m.media,
        ),
    )


def set_text(tx: Tx, owner_id: int, msg_id: int, text: str, edit_date: int) -> None:
    tx.execute(
        "UPDATE messages SET text = ?, edit_date = ? WHERE owner_id = ? AND id = ?",
        (text, edit_date, owner_id, msg_id),
    )


def delete(tx: Tx, owner_id: int, ids: list[int]) -> None:
    marks = ",".join("?" * len(ids))
    tx.execute(f"DELETE FROM messages WHERE owner_id = ? AND id IN ({marks})", (owner_id, *ids))


def history(
    tx: Tx, owner_id: int, peer_id: int, offset_id: int, add_offset: int, limit: int
) -> list[MessageRow]:
    """Telegram's paging: messages below offset_id (0: from the newest), newest first,
    skipping add_offset; a negative add_offset also returns that many at or above offset_id."""
    newer: list[Row] = []
    if add_offset < 0 and offset_id > 0:
        newer = tx.fetchall(
            f"SELECT {COLS} FROM messages WHERE owner_id = ? AND peer_id = ? AND id >= ?"
            " ORDER BY id ASC LIMIT ?",
            (owner_id, peer_id, offset_id, -add_offset),
        )
        newer.reverse()
    # The window is shifted, not refilled: near the newest end it holds fewer than limit
    # (Telegram: offsetFromID(offset_id) + add_offset below 0 is cut off, not wrapped).
    older_limit = limit + add_offset if add_offset < 0 else limit
    upper = offset_id if offset_id > 0 else 2**63 - 1
    older = tx.fetchall(
        f"SELECT {COLS} FROM messages WHERE owner_id = ? AND peer_id = ? AND id < ?"
        " ORDER BY id DESC LIMIT ? OFFSET ?",
        (owner_id, peer_id, upper, max(older_limit, 0), max(add_offset, 0)),
    )
    return [_row(r) for r in newer + older]


def count(tx: Tx, owner_id: int, peer_id: int) -> int:
    r = tx.fetchone(
        "SELECT COUNT(*) FROM messages WHERE owner_id = ? AND peer_id = ?", (owner_id, peer_id)
    )
    return int(r[0]) if r else 0


# -- dialogs ----------------------------------------------------------------------------
@dataclass(frozen=True)
class DialogRow:
    peer_id: int
    top_message: int
    read_inbox_max_id: int
    read_outbox_max_id: int
    unread_count: int
    top_date: int


DIALOG_COLS = "peer_id, top_message, read_inbox_max_id, read_outbox_max_id, unread_count, top_date"


def _dialog(r: Row) -> DialogRow:
    return DialogRow(int(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5]))


_BUMP_HEAD = "INSERT INTO dialogs (user_id, peer_id, top_message, top_date, unread_count)"
_BUMP_TAIL = (
    " ON CONFLICT (user_id, peer_id) DO UPDATE SET top_message = excluded.top_message,"
    " top_date = excluded.top_date,"
    " unread_count = dialogs.unread_count + excluded.unread_count"
)


def bump_dialog(
    tx: Tx, user_id: int, peer_id: int, top_message: int, top_date: int, unread_inc: int
) -> None:
    tx.execute(
        f"{_BUMP_HEAD} VALUES (?, ?, ?, ?, ?){_BUMP_TAIL}",
        (user_id, peer_id, top_message, top_date, unread_inc),
    )


def bump_dialogs(tx: Tx, bumps: dict[tuple[int, int], tuple[int, int, int]]) -> None:
    """bump_dialog for many dialogs at once: (user, peer) -> (top_message, top_date,
    unread_inc). One entry per dialog (PostgreSQL refuses to upsert a row twice in one
    statement): the caller sums the unread increments and keeps the newest top."""
    rows = [(u, p, top, date, inc) for (u, p), (top, date, inc) in bumps.items()]
    bulk.insert(tx, _BUMP_HEAD, "(?, ?, ?, ?, ?)", rows, _BUMP_TAIL)


def get_dialog(tx: Tx, user_id: int, peer_id: int) -> DialogRow | None:
    r = tx.fetchone(
        f"SELECT {DIALOG_COLS} FROM dialogs WHERE user_id = ? AND peer_id = ?", (user_id, peer_id)
    )
    return _dialog(r) if r else None


def list_dialogs(
    tx: Tx, user_id: int, before: tuple[int, int] | None, limit: int
) -> list[DialogRow]:
    """Newest first by (top_date, top_message), strictly below ``before`` when given."""
    date, top = before if before is not None else (2**63 - 1, 2**63 - 1)
    rows = tx.fetchall(
        f"SELECT {DIALOG_COLS} FROM dialogs WHERE user_id = ?"
        " AND (top_date < ? OR (top_date = ? AND top_message < ?))"
        " ORDER BY top_date DESC, top_message DESC LIMIT ?",
        (user_id, date, date, top, limit),
    )
    return [_dialog(r) for r in rows]


def count_unread(tx: Tx, user_id: int, peer_id: int, after_id: int) -> int:
    r = tx.fetchone(
        "SELECT COUNT(*) FROM messages WHERE owner_id = ? AND peer_id = ? AND out = 0 AND id > ?",
        (user_id, peer_id, after_id),
    )
    return int(r[0]) if r else 0


def set_read_inbox(tx: Tx, user_id: int, peer_id: int, max_id: int, unread: int) -> None:
    tx.execute(
        "UPDATE dialogs SET read_inbox_max_id = ?, unread_count = ? WHERE user_id = ? AND peer_id = ?",
        (max_id, unread, user_id, peer_id),
    )


def set_read_outbox(tx: Tx, user_id: int, peer_id: int, max_id: int) -> None:
    tx.execute(
        "UPDATE dialogs SET read_outbox_max_id = ? WHERE user_id = ? AND peer_id = ?",
        (max_id, user_id, peer_id),
    )


def max_peer_copy_read(tx: Tx, user_id: int, peer_id: int, max_id: int) -> int | None:
    """The highest id in the peer's box of the messages this user has now read."""
    r = tx.fetchone(
        "SELECT MAX(peer_msg_id) FROM messages WHERE owner_id = ? AND peer_id = ? AND out = 0 AND id <= ?",
        (user_id, peer_id, max_id),
    )
    return int(r[0]) if r and r[0] is not None else None


def refresh_dialog(tx: Tx, user_id: int, peer_id: int) -> None:
    """After deletions: new top message and unread count; drop the dialog when empty."""
    r = tx.fetchone(
        "SELECT id, date FROM messages WHERE owner_id = ? AND peer_id = ? ORDER BY id DESC LIMIT 1",
        (user_id, peer_id),
    )
    if r is None:
        tx.execute("DELETE FROM dialogs WHERE user_id = ? AND peer_id = ?", (user_id, peer_id))
        return
    d = get_dialog(tx, user_id, peer_id)
    read_in = d.read_inbox_max_id if d else 0
    tx.execute(
        "UPDATE dialogs SET top_message = ?, top_date = ?, unread_count = ?"
        " WHERE user_id = ? AND peer_id = ?",
        (int(r[0]), int(r[1]), count_unread(tx, user_id, peer_id, read_in), user_id, peer_id),
    )
