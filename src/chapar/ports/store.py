"""The store port: transactions over SQL written once for every SQL engine.

Services hand the store a plain function ``fn(tx) -> T``. The store runs it inside one
transaction and returns its result once that transaction is durable. Writes may be
group-committed with other writes (one commit for many operations), but each operation is
isolated: if ``fn`` raises, only its own changes are rolled back and the exception reaches
the caller.

SQL uses ``?`` placeholders; an adapter rewrites them for its engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

Row = tuple[Any, ...]
Params = Sequence[Any]


class Tx(Protocol):
    # "sqlite" or "postgresql": for the rare query that must differ (db/search.py).
    dialect: str

    def execute(self, sql: str, params: Params = ()) -> int:
        """Run a statement; return the number of rows it changed."""
        ...

    def fetchone(self, sql: str, params: Params = ()) -> Row | None: ...

    def fetchall(self, sql: str, params: Params = ()) -> list[Row]: ...


class Store(Protocol):
    async def write(self, fn: Callable[[Tx], T]) -> T:
        """Run ``fn`` in a read-write transaction; return after it is committed."""
        ...

    async def read(self, fn: Callable[[Tx], T]) -> T:
        """Run ``fn`` against a consistent snapshot; it must not write."""
        ...

    async def ping(self) -> bool:
        """True when the store answers a trivial query."""
        ...

    async def close(self) -> None: ...
