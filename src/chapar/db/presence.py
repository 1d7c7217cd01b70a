"""What presence reads from the store: who hears of a user's status, and which ids exist."""

from __future__ import annotations

from collections.abc import Sequence

from chapar.ports.store import Tx


def recent_private_peers(tx: Tx, user_id: int, limit: int) -> list[int]:
    """The people of the user's ``limit`` most recent private chats (not themself)."""
    rows = tx.fetchall(
        "SELECT peer_id FROM dialogs WHERE user_id = ? AND peer_id <> ?"
        " ORDER BY top_date DESC, top_message DESC LIMIT ?",
        (user_id, user_id, limit),
    )
    return [int(r[0]) for r in rows]


def existing_ids(tx: Tx, ids: Sequence[int]) -> set[int]:
    if not ids:
        return set()
    marks = ",".join("?" * len(ids))
    rows = tx.fetchall(f"SELECT id FROM users WHERE id IN ({marks})", tuple(ids))
    return {int(r[0]) for r in rows}
