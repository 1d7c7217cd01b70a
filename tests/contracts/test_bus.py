"""The contract every EventBus adapter must pass."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from chapar.adapters.memory.bus import MemoryBus
from chapar.ports.bus import EventBus


@pytest.fixture(params=["memory"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[EventBus]:
    b = MemoryBus()
    yield b
    await b.close()


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0.01)


async def test_subscribers_get_messages_of_their_topic_in_order(bus: EventBus) -> None:
    got_a: list[bytes] = []
    got_b: list[bytes] = []
    bus.subscribe("user:1", lambda _t, p: got_a.append(p))
    bus.subscribe("user:2", lambda _t, p: got_b.append(p))
    for i in range(20):
        await bus.publish("user:1", str(i).encode())
    await bus.publish("user:2", b"x")
    await _settle()
    assert got_a == [str(i).encode() for i in range(20)]
    assert got_b == [b"x"]


async def test_closed_subscription_gets_nothing(bus: EventBus) -> None:
    got: list[bytes] = []
    other: list[bytes] = []
    sub = bus.subscribe("t", lambda _t, p: got.append(p))
    bus.subscribe("t", lambda _t, p: other.append(p))
    sub.close()
    await bus.publish("t", b"1")
    await _settle()
    assert got == [] and other == [b"1"]


async def test_publish_without_subscribers_is_fine(bus: EventBus) -> None:
    await bus.publish("nobody", b"x")
