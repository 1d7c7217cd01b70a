"""The in-process rate limiter, and the adapter shared with Redis: both are the `limits`
library's moving-window strategy over one of its storages.

Why the moving window: it is exact (no double burst at a window edge, as a fixed window
allows, which matters for SMS budgets) and gives an exact wait (when the oldest counted hit
leaves the window); its cost is one timestamp per counted hit, bounded by the limit's
amount per key, which is small for abuse limits.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from chapar.errors import Unavailable
from chapar.ports.limiter import Limit


@functools.lru_cache(maxsize=256)
def _item(limit: Limit) -> RateLimitItem:
    return RateLimitItemPerSecond(limit.amount, limit.per_seconds, namespace=limit.name)


def _unavailable(e: StorageError) -> Unavailable:
    return Unavailable(message=f"rate limiter unavailable: {e.storage_error!r}")


class LibraryLimiter:
    """A :class:`~chapar.ports.limiter.RateLimiter` over any `limits` async storage.

    The storage is made on first use: the in-memory one starts a task when constructed and
    so needs a running event loop.
    """

    def __init__(self, make_storage: Callable[[], Storage]) -> None:
        self._make_storage = make_storage
        self._strategy: MovingWindowRateLimiter | None = None

    def _limiter(self) -> MovingWindowRateLimiter:
        if self._strategy is None:
            self._strategy = MovingWindowRateLimiter(self._make_storage())
        return self._strategy

    async def hit(self, key: str, limit: Limit, cost: int = 1) -> float | None:
        if not 1 <= cost <= limit.amount:
            raise ValueError(f"cost {cost} can never fit limit {limit.name!r}")
        item = _item(limit)
        strategy = self._limiter()
        try:
            # Twice at most: if the oldest counted hit left the window between the refusal
            # and the look at the window, there is room now.
            for _ in range(2):
                if await strategy.hit(item, key, cost=cost):
                    return None
                stats = await strategy.get_window_stats(item, key)
                wait = stats.reset_time - time.time()
                if wait > 0:
                    return wait
        except StorageError as e:
            raise _unavailable(e) from e
        return 0.001  # room keeps appearing and vanishing: other hits are racing us

    async def reset(self, key: str, limit: Limit) -> None:
        try:
            await self._limiter().clear(_item(limit), key)
        except StorageError as e:
            raise _unavailable(e) from e

    async def close(self) -> None:
        self._strategy = None


class MemoryLimiter(LibraryLimiter):
    """Limits for one process: the embedded default."""

    def __init__(self) -> None:
        super().__init__(MemoryStorage)
