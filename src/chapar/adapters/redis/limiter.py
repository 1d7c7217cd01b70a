"""The Redis rate limiter: the same `limits` moving window as the in-process one, its
state in Redis so every node spends one budget per key.

The library runs each check as one Lua script (atomic across nodes) and stamps hits with
the node's clock, so nodes need NTP-synchronised clocks, as any cluster does. The pool
comes from :func:`~chapar.adapters.redis.connection.make_pool`, so a Redis outage costs a
caller at most about ``timeout`` seconds and then :class:`~chapar.errors.Unavailable`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from limits.aio.storage import RedisStorage

from chapar.adapters.memory.limiter import LibraryLimiter
from chapar.adapters.redis.connection import make_pool


class RedisLimiter(LibraryLimiter):
    def __init__(
        self,
        url: str,
        *,
        prefix: str = "chapar:limits",
        timeout: float = 1.0,
        max_connections: int = 32,
    ) -> None:
        self._pool = make_pool(url, timeout=timeout, max_connections=max_connections)
        options: dict[str, Any] = {"connection_pool": self._pool}
        # `limits` picks its client by scheme; the connections come from our pool.
        scheme = {"redis": "async+redis", "rediss": "async+rediss", "unix": "async+redis+unix"}
        storage_url = scheme[urlsplit(url).scheme] + url[url.index(":") :]

        def storage() -> RedisStorage:
            return RedisStorage(
                storage_url,
                implementation="redispy",
                key_prefix=prefix,
                wrap_exceptions=True,
                **options,
            )

        super().__init__(storage)

    async def close(self) -> None:
        await super().close()
        await self._pool.aclose()
