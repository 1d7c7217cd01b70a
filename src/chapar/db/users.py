"""Users, usernames and contacts."""

from __future__ import annotations

from collections.abc import Iterable

from chapar.domain.persian import normalize
from chapar.ports.store import Row, Tx
from chapar.protocol.types import User

USER_COLS = "id, phone, first_name, last_name, username"


def _user(row: Row, viewer_id: int, contact_ids: set[int]) -> User:
    uid = int(row[0])
    is_self = uid == viewer_id
    contact = uid in contact_ids
    return User(
        id=uid,
        first_name=row[2],
        last_name=row[3],
        username=row[4],
        phone=row[1] if (is_self or contact) else None,
        is_self=is_self,
        contact=contact,
    )


def _placeholders(n: int) -> str:
    return ",".join("?" * n)


def contact_ids(tx: Tx, owner_id: int, among: Iterable[int]) -> set[int]:
    ids = list(set(among))
    if not ids:
        return set()
    rows = tx.fetchall(
        f"SELECT user_id FROM contacts WHERE owner_id = ? AND user_id IN ({_placeholders(len(ids))})",
        (owner_id, *ids),
    )
    return {int(r[0]) for r in rows}


def load(tx: Tx, viewer_id: int, ids: Iterable[int]) -> list[User]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    rows = tx.fetchall(
        f"SELECT {USER_COLS} FROM users WHERE id IN ({_placeholders(len(wanted))})", wanted
    )
    contacts = contact_ids(tx, viewer_id, wanted)
    return [_user(r, viewer_id, contacts) for r in rows]


def get(tx: Tx, viewer_id: int, user_id: int) -> User | None:
    users = load(tx, viewer_id, [user_id])
    return users[0] if users else None


def exists(tx: Tx, user_id: int) -> bool:
    return tx.fetchone("SELECT 1 FROM users WHERE id = ?", (user_id,)) is not None


def id_by_phone(tx: Tx, phone: str) -> int | None:
    row = tx.fetchone("SELECT id FROM users WHERE phone = ?", (phone,))
    return int(row[0]) if row else None


def id_by_username(tx: Tx, username_key: str) -> int | None:
    row = tx.fetchone("SELECT id FROM users WHERE username_key = ?", (username_key,))
    return int(row[0]) if row else None


def create(tx: Tx, phone: str, first_name: str, last_name: str, now: int) -> int:
    row = tx.fetchone(
        "UPDATE counters SET value = value + 1 WHERE name = 'user_id' RETURNING value"
    )
    assert row is not None
    uid = int(row[0])
    tx.execute(
        "INSERT INTO users (id, phone, first_name, last_name, name_norm, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (uid, phone, first_name, last_name, name_key(first_name, last_name), now),
    )
    return uid


def name_key(first_name: str, last_name: str) -> str:
    return normalize(f"{first_name} {last_name}")


def refresh_name_key(tx: Tx, user_id: int) -> None:
    row = tx.fetchone("SELECT first_name, last_name FROM users WHERE id = ?", (user_id,))
    if row is not None:
        tx.execute(
            "UPDATE users SET name_norm = ? WHERE id = ?", (name_key(row[0], row[1]), user_id)
        )


def about(tx: Tx, user_id: int) -> str:
    row = tx.fetchone("SELECT about FROM users WHERE id = ?", (user_id,))
    return str(row[0]) if row else ""
