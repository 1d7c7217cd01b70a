"""Uploads, stored files and their keys, per-user usage, and server secrets."""

from __future__ import annotations

import json
import secrets as pysecrets
from dataclasses import dataclass

from chapar.ports.store import Tx


@dataclass(frozen=True)
class Upload:
    enc_key: bytes
    enc_iv: bytes
    total_parts: int | None


def get_upload(tx: Tx, user_id: int, file_id: int) -> Upload | None:
    r = tx.fetchone(
        "SELECT enc_key, enc_iv, total_parts FROM uploads WHERE user_id = ? AND file_id = ?",
        (user_id, file_id),
    )
    return Upload(bytes.fromhex(r[0]), bytes.fromhex(r[1]), r[2]) if r else None


def start_upload(
    tx: Tx, user_id: int, file_id: int, key: bytes, iv: bytes, total: int | None, now: int
) -> Upload:
    """The upload's keys: the existing ones (a resumed upload) or these new ones."""
    tx.execute(
        "INSERT INTO uploads (user_id, file_id, enc_key, enc_iv, total_parts, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, file_id) DO NOTHING",
        (user_id, file_id, key.hex(), iv.hex(), total, now),
    )
    if total is not None:
        tx.execute(
            "UPDATE uploads SET total_parts = ? WHERE user_id = ? AND file_id = ? AND total_parts IS NULL",
            (total, user_id, file_id),
        )
    up = get_upload(tx, user_id, file_id)
    assert up is not None
    return up


def record_part(tx: Tx, user_id: int, file_id: int, n: int, size: int) -> None:
    tx.execute(
        "INSERT INTO upload_parts (user_id, file_id, n, size) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (user_id, file_id, n) DO UPDATE SET size = excluded.size",
        (user_id, file_id, n, size),
    )


def parts(tx: Tx, user_id: int, file_id: int) -> dict[int, int]:
    rows = tx.fetchall(
        "SELECT n, size FROM upload_parts WHERE user_id = ? AND file_id = ? ORDER BY n",
        (user_id, file_id),
    )
    return {int(r[0]): int(r[1]) for r in rows}


def drop_upload(tx: Tx, user_id: int, file_id: int) -> None:
    tx.execute("DELETE FROM upload_parts WHERE user_id = ? AND file_id = ?", (user_id, file_id))
    tx.execute("DELETE FROM uploads WHERE user_id = ? AND file_id = ?", (user_id, file_id))


@dataclass(frozen=True)
class StoredFile:
    id: int
    sha256: str
    size: int
    mime_type: str
    enc_key: bytes
    enc_iv: bytes
    parts: int
    part_hashes: list[str]
    width: int | None
    height: int | None


FILE_COLS = "id, sha256, size, mime_type, enc_key, enc_iv, parts, part_hashes, width, height"


def _file(r: tuple[object, ...]) -> StoredFile:
    return StoredFile(
        int(str(r[0])), str(r[1]), int(str(r[2])), str(r[3]), bytes.fromhex(str(r[4])),
        bytes.fromhex(str(r[5])), int(str(r[6])), json.loads(str(r[7])),
        None if r[8] is None else int(str(r[8])), None if r[9] is None else int(str(r[9])),
    )  # fmt: skip


def file_by_hash(tx: Tx, sha256: str) -> StoredFile | None:
    r = tx.fetchone(f"SELECT {FILE_COLS} FROM files WHERE sha256 = ?", (sha256,))
    return _file(r) if r else None


def get_file(tx: Tx, file_id: int) -> StoredFile | None:
    r = tx.fetchone(f"SELECT {FILE_COLS} FROM files WHERE id = ?", (file_id,))
    return _file(r) if r else None


def next_file_id(tx: Tx) -> int:
    r = tx.fetchone("UPDATE counters SET value = value + 1 WHERE name = 'file_id' RETURNING value")
    assert r is not None
    return int(r[0])


def insert_file(tx: Tx, f: StoredFile, uploader_id: int, now: int) -> StoredFile:
    """Insert, or return the file already stored with the same content (a race)."""
    existing = file_by_hash(tx, f.sha256)
    if existing is not None:
        return existing
    tx.execute(
        f"INSERT INTO files ({FILE_COLS}, uploader_id, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (f.id, f.sha256, f.size, f.mime_type, f.enc_key.hex(), f.enc_iv.hex(), f.parts,
         json.dumps(f.part_hashes), f.width, f.height, uploader_id, now),
    )  # fmt: skip
    return f


def add_usage(tx: Tx, user_id: int, day: int, nbytes: int) -> int:
    r = tx.fetchone(
        "INSERT INTO media_usage (user_id, day, bytes) VALUES (?, ?, ?)"
        " ON CONFLICT (user_id, day) DO UPDATE SET bytes = media_usage.bytes + excluded.bytes"
        " RETURNING bytes",
        (user_id, day, nbytes),
    )
    assert r is not None
    return int(r[0])


def usage(tx: Tx, user_id: int, day: int) -> int:
    r = tx.fetchone("SELECT bytes FROM media_usage WHERE user_id = ? AND day = ?", (user_id, day))
    return int(r[0]) if r else 0


def secret(tx: Tx, name: str) -> bytes:
    """A server-wide random secret, created on first use and shared by every node."""
    tx.execute(
        "INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        (name, pysecrets.token_hex(32)),
    )
    r = tx.fetchone("SELECT value FROM secrets WHERE name = ?", (name,))
    assert r is not None
    return bytes.fromhex(str(r[0]))
