"""The per-user update log: append in the writer's transaction, read back by pts."""

from __future__ import annotations

import msgspec

from chapar.db import bulk
from chapar.errors import NotFound
from chapar.ports.bus import user_topic
from chapar.ports.store import Tx
from chapar.protocol.types import Update

_enc = msgspec.json.Encoder()

# (bus topic, encoded update) pairs a write produced, to be pushed after commit.
Pushes = list[tuple[str, bytes]]


def next_pts(tx: Tx, user_id: int) -> int:
    row = tx.fetchone("UPDATE users SET pts = pts + 1 WHERE id = ? RETURNING pts", (user_id,))
    if row is None:
        raise NotFound("USER_ID_INVALID", "no such user")
    return int(row[0])


def append(tx: Tx, user_id: int, pts: int, update: Update, pushes: Pushes) -> bytes:
    """Store an update the caller numbered with pts (from next_pts or a combined counter)."""
    data = _enc.encode(update)
    bulk.send(
        tx,
        "INSERT INTO updates (user_id, pts, data) VALUES (?, ?, ?)",
        (user_id, pts, data.decode()),
    )
    pushes.append((user_topic(user_id), data))
    return data


def append_many(tx: Tx, rows: list[tuple[int, int, str]]) -> None:
    """Store already encoded updates, (user_id, pts, JSON) each, in as few statements as
    possible; the caller numbered them and pushes them after commit."""
    bulk.insert(tx, "INSERT INTO updates (user_id, pts, data)", "(?, ?, ?)", rows)


def current_pts(tx: Tx, user_id: int) -> int:
    row = tx.fetchone("SELECT pts FROM users WHERE id = ?", (user_id,))
    return int(row[0]) if row else 0


def read_after(tx: Tx, user_id: int, pts: int, limit: int) -> list[tuple[int, str]]:
    return [
        (int(r[0]), str(r[1]))
        for r in tx.fetchall(
            "SELECT pts, data FROM updates WHERE user_id = ? AND pts > ? ORDER BY pts LIMIT ?",
            (user_id, pts, limit),
        )
    ]
