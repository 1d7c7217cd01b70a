"""The contract every EventBus adapter must pass, run on each adapter (GUIDE §2).

Delivery over Redis is asynchronous, so the tests never sleep a fixed time: they wait,
bounded, for what must arrive, and prove that something did *not* arrive with a barrier —
a probe published after it on the same publisher, which Redis delivers in order.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from chapar.adapters.memory.bus import MemoryBus
from chapar.adapters.redis.bus import RedisBus
from chapar.ports.bus import EventBus, Handler
from tests.contracts.backends import KINDS, Backend, open_backend

WAIT_SECONDS = 10.0


def _redis_bus(url: str, prefix: str) -> EventBus:
    return RedisBus(url, prefix=prefix)


@pytest.fixture(params=KINDS)
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend[EventBus]]:
    async with open_backend(Backend(request.param, MemoryBus, _redis_bus), "bus") as b:
        yield b


@pytest.fixture
def bus(backend: Backend[EventBus]) -> EventBus:
    return backend.node()


def two_nodes(backend: Backend[EventBus]) -> tuple[EventBus, EventBus]:
    if not backend.shared:
        pytest.skip("an in-process bus is one node: nothing to share between two")
    return backend.node(), backend.node()


def collect(box: list[bytes]) -> Handler:
    return lambda _topic, payload: box.append(payload)


async def until(cond: Callable[[], bool], what: str) -> None:
    try:
        async with asyncio.timeout(WAIT_SECONDS):
            while not cond():  # noqa: ASYNC110 - polls state that has no event to wait on
                await asyncio.sleep(0.005)
    except TimeoutError:
        raise AssertionError(f"not within {WAIT_SECONDS} s: {what}") from None


async def barrier(pub: EventBus, sub: EventBus) -> None:
    """Return once ``sub``'s earlier subscriptions are live and ``pub``'s earlier
    messages have reached ``sub``: a probe published by ``pub`` arrived at ``sub``."""
    topic = f"barrier:{uuid.uuid4().hex}"
    seen: list[bytes] = []
    probe = sub.subscribe(topic, lambda _t, p: seen.append(p))
    try:
        async with asyncio.timeout(WAIT_SECONDS):
            while not seen:
                await pub.publish(topic, b"probe")
                await asyncio.sleep(0.01)
    finally:
        probe.close()


async def test_subscribers_get_messages_of_their_topic_in_order(bus: EventBus) -> None:
    got_a: list[bytes] = []
    got_b: list[bytes] = []
    bus.subscribe("user:1", lambda _t, p: got_a.append(p))
    bus.subscribe("user:2", lambda _t, p: got_b.append(p))
    await barrier(bus, bus)
    for i in range(200):
        await bus.publish("user:1", str(i).encode())
    await bus.publish("user:2", b"x")
    await until(lambda: len(got_a) >= 200 and len(got_b) >= 1, "all messages arrive")
    await barrier(bus, bus)
    assert got_a == [str(i).encode() for i in range(200)]
    assert got_b == [b"x"]


async def test_handlers_get_the_topic_and_payload(bus: EventBus) -> None:
    got: list[tuple[str, bytes]] = []
    bus.subscribe("chat:7", lambda t, p: got.append((t, p)))
    await barrier(bus, bus)
    await bus.publish("chat:7", b"\x00\xff binary")
    await until(lambda: bool(got), "the message arrives")
    assert got == [("chat:7", b"\x00\xff binary")]


async def test_every_handler_of_a_topic_gets_each_message_once(bus: EventBus) -> None:
    got: list[list[bytes]] = [[], [], []]
    for box in got:
        bus.subscribe("chat:1", collect(box))
    await barrier(bus, bus)
    await bus.publish("chat:1", b"1")
    await bus.publish("chat:1", b"2")
    await until(lambda: all(len(box) >= 2 for box in got), "every handler gets both")
    await barrier(bus, bus)
    assert got == [[b"1", b"2"]] * 3


async def test_closed_subscription_gets_nothing(bus: EventBus) -> None:
    got: list[bytes] = []
    other: list[bytes] = []
    sub = bus.subscribe("t", lambda _t, p: got.append(p))
    bus.subscribe("t", lambda _t, p: other.append(p))
    await barrier(bus, bus)
    sub.close()
    sub.close()  # closing twice is harmless
    await bus.publish("t", b"1")
    await until(lambda: other == [b"1"], "the open subscription still gets it")
    await barrier(bus, bus)
    assert got == []


async def test_a_topic_left_and_joined_again_delivers_once(bus: EventBus) -> None:
    first: list[bytes] = []
    bus.subscribe("t", lambda _t, p: first.append(p)).close()
    got: list[bytes] = []
    bus.subscribe("t", lambda _t, p: got.append(p))
    await barrier(bus, bus)
    await bus.publish("t", b"1")
    await until(lambda: bool(got), "the new subscription gets it")
    await barrier(bus, bus)
    assert got == [b"1"] and first == []


async def test_publish_without_subscribers_is_fine(bus: EventBus) -> None:
    await bus.publish("nobody", b"x")


async def test_a_message_published_on_one_node_reaches_the_others(
    backend: Backend[EventBus],
) -> None:
    a, b = two_nodes(backend)
    on_a: list[bytes] = []
    on_b1: list[bytes] = []
    on_b2: list[bytes] = []
    a.subscribe("chat:1", lambda _t, p: on_a.append(p))
    b.subscribe("chat:1", lambda _t, p: on_b1.append(p))
    b.subscribe("chat:1", lambda _t, p: on_b2.append(p))
    await barrier(a, b)
    await barrier(a, a)
    sent = [f"m{i}".encode() for i in range(100)]
    for payload in sent:
        await a.publish("chat:1", payload)
    await until(lambda: min(len(on_a), len(on_b1), len(on_b2)) >= 100, "all nodes get all")
    await barrier(a, b)
    await barrier(a, a)
    # Each node gets each message once, in the order it was published.
    assert on_a == on_b1 == on_b2 == sent


async def test_order_per_topic_holds_for_interleaved_topics_across_nodes(
    backend: Backend[EventBus],
) -> None:
    a, b = two_nodes(backend)
    got: dict[str, list[bytes]] = {"x": [], "y": []}
    for topic, box in got.items():
        b.subscribe(topic, collect(box))
    await barrier(a, b)
    for i in range(100):
        await a.publish("x" if i % 3 else "y", str(i).encode())
    await until(lambda: len(got["x"]) + len(got["y"]) >= 100, "everything arrives")
    assert got["x"] == [str(i).encode() for i in range(100) if i % 3]
    assert got["y"] == [str(i).encode() for i in range(100) if not i % 3]


async def test_unsubscribing_on_one_node_stops_delivery_there_only(
    backend: Backend[EventBus],
) -> None:
    a, b = two_nodes(backend)
    on_a: list[bytes] = []
    on_b: list[bytes] = []
    a.subscribe("user:5", lambda _t, p: on_a.append(p))
    sub_b = b.subscribe("user:5", lambda _t, p: on_b.append(p))
    await barrier(a, b)
    await a.publish("user:5", b"1")
    await until(lambda: on_b == [b"1"] and on_a == [b"1"], "both nodes get the first")
    sub_b.close()
    await a.publish("user:5", b"2")
    await until(lambda: on_a == [b"1", b"2"], "the node still subscribed gets the second")
    await barrier(a, b)
    assert on_b == [b"1"]
