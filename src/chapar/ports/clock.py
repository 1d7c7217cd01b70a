"""Clock and randomness ports, injected so time-based rules are tested without sleeping."""

from __future__ import annotations

import secrets
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock tests move by hand."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


class Random(Protocol):
    def digits(self, n: int) -> str: ...

    def token(self, nbytes: int) -> str: ...


class SystemRandom:
    """Cryptographically secure randomness (the ``secrets`` module)."""

    def digits(self, n: int) -> str:
        return "".join(str(secrets.randbelow(10)) for _ in range(n))

    def token(self, nbytes: int) -> str:
        return secrets.token_urlsafe(nbytes)
