"""Many rows in one statement: ``INSERT … VALUES (…), (…)`` and ``WITH v(…) AS (VALUES …)``.

Why: on the write path a statement costs far more than the row it writes (parsing or
looking up the prepared statement, binding, the engine's per-statement setup, and for
SQLite one release and re-acquire of the GIL per step). The writer's batched operations
(``db.messages`` send_many) write the rows of a whole group commit in a handful of
statements instead of a dozen per message.

Rows are sent in pieces whose sizes are powers of two, at most ``MAX_ROWS``: each distinct
size is its own statement text, so a few sizes keep SQLite's statement cache and
psycopg's prepared statements warm (a batch of 100 rows is 64 + 32 + 4).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from typing import Any

from chapar.ports.store import Params, Row, Tx

MAX_ROWS = 128


def pieces(rows: Sequence[Any], limit: int = MAX_ROWS) -> Iterator[Sequence[Any]]:
    i, n = 0, len(rows)
    while i < n:
        k = min(limit, 1 << ((n - i).bit_length() - 1))
        yield rows[i : i + k]
        i += k


@functools.lru_cache(maxsize=256)
def values(template: str, count: int) -> str:
    """``template`` (such as ``(?, ?)``) repeated ``count`` times, comma-separated."""
    return ", ".join([template] * count)


def _flat(rows: Sequence[Sequence[Any]]) -> list[Any]:
    return [x for r in rows for x in r]


def send(tx: Tx, sql: str, params: Params = ()) -> None:
    """Run a statement whose row count the caller does not need. On an engine that can
    (PostgreSQL's pipeline mode: ``PgTx.send``) this does not wait for the server; an
    error still fails the operation that sent it, at its end at the latest."""
    run = getattr(tx, "send", None)
    if run is None:
        tx.execute(sql, params)
    else:
        run(sql, params)


def insert(tx: Tx, head: str, template: str, rows: Sequence[Sequence[Any]], tail: str = "") -> None:
    """``head VALUES template, template, … tail`` for every row."""
    for part in pieces(rows):
        send(tx, f"{head} VALUES {values(template, len(part))}{tail}", _flat(part))


def fetch_with(
    tx: Tx, cte: str, template: str, rows: Sequence[Sequence[Any]], body: str
) -> list[Row]:
    """``WITH cte AS (VALUES template, …) body`` for every row; the rows it returns."""
    out: list[Row] = []
    for part in pieces(rows):
        out += tx.fetchall(
            f"WITH {cte} AS (VALUES {values(template, len(part))}) {body}", _flat(part)
        )
    return out


def send_with(tx: Tx, cte: str, template: str, rows: Sequence[Sequence[Any]], body: str) -> None:
    """fetch_with for a statement whose rows (and row count) the caller does not need."""
    for part in pieces(rows):
        send(tx, f"WITH {cte} AS (VALUES {values(template, len(part))}) {body}", _flat(part))
