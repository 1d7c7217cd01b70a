"""The backend a contract suite runs a port's adapters on: in process, or one shared Redis.

A ``Backend`` makes adapters ("nodes") that share it, as several Chapar nodes share one
Redis; on Redis each test gets a key prefix of its own, deleted at the end, so tests stay
independent on the machine's shared server. A suite's ``backend`` fixture opens one
with ``open_backend``.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, Generic, Protocol, TypeVar

import pytest
from redis.asyncio import Redis

REDIS_URL = os.environ.get("CHAPAR_TEST_REDIS_URL")
KINDS = ["memory", "redis"]


class _Closable(Protocol):
    async def close(self) -> None: ...


N = TypeVar("N", bound=_Closable)


class Backend(Generic[N]):
    def __init__(self, kind: str, memory: Callable[[], N], redis: Callable[[str, str], N]) -> None:
        self.kind = kind
        self.prefix = f"test:{uuid.uuid4().hex[:12]}:"
        self._memory, self._redis = memory, redis
        self.nodes: list[N] = []

    @property
    def shared(self) -> bool:
        """Whether two nodes see each other's state (not for in-process adapters)."""
        return self.kind == "redis"

    def node(self) -> N:
        if self.kind == "redis":
            assert REDIS_URL
            node = self._redis(REDIS_URL, self.prefix)
        else:
            node = self._memory()
        self.nodes.append(node)
        return node

    async def close(self) -> None:
        for node in self.nodes:
            await node.close()
        if self.kind == "redis":
            assert REDIS_URL
            async with Redis.from_url(REDIS_URL) as admin:
                keys = [k async for k in admin.scan_iter(match=f"{self.prefix}*")]
                if keys:
                    await admin.delete(*keys)


B = TypeVar("B", bound=Backend[Any])


@contextlib.asynccontextmanager
async def open_backend(b: B, port: str) -> AsyncIterator[B]:
    """The backend for one test: skipped on Redis without a server to use, closed after."""
    if b.kind == "redis" and not REDIS_URL:
        pytest.skip(f"set CHAPAR_TEST_REDIS_URL to run the {port} contract on Redis")
    try:
        yield b
    finally:
        await b.close()
