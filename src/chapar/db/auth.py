"""Login codes and sessions. Codes and tokens are stored only as hashes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from chapar.ports.store import Tx


def code_digest(phone_code_hash: str, code: str) -> str:
    # Salted by the per-request phone_code_hash, so equal codes never hash alike.
    return hashlib.sha256(f"{phone_code_hash}:{code}".encode()).hexdigest()


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class CodeRow:
    hash: str
    phone: str
    code_hash: str
    created_at: int
    expires_at: int
    attempts: int
    used: bool


def latest_code_at(tx: Tx, phone: str) -> int | None:
    row = tx.fetchone(
        "SELECT MAX(created_at) FROM login_codes WHERE phone = ? AND used = 0", (phone,)
    )
    return int(row[0]) if row and row[0] is not None else None


def insert_code(tx: Tx, hash_: str, phone: str, code: str, now: int, ttl: int) -> None:
    # A new code replaces the number's earlier ones.
    tx.execute("DELETE FROM login_codes WHERE phone = ? OR expires_at < ?", (phone, now - 86400))
    tx.execute(
        "INSERT INTO login_codes (hash, phone, code_hash, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (hash_, phone, code_digest(hash_, code), now, now + ttl),
    )


def get_code(tx: Tx, hash_: str) -> CodeRow | None:
    row = tx.fetchone(
        "SELECT hash, phone, code_hash, created_at, expires_at, attempts, used"
        " FROM login_codes WHERE hash = ?",
        (hash_,),
    )
    if row is None:
        return None
    return CodeRow(row[0], row[1], row[2], int(row[3]), int(row[4]), int(row[5]), bool(row[6]))


def count_attempt(tx: Tx, hash_: str) -> None:
    tx.execute("UPDATE login_codes SET attempts = attempts + 1 WHERE hash = ?", (hash_,))


def mark_used(tx: Tx, hash_: str) -> None:
    tx.execute("UPDATE login_codes SET used = 1 WHERE hash = ?", (hash_,))


def create_session(
    tx: Tx, user_id: int, token: str, device: str, app: str, ip: str, now: int
) -> int:
    row = tx.fetchone(
        "UPDATE counters SET value = value + 1 WHERE name = 'session_id' RETURNING value"
    )
    assert row is not None
    sid = int(row[0])
    tx.execute(
        "INSERT INTO sessions (id, user_id, token_hash, device, app, ip, created_at, active_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (sid, user_id, token_digest(token), device, app, ip, now, now),
    )
    return sid


def session_by_token(tx: Tx, token: str) -> tuple[int, int] | None:
    row = tx.fetchone(
        "SELECT id, user_id FROM sessions WHERE token_hash = ?", (token_digest(token),)
    )
    return (int(row[0]), int(row[1])) if row else None


def list_sessions(tx: Tx, user_id: int) -> list[tuple[int, str, str, str, int, int]]:
    rows = tx.fetchall(
        "SELECT id, device, app, ip, created_at, active_at FROM sessions WHERE user_id = ?"
        " ORDER BY id",
        (user_id,),
    )
    return [(int(r[0]), r[1], r[2], r[3], int(r[4]), int(r[5])) for r in rows]


def delete_session(tx: Tx, user_id: int, session_id: int) -> bool:
    return (
        tx.execute("DELETE FROM sessions WHERE id = ? AND user_id = ?", (session_id, user_id)) > 0
    )


def touch_session(tx: Tx, session_id: int, now: int) -> None:
    tx.execute("UPDATE sessions SET active_at = ? WHERE id = ?", (now, session_id))
