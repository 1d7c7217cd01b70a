"""Local stand-ins for the outside world that tests talk to over loopback: SMS providers'
HTTP APIs (http_providers.py) and an SMSC (smsc.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

WAIT_SECONDS = 10.0


async def until(cond: Callable[[], bool], what: str, seconds: float = WAIT_SECONDS) -> None:
    """Wait, bounded, for something that happens on its own (a callback, a receipt)."""
    try:
        async with asyncio.timeout(seconds):
            while not cond():  # noqa: ASYNC110 - polls state that has no event to wait on
                await asyncio.sleep(0.005)
    except TimeoutError:
        raise AssertionError(f"not within {seconds} s: {what}") from None
