"""Versioned schema migrations (yoyo-migrations), applied at start under yoyo's lock so
several nodes starting at once apply each migration exactly once."""

from __future__ import annotations

from pathlib import Path

from yoyo import get_backend, read_migrations

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def apply_migrations(url: str) -> int:
    """Apply every pending migration; return how many were applied."""
    backend = get_backend(url)
    migrations = read_migrations(str(MIGRATIONS_DIR))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    n = len(pending)
    backend.connection.close()
    return n
