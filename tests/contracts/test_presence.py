"""The contract every Presence adapter must pass, run on each adapter (GUIDE §2).

Time is a ManualClock on both adapters (leases are compared with the injected clock), so
lapsed leases are tested without sleeping.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from chapar.adapters.memory.presence import MemoryPresence
from chapar.adapters.redis.presence import RedisPresence
from chapar.ports.clock import ManualClock
from chapar.ports.presence import LEASE_SECONDS, Op, Presence, Status
from tests.contracts.backends import KINDS, Backend, open_backend

T0 = 1_800_000_000


class PresenceBackend(Backend[Presence]):
    """Presence nodes share one clock too."""

    def __init__(self, kind: str) -> None:
        self.clock = ManualClock(T0)
        super().__init__(
            kind,
            lambda: MemoryPresence(self.clock),
            lambda url, prefix: RedisPresence(url, self.clock, prefix=prefix),
        )


@pytest.fixture(params=KINDS)
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[PresenceBackend]:
    async with open_backend(PresenceBackend(request.param), "presence") as b:
        yield b


@pytest.fixture
def presence(backend: PresenceBackend) -> Presence:
    return backend.node()


async def status(p: Presence, user_id: int) -> Status:
    return (await p.statuses([user_id]))[user_id]


async def test_a_user_never_seen_is_offline_without_a_time(presence: Presence) -> None:
    assert await presence.statuses([1, 2]) == {
        1: Status(online=False, was_online=None),
        2: Status(online=False, was_online=None),
    }
    assert await presence.statuses([]) == {}


async def test_connect_makes_online_and_the_last_disconnect_offline(
    backend: PresenceBackend, presence: Presence
) -> None:
    assert await presence.apply([Op("connect", 1, 10, "a")]) == ["online"]
    assert await status(presence, 1) == Status(online=True, expires=T0 + LEASE_SECONDS)
    backend.clock.advance(5)
    assert await presence.apply([Op("disconnect", 1, 10, "a")]) == ["offline"]
    assert await status(presence, 1) == Status(online=False, was_online=T0 + 5)
    # closing what is gone already changes nothing
    assert await presence.apply([Op("disconnect", 1, 10, "a")]) == [None]


async def test_online_while_any_connection_of_any_session_lives(
    backend: PresenceBackend, presence: Presence
) -> None:
    flips = await presence.apply(
        [Op("connect", 1, 10, "a"), Op("connect", 1, 10, "b"), Op("connect", 1, 11, "c")]
    )
    assert flips == ["online", None, None]
    assert await presence.apply([Op("disconnect", 1, 10, "a")]) == [None]
    assert await presence.apply([Op("disconnect", 1, 11, "c")]) == [None]
    assert (await status(presence, 1)).online
    backend.clock.advance(3)
    assert await presence.apply([Op("disconnect", 1, 10, "b")]) == ["offline"]
    assert await status(presence, 1) == Status(online=False, was_online=T0 + 3)
    assert await status(presence, 2) == Status(online=False)  # users are apart


async def test_a_session_in_the_background_does_not_count(
    backend: PresenceBackend, presence: Presence
) -> None:
    await presence.apply([Op("connect", 1, 10, "a"), Op("connect", 1, 10, "b")])
    backend.clock.advance(2)
    # every connection of the session goes away, not just one
    assert await presence.apply([Op("away", 1, 10)]) == ["offline"]
    assert await status(presence, 1) == Status(online=False, was_online=T0 + 2)
    # a renewal keeps it away
    assert await presence.apply([Op("refresh", 1, 10, "a")]) == [None]
    assert not (await status(presence, 1)).online
    # another session's connection counts
    assert await presence.apply([Op("connect", 1, 11, "c")]) == ["online"]
    assert await presence.apply([Op("disconnect", 1, 11, "c")]) == ["offline"]
    assert await presence.apply([Op("back", 1, 10)]) == ["online"]
    assert (await status(presence, 1)).online
    # away on a session without connections changes nothing
    assert await presence.apply([Op("away", 2, 20), Op("back", 2, 20)]) == [None, None]
    assert not (await status(presence, 2)).online


async def test_a_lease_lapses_unless_renewed(backend: PresenceBackend, presence: Presence) -> None:
    await presence.apply([Op("connect", 1, 10, "a"), Op("connect", 2, 20, "b")])
    for _ in range(5):  # renewed: stays online well past one lease
        backend.clock.advance(LEASE_SECONDS - 10)
        await presence.apply([Op("refresh", 1, 10, "a")])
    now = int(backend.clock.now())
    assert await status(presence, 1) == Status(online=True, expires=now + LEASE_SECONDS)
    # user 2's node died: no renewal, no disconnect; last seen when last known online
    assert await status(presence, 2) == Status(online=False, was_online=T0)
    backend.clock.advance(LEASE_SECONDS)
    assert await status(presence, 1) == Status(online=False, was_online=now)
    # coming back after a lapse is going online again
    assert await presence.apply([Op("connect", 2, 20, "c")]) == ["online"]
    # a renewal writes back an entry that was lost (a Redis restart, say)
    assert await presence.apply([Op("refresh", 1, 10, "a")]) == ["online"]


async def test_nodes_share_presence(backend: PresenceBackend) -> None:
    if not backend.shared:
        pytest.skip("in-process presence is one node: nothing to share between two")
    a, b = backend.node(), backend.node()
    assert await a.apply([Op("connect", 1, 10, "node-a.1")]) == ["online"]
    assert (await status(b, 1)).online
    assert await b.apply([Op("connect", 1, 11, "node-b.1")]) == [None]
    assert await a.apply([Op("disconnect", 1, 10, "node-a.1")]) == [None]
    assert (await status(a, 1)).online
    # a background session is marked from any node
    assert await a.apply([Op("away", 1, 11)]) == ["offline"]
    assert not (await status(b, 1)).online
