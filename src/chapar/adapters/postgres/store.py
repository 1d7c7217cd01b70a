"""The PostgreSQL store (psycopg 3): the same SQL functions as SQLite, the same contract.

Why psycopg 3 in threads rather than asyncpg: the services hand the store plain
functions ``fn(tx)`` that run many statements inside one transaction; running them on a
writer thread keeps one body of SQL for both engines and lets this adapter group-commit
exactly like the SQLite one (many operations, one COMMIT), which is what makes durable
writes cheap on a real disk.

One writer connection per node (``writers=1``) serialises this node's writes, so the row
locks a batch takes cannot deadlock against each other; writes from other nodes interleave
at row-lock granularity. Reads use a pool of read-only connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
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
log = structlog.get_logger(__name__)


@functools.lru_cache(maxsize=4096)
def pg_sql(sql: str) -> str:
    """Rewrite the shared dialect's ``?`` placeholders as PostgreSQL's own ``$1, $2, …``.

    The connections use psycopg's RawCursor, which sends the text as it is: psycopg's
    ``%s`` queries are parsed on the client, and for statements of more than 50
    parameters (the multi-row inserts of db/bulk.py) on every execution, uncached."""
    parts = sql.split("?")
    if len(parts) == 1:
        return sql
    out = [parts[0]]
    for i, part in enumerate(parts[1:], 1):
        out += (f"${i}", part)
    return "".join(out)


def split_url(url: str) -> tuple[str, str | None]:
    """Return (libpq URL, schema); ``?schema=name`` selects a schema (as in yoyo)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    schema = query.pop("schema", None)
    scheme = "postgresql" if parts.scheme.startswith("postgres") else parts.scheme
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(query), "")), schema


# Another node's batch locked rows in the opposite order (or changed them first):
# PostgreSQL cancels one statement of one side. Only that operation is undone, and it
# fails with Conflict, which the services retry (Deps.transact) in a later batch, once
# this commit has released what the other side waits for. Failing the whole batch, as
# for a lost connection, would refuse every operation in it with a 503.
_LOST_RACE = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)
# Operational errors that end one operation, not the connection: a lost race, and the
# statements the server skipped after an operation's error (pipeline mode).
_OP_ERRORS = (*_LOST_RACE, psycopg.errors.PipelineAborted)


class _StaleConnection(psycopg.OperationalError):
    """The connection died before the batch's first statement: retrying it is safe."""


class PgTx:
    """The writer's transactions run in psycopg's pipeline mode (``pipe``): a statement
    is sent without waiting for the server unless its answer is needed, so the writes
    an operation queues (``send``), its SAVEPOINT and RELEASE cost no round trip each;
    fetching a result, ``execute`` (whose caller wants the row count) and the end of an
    operation wait for everything sent before. Readers run without a pipeline."""

    __slots__ = ("_cur", "_pipe", "pending")
    dialect = "postgresql"

    def __init__(self, cur: psycopg.Cursor[Any], pipe: psycopg.Pipeline | None = None) -> None:
        self._cur = cur
        self._pipe = pipe
        self.pending = False  # statements sent whose outcome is not known yet

    def execute(self, sql: str, params: Params = ()) -> int:
        self._cur.execute(pg_sql(sql), params)
        if self._pipe is not None:
            self.pending = False
            self._pipe.sync()
        return self._cur.rowcount

    def send(self, sql: str, params: Params = ()) -> None:
        """execute() for a caller that needs no row count: in pipeline mode it does not
        wait; an error it meets is raised by a later statement or at the operation's end
        (its savepoint), so it still fails only its own operation."""
        self._cur.execute(pg_sql(sql), params)
        if self._pipe is not None:
            self.pending = True

    def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        self._cur.execute(pg_sql(sql), params)
        self.pending = False
        row: Row | None = self._cur.fetchone()
        return row

    def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        # A join of a VALUES list against a table (db/bulk.fetch_with) is planned at each
        # run, not prepared: a generic plan made while the table was small (a new
        # database) keeps its sequential scan after the table has grown, until autovacuum
        # next analyses it; looking up a group's random_ids then scanned every message.
        prepare = False if sql.startswith("WITH ") else None
        self._cur.execute(pg_sql(sql), params, prepare=prepare)
        self.pending = False
        return self._cur.fetchall()


class PostgresStore:
    def __init__(self, url: str, *, readers: int = 4, connect_timeout: float = 5.0) -> None:
        self.url, self.schema = split_url(url)
        self.migrate_url = url.replace("postgresql://", "postgresql+psycopg://", 1).replace(
            "postgres://", "postgresql+psycopg://", 1
        )
        self.connect_timeout = connect_timeout
        self._queue = JobQueue()
        self._writer: threading.Thread | None = None
        self._readers = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="pg-read")
        self._local = threading.local()
        self._conns: list[psycopg.Connection[Any]] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def _connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(
            self.url,
            autocommit=True,
            connect_timeout=int(self.connect_timeout),
            cursor_factory=psycopg.RawCursor,
        )
        # Every statement text of the server stays prepared (bulk inserts alone are a
        # few dozen texts, one per piece size): psycopg's default of 100 evicted and
        # re-prepared them over and over.
        conn.prepared_max = 1000
        if self.schema:
            conn.execute(f'SET search_path TO "{self.schema}"')
        with self._lock:
            self._conns.append(conn)
        return conn

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        applied = await asyncio.to_thread(apply_migrations, self.migrate_url)
        log.info("store_opened", engine="postgresql", migrations_applied=applied)
        self._writer = threading.Thread(target=self._write_loop, name="pg-writer", daemon=True)
        self._writer.start()
        metrics.STORE_QUEUE.labels("postgresql").set_function(self._queue.qsize)

    async def write(self, fn: Callable[[PgTx], T]) -> T:
        if self._closed or self._loop is None:
            raise Unavailable("STORE_CLOSED", "the store is not open")
        fut: asyncio.Future[T] = self._loop.create_future()
        self._queue.put(fn, fut)
        return await fut

    def _write_loop(self) -> None:
        conn: psycopg.Connection[Any] | None = None
        while (batch := self._queue.take()) is not None:
            try:
                if conn is None or conn.closed or conn.broken:
                    conn = self._connect()
                try:
                    self._run_batch(conn, batch)
                except _StaleConnection:
                    # Nothing of the batch ran (BEGIN failed on a connection from before
                    # a database restart): run it on a new one rather than fail it.
                    self._discard(conn)
                    conn = self._connect()
                    self._run_batch(conn, batch)
            except psycopg.OperationalError as e:
                # The server went away or restarted: fail this batch fast with a retryable
                # error and reconnect for the next one.
                metrics.STORE_ERRORS.labels("postgresql").inc()
                log.error("pg_write_failed", error=str(e))
                err = Unavailable("STORE_UNAVAILABLE", "the database is unreachable; retry")
                self._settle([(fut, None, err) for _, fut in batch])
                if conn is not None:
                    self._discard(conn)
                conn = None
        if conn is not None:
            conn.close()

    def _run_batch(self, conn: psycopg.Connection[Any], batch: list[Job]) -> None:
        outcomes: list[Outcome] = []
        started = time.perf_counter()
        with conn.cursor() as cur:
            try:
                cur.execute("BEGIN")
            except psycopg.OperationalError as e:
                if conn.broken:
                    raise _StaleConnection(str(e)) from e
                raise
            try:
                with conn.pipeline() as pipe:
                    tx = PgTx(cur, pipe)
                    for kind, jobs in runs(batch):
                        if kind is not None and self._run_group(pipe, tx, kind, jobs, outcomes):
                            continue
                        for fn, fut in jobs:
                            tx.send("SAVEPOINT op")
                            try:
                                result = fn(tx)
                                self._release(pipe, tx)
                            except BaseException as e:  # the caller gets it; the batch goes on
                                if isinstance(e, psycopg.OperationalError) and not isinstance(
                                    e, _OP_ERRORS
                                ):
                                    raise  # the connection is gone: the whole batch fails
                                self._roll_back(pipe, tx)
                                if isinstance(e, (psycopg.errors.UniqueViolation, *_LOST_RACE)):
                                    conflict = Conflict("CONFLICT", f"a concurrent change won: {e}")
                                    conflict.__cause__ = e
                                    e = conflict
                                outcomes.append((fut, None, e))
                            else:
                                outcomes.append((fut, result, None))
                    tx.send("COMMIT")
                    pipe.sync()
                observe("postgresql", started, len(batch))
            except psycopg.OperationalError:
                raise
            except psycopg.Error as e:
                metrics.STORE_ERRORS.labels("postgresql").inc()
                log.error("pg_commit_failed", error=str(e))
                with contextlib.suppress(psycopg.Error):
                    cur.execute("ROLLBACK")
                err = Unavailable("STORE_UNAVAILABLE", "the database failed to commit; retry")
                outcomes = [(fut, None, err) for _, fut in batch]
        self._settle(outcomes)

    @staticmethod
    def _release(pipe: psycopg.Pipeline, tx: PgTx) -> None:
        """End an operation that returned: its RELEASE, and the outcome of every statement
        it sent without waiting (an error among them is the operation's own)."""
        pending = tx.pending
        tx.send("RELEASE SAVEPOINT op")
        if pending:
            tx.pending = False
            pipe.sync()
        # Else only the RELEASE is in flight (it cannot fail): the next statement that
        # waits takes its answer too.

    @staticmethod
    def _roll_back(pipe: psycopg.Pipeline, tx: PgTx) -> None:
        """Undo a failed operation. After an error the server skips what was sent until
        the next sync, and psycopg raises once per sync for what it skipped: sync until
        one passes, then go back to the operation's savepoint."""
        for _ in range(8):
            try:
                pipe.sync()
                break
            except psycopg.OperationalError as e:
                if not isinstance(e, _OP_ERRORS):
                    raise
            except psycopg.Error:
                continue
        tx.send("ROLLBACK TO SAVEPOINT op")
        tx.send("RELEASE SAVEPOINT op")
        tx.pending = False
        pipe.sync()

    def _run_group(
        self,
        pipe: psycopg.Pipeline,
        tx: PgTx,
        kind: Any,
        jobs: list[Job],
        out: list[Outcome],
    ) -> bool:
        """Write neighbouring operations of one batchable kind together (group_commit.runs);
        False when they must run one by one instead (the group was rolled back)."""
        tx.send("SAVEPOINT op")
        try:
            results = kind.run_many(tx, [fn for fn, _ in jobs])
            self._release(pipe, tx)
            group: list[Outcome] = [
                (fut, r, None) for (_, fut), r in zip(jobs, results, strict=True)
            ]
        except Exception as e:
            if isinstance(e, psycopg.OperationalError) and not isinstance(e, _OP_ERRORS):
                raise  # the connection is gone: the whole batch fails
            self._roll_back(pipe, tx)
            log.debug("pg_group_run_alone", ops=len(jobs), error=repr(e))
            return False
        out += group
        return True

    def _settle(self, outcomes: list[Outcome]) -> None:
        assert self._loop is not None
        settle_threadsafe(self._loop, outcomes)

    def _run_read(self, fn: Callable[[PgTx], T]) -> T:
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is not None and not (conn.closed or conn.broken):
            try:
                return self._read_on(conn, fn)
            except psycopg.OperationalError:
                # A connection kept from before a database restart fails on its first use
                # after it. Reads change nothing, so one more try on a new connection is
                # safe; any other error (a cancelled query, say) is the caller's.
                if not conn.broken:
                    raise
        if conn is not None:
            self._discard(conn)
        conn = self._connect()
        self._local.conn = conn
        return self._read_on(conn, fn)

    def _discard(self, conn: psycopg.Connection[Any]) -> None:
        with contextlib.suppress(Exception):
            conn.close()
        with self._lock:
            if conn in self._conns:
                self._conns.remove(conn)

    def _read_on(self, conn: psycopg.Connection[Any], fn: Callable[[PgTx], T]) -> T:
        with conn.cursor() as cur:
            cur.execute("BEGIN READ ONLY")
            try:
                return fn(PgTx(cur))
            finally:
                if not conn.broken:
                    cur.execute("ROLLBACK")

    async def read(self, fn: Callable[[PgTx], T]) -> T:
        if self._closed or self._loop is None:
            raise Unavailable("STORE_CLOSED", "the store is not open")
        try:
            return await self._loop.run_in_executor(self._readers, self._run_read, fn)
        except psycopg.OperationalError as e:
            log.error("pg_read_failed", error=str(e))
            raise Unavailable("STORE_UNAVAILABLE", "the database is unreachable; retry") from e

    async def ping(self) -> bool:
        try:
            row = await self.read(lambda tx: tx.fetchone("SELECT 1"))
        except (ChaparError, psycopg.Error):
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
            for conn in self._conns:
                with contextlib.suppress(Exception):
                    conn.close()
            self._conns.clear()
