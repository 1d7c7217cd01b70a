"""The contract every RateLimiter adapter must pass, run on each adapter (GUIDE §2)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from chapar.adapters.memory.limiter import MemoryLimiter
from chapar.adapters.redis.limiter import RedisLimiter
from chapar.ports.limiter import Limit, RateLimiter
from tests.contracts.backends import KINDS, Backend, open_backend


def _redis_limiter(url: str, prefix: str) -> RateLimiter:
    return RedisLimiter(url, prefix=prefix + "limits")  # as app.make_limiter names it


@pytest.fixture(params=KINDS)
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend[RateLimiter]]:
    backend = Backend(request.param, MemoryLimiter, _redis_limiter)
    async with open_backend(backend, "limiter") as b:
        yield b


@pytest.fixture
def limiter(backend: Backend[RateLimiter]) -> RateLimiter:
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


async def test_nodes_on_one_backend_share_the_budget(backend: Backend[RateLimiter]) -> None:
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
