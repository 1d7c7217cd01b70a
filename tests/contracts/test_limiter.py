"""The contract every RateLimiter adapter must pass, run on each adapter (GUIDE §2)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from chapar.adapters.memory.limiter import MemoryLimiter
from chapar.adapters.redis.limiter import RedisLimiter
from chapar.ports.limiter import Limit, RateLimiter

REDIS_URL = os.environ.get("CHAPAR_TEST_REDIS_URL")


class Backend:
    """Makes limiters ("nodes") that share one backend: one Redis, or nothing for memory."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        # A key prefix per test: tests stay independent on the shared Redis.
        self.prefix = f"test:{uuid.uuid4().hex[:12]}"
        self.nodes: list[RateLimiter] = []

    def node(self) -> RateLimiter:
        limiter: RateLimiter
        if self.kind == "redis":
            assert REDIS_URL
            limiter = RedisLimiter(REDIS_URL, prefix=self.prefix)
        else:
            limiter = MemoryLimiter()
        self.nodes.append(limiter)
        return limiter

    async def close(self) -> None:
        for node in self.nodes:
            await node.close()
        if self.kind == "redis":
            assert REDIS_URL
            async with Redis.from_url(REDIS_URL) as admin:
                keys = [k async for k in admin.scan_iter(match=f"{self.prefix}:*")]
                if keys:
                    await admin.delete(*keys)


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    if request.param == "redis" and not REDIS_URL:
        pytest.skip("set CHAPAR_TEST_REDIS_URL to run the limiter contract on Redis")
    b = Backend(request.param)
    yield b
    await b.close()


@pytest.fixture
def limiter(backend: Backend) -> RateLimiter:
    return backend.node()


HOUR = Limit("per_hour", 3, 3600)


async def test_allows_the_amount_then_answers_how_long_to_wait(limiter: RateLimiter) -> None:
    assert [await limiter.hit("a", HOUR) for _ in range(3)] == [None, None, None]
    wait = await limiter.hit("a", HOUR)
    assert wait is not None and 3500 < wait <= 3600
    assert await limiter.hit("a", HOUR) is not None  # still refused


async def test_keys_and_limits_are_separate_budgets(limiter: RateLimiter) -> None:
    other = Limit("other", 3, 3600)
    for _ in range(3):
        assert await limiter.hit("a", HOUR) is None
    assert await limiter.hit("a", HOUR) is not None
    assert await limiter.hit("b", HOUR) is None
    assert await limiter.hit("a", other) is None


async def test_reset_forgets_the_hits(limiter: RateLimiter) -> None:
    for _ in range(3):
        await limiter.hit("a", HOUR)
    assert await limiter.hit("a", HOUR) is not None
    await limiter.reset("a", HOUR)
    assert await limiter.hit("a", HOUR) is None


async def test_costs_spend_several_units(limiter: RateLimiter) -> None:
    five = Limit("five", 5, 3600)
    assert await limiter.hit("a", five, cost=3) is None
    assert await limiter.hit("a", five, cost=3) is not None  # 6 > 5: refused, not counted
    assert await limiter.hit("a", five, cost=2) is None
    assert await limiter.hit("a", five) is not None
    with pytest.raises(ValueError):
        await limiter.hit("a", five, cost=6)


async def test_concurrent_hits_never_exceed_the_amount(limiter: RateLimiter) -> None:
    ten = Limit("ten", 10, 3600)
    results = await asyncio.gather(*(limiter.hit("a", ten) for _ in range(60)))
    assert results.count(None) == 10


async def test_the_window_slides_and_the_answered_wait_is_enough(limiter: RateLimiter) -> None:
    # The one test that waits on the real clock (the library reads it): a 1 s window.
    quick = Limit("quick", 2, 1)
    assert await limiter.hit("a", quick) is None
    assert await limiter.hit("a", quick) is None
    wait = await limiter.hit("a", quick)
    assert wait is not None and 0 < wait <= 1
    await asyncio.sleep(wait + 0.05)
    assert await limiter.hit("a", quick) is None


async def test_nodes_on_one_backend_share_the_budget(backend: Backend) -> None:
    if backend.kind == "memory":
        pytest.skip("an in-process limiter is one node: nothing to share between two")
    a, b = backend.node(), backend.node()
    assert await a.hit("+989120000000", HOUR) is None
    assert await b.hit("+989120000000", HOUR) is None
    assert await a.hit("+989120000000", HOUR) is None
    assert await b.hit("+989120000000", HOUR) is not None
    await a.reset("+989120000000", HOUR)
    assert await b.hit("+989120000000", HOUR) is None


@pytest.mark.parametrize(
    ("name", "amount", "per_seconds"),
    [("", 1, 1), ("a/b", 1, 1), ("x", 0, 1), ("x", 1, 0)],
)
def test_a_limit_must_make_sense(name: str, amount: int, per_seconds: int) -> None:
    with pytest.raises(ValueError):
        Limit(name, amount, per_seconds)
