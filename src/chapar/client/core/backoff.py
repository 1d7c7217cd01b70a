"""Delays between reconnection attempts (no clock here: the transport sleeps)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Delays between reconnection attempts: exponential, capped, with jitter.

    Jitter matters more than the curve: after a server restart every client reconnects at
    once, and a random half of each delay spreads that herd out."""

    base: float = 0.05
    cap: float = 5.0
    factor: float = 2.0

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        ceiling = min(self.cap, self.base * self.factor ** min(max(attempt, 0), 32))
        return ceiling / 2 + ceiling / 2 * rand()
