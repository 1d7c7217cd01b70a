"""The embedded store: SQLite in WAL mode with one writer thread that group-commits.

Why one writer: SQLite allows a single writer at a time, and a commit (an fsync with
``synchronous=FULL``) costs far more than the statements before it. The writer takes every
operation queued while the previous commit ran and commits them together, so the fsync is
paid once per batch instead of once per message. Each operation runs inside its own
SAVEPOINT so a failing one is rolled back alone. Callers are answered only after COMMIT
returned: an acknowledged write is on disk.

Reads run on a small pool of threads, each with its own connection (WAL lets them read a
consistent snapshot while the writer writes).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import structlog

from chapar import metrics
from chapar.adapters.group_commit import (
    Job,
    JobQueue,
    Outcome,
    observe,
    runs,
    settle_threadsafe,
)
from chapar.db.migrate import apply_migrations
from chapar.errors import ChaparError, Conflict, Unavailable
from chapar.ports.store import Params, Row

T = TypeVar("T")
# The least time between the starts of two group commits (JobQueue): batches grow with
# the load instead of paying a commit for every two or three messages at moderate rates.
COMMIT_SPACING = 0.002
log = structlog.get_logger(__name__)


class SqliteTx:
    # One cursor reused for every statement: creating a cursor per statement costs more
    # than a simple indexed statement itself.
    __slots__ = ("_cur",)
    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._cur = conn.cursor()

    def execute(self, sql: str, params: Params = ()) -> int:
        return self._cur.execute(sql, params).rowcount

    def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        row: Row | None = self._cur.execute(sql, params).fetchone()
        return row

    def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return self._cur.execute(sql, params).fetchall()


def _connect(path: Path, synchronous: str) -> sqlite3.Connection:
    # A larger statement cache: the batched writes (db/bulk.py) add a few texts per size.
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, cached_statements=512
    )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA cache_size=-65536")
    # Savepoint journals (one per operation of a group commit) in memory, not temp files.
    conn.execute("PRAGMA temp_store=MEMORY")
    return conn


class SqliteStore:
    def __init__(
        self,
        path: Path,
        *,
        synchronous: str = "FULL",
        readers: int = 2,
        commit_spacing: float = COMMIT_SPACING,
    ) -> None:
        if synchronous.upper() not in {"FULL", "NORMAL", "EXTRA", "OFF"}:
            raise ValueError(f"invalid sqlite synchronous mode {synchronous!r}")
        self.path = path
        self.synchronous = synchronous.upper()
        self._queue = JobQueue(spacing=commit_spacing)
        self._writer: threading.Thread | None = None
        self._readers = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="sqlite-read")
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._loop = asyncio.get_running_loop()
        applied = await asyncio.to_thread(apply_migrations, f"sqlite:///{self.path}")
        log.info("store_opened", engine="sqlite", path=str(self.path), migrations_applied=applied)
        conn = _connect(self.path, self.synchronous)
        self._writer = threading.Thread(
            target=self._write_loop, args=(conn,), name="sqlite-writer", daemon=True
        )
        self._writer.start()
        metrics.STORE_QUEUE.labels("sqlite").set_function(self._queue.qsize)

    # -- writes -------------------------------------------------------------------------
    async def write(self, fn: Callable[[SqliteTx], T]) -> T:
        if self._closed or self._loop is None:
            raise Unavailable("STORE_CLOSED", "the store is not open")
        fut: asyncio.Future[T] = self._loop.create_future()
        self._queue.put(fn, fut)
        return await fut

    def _write_loop(self, conn: sqlite3.Connection) -> None:
        tx = SqliteTx(conn)
        while (batch := self._queue.take()) is not None:
            self._run_batch(conn, tx, batch)
        conn.close()

    def _run_batch(self, conn: sqlite3.Connection, tx: SqliteTx, batch: list[Job]) -> None:
        cur = tx._cur
        outcomes: list[Outcome] = []
        started = time.perf_counter()
        try:
            cur.execute("BEGIN IMMEDIATE")
            for kind, jobs in runs(batch):
                if kind is not None:  # neighbours written together (group_commit.runs)
                    cur.execute("SAVEPOINT op")
                    try:
                        results = kind.run_many(tx, [fn for fn, _ in jobs])
                        group: list[Outcome] = [
                            (fut, r, None) for (_, fut), r in zip(jobs, results, strict=True)
                        ]
                    except Exception as e:  # each one alone, below, gets its own answer
                        cur.execute("ROLLBACK TO op")
                        cur.execute("RELEASE op")
                        log.debug("sqlite_group_run_alone", ops=len(jobs), error=repr(e))
                    else:
                        cur.execute("RELEASE op")
                        outcomes += group
                        continue
                for fn, fut in jobs:
                    cur.execute("SAVEPOINT op")
                    try:
                        result = fn(tx)
                    except BaseException as e:  # the caller gets it; the batch goes on
                        cur.execute("ROLLBACK TO op")
                        cur.execute("RELEASE op")
                        outcomes.append((fut, None, _translate(e)))
                    else:
                        cur.execute("RELEASE op")
                        outcomes.append((fut, result, None))
            cur.execute("COMMIT")
            observe("sqlite", started, len(batch))
        except sqlite3.Error as e:
            metrics.STORE_ERRORS.labels("sqlite").inc()
            log.error("sqlite_commit_failed", error=str(e))
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            err = Unavailable("STORE_UNAVAILABLE", "the store failed to commit; retry")
            outcomes = [(fut, None, err) for _, fut in batch]
        assert self._loop is not None
        settle_threadsafe(self._loop, outcomes)

    # -- reads --------------------------------------------------------------------------
    def _reader_conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path, self.synchronous)
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            with self._lock:
                self._reader_conns.append(conn)
        return conn

    def _run_read(self, fn: Callable[[SqliteTx], T]) -> T:
        conn = self._reader_conn()
        conn.execute("BEGIN")
        try:
            return fn(SqliteTx(conn))
        finally:
            conn.execute("COMMIT")

    async def read(self, fn: Callable[[SqliteTx], T]) -> T:
        if self._closed or self._loop is None:
            raise Unavailable("STORE_CLOSED", "the store is not open")
        try:
            return await self._loop.run_in_executor(self._readers, self._run_read, fn)
        except sqlite3.Error as e:
            log.error("sqlite_read_failed", error=str(e))
            raise Unavailable("STORE_UNAVAILABLE", "the store failed to read; retry") from e

    async def ping(self) -> bool:
        try:
            row = await self.read(lambda tx: tx.fetchone("SELECT 1"))
        except ChaparError:
            return False
        return row == (1,)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.stop()
        if self._writer is not None:
            await asyncio.to_thread(self._writer.join)
        self._readers.shutdown(wait=True)
        with self._lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()


def _translate(e: BaseException) -> BaseException:
    """A uniqueness violation is a lost race, which the services know how to retry."""
    if isinstance(e, sqlite3.IntegrityError) and "UNIQUE" in str(e):
        err = Conflict("CONFLICT", f"a concurrent change won: {e}")
        err.__cause__ = e
        return err
    return e
