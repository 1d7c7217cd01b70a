"""The rate-limiter port: how many times something may happen per key in a sliding period.

A :class:`Limit` is declared once, with its default, where the rule lives (the way
Signal-Server's ``RateLimiters.For`` does), and is the whole description of a rule: the
adapters derive their storage keys from it, so two nodes that declare the same limit share
one budget on a shared backend. Services ask :meth:`RateLimiter.hit` before doing the
costly or abusable thing and turn a wait into ``FloodWait(retry_after)``.

Adapters raise :class:`chapar.errors.Unavailable` when their backend cannot be reached,
so the caller decides per limit whether to fail closed (SMS sends) or open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``amount`` hits per key in any window of ``per_seconds`` seconds."""

    name: str
    amount: int
    per_seconds: int

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name:
            raise ValueError(f"limit name {self.name!r} must be non-empty and without '/'")
        if self.amount < 1 or self.per_seconds < 1:
            raise ValueError(f"limit {self.name!r} needs amount >= 1 and per_seconds >= 1")


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: Limit, cost: int = 1) -> float | None:
        """Spend ``cost`` of ``key``'s budget under ``limit``.

        Return ``None`` when allowed (and counted), or the seconds to wait until it would
        be allowed (and count nothing). A cost above ``limit.amount`` is never allowed.
        """
        ...

    async def reset(self, key: str, limit: Limit) -> None:
        """Forget ``key``'s hits under ``limit`` (e.g. failed attempts after a success)."""
        ...

    async def close(self) -> None: ...
