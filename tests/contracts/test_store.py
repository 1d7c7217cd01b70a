"""The contract every Store adapter must pass (GUIDE §2: one suite per port)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import psycopg
import pytest

from chapar.adapters.postgres.store import PostgresStore
from chapar.adapters.sqlite.store import SqliteStore
from chapar.errors import BadRequest, Unavailable
from chapar.ports.store import Store, Tx

PG_URL = os.environ.get("CHAPAR_TEST_POSTGRES_URL")


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        s: SqliteStore | PostgresStore = SqliteStore(tmp_path / "db.sqlite3", synchronous="NORMAL")
        await s.open()
        yield s
        await s.close()
        return
    if not PG_URL:
        pytest.skip("set CHAPAR_TEST_POSTGRES_URL to run the store contract on PostgreSQL")
    # A schema of its own per test: the shared database stays clean and tests independent.
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    s = PostgresStore(f"{PG_URL}?schema={schema}")
    try:
        await s.open()
        yield s
    finally:
        await s.close()
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def _counter(tx: Tx) -> int:
    row = tx.fetchone("SELECT value FROM counters WHERE name = 'user_id'")
    assert row is not None
    return int(row[0])


def _bump(tx: Tx) -> int:
    row = tx.fetchone(
        "UPDATE counters SET value = value + 1 WHERE name = 'user_id' RETURNING value"
    )
    assert row is not None
    return int(row[0])


async def test_write_then_read_sees_it(store: Store) -> None:
    before = await store.read(_counter)
    after = await store.write(_bump)
    assert after == before + 1
    assert await store.read(_counter) == after


async def test_concurrent_writes_are_serialised_without_loss(store: Store) -> None:
    before = await store.read(_counter)
    results = await asyncio.gather(*(store.write(_bump) for _ in range(300)))
    assert sorted(results) == list(range(before + 1, before + 301))
    assert await store.read(_counter) == before + 300


async def test_a_failing_operation_is_rolled_back_alone(store: Store) -> None:
    before = await store.read(_counter)

    def bump_then_fail(tx: Tx) -> int:
        _bump(tx)
        raise BadRequest("NOPE", "refused")

    ops: list[Callable[[Tx], int]] = [_bump, bump_then_fail, _bump]
    outcomes = await asyncio.gather(*(store.write(op) for op in ops), return_exceptions=True)
    assert isinstance(outcomes[1], BadRequest)
    assert not isinstance(outcomes[0], BaseException) and not isinstance(outcomes[2], BaseException)
    assert await store.read(_counter) == before + 2


async def test_constraint_violation_reaches_the_caller_and_changes_nothing(store: Store) -> None:
    def insert_user(tx: Tx) -> None:
        tx.execute(
            "INSERT INTO users (id, phone, first_name, created_at) VALUES (?, ?, ?, ?)",
            (42, "+989120000000", "A", 0),
        )

    await store.write(insert_user)
    with pytest.raises(Exception, match=r"(?i)unique"):
        await store.write(insert_user)
    rows = await store.read(
        lambda tx: tx.fetchall("SELECT id FROM users WHERE phone = ?", ("+989120000000",))
    )
    assert rows == [(42,)]


async def test_ping_and_closed_store(store: Store) -> None:
    assert await store.ping() is True
    await store.close()
    with pytest.raises(Unavailable):
        await store.write(_bump)
    assert await store.ping() is False


async def test_reads_cannot_write(store: Store) -> None:
    before = await store.read(_counter)
    with pytest.raises(Exception):  # noqa: B017 - adapters word it differently
        await store.read(_bump)
    assert await store.read(_counter) == before
