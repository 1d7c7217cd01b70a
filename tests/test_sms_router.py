"""Routing rules and provider health, as pure decisions: prefix matching, priority, weights,
kinds, and the circuit breaker's states on an injected clock (no sleeping)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from chapar.ports.clock import ManualClock
from chapar.ports.sms_provider import Kind
from chapar.services.sms_health import Circuit, CircuitBreaker
from chapar.services.sms_router import (
    NoRoute,
    Pick,
    RoundDone,
    Route,
    SmsRouter,
    Target,
    WaitUntil,
    routes_from_settings,
)
from chapar.sms_settings import RouteTarget, SmsRoute

SMS: frozenset[Kind] = frozenset({"sms"})
BOTH: frozenset[Kind] = frozenset({"sms", "call"})


def router(
    routes: list[Route], kinds: dict[str, frozenset[Kind]], clock: ManualClock | None = None
) -> SmsRouter:
    clock = clock or ManualClock()
    health = {n: CircuitBreaker(n, clock, failure_threshold=2, open_seconds=30) for n in kinds}
    return SmsRouter(routes, kinds, health, random.Random(7))


IRAN_AND_REST = [
    Route("+98", (Target("kavenegar", 0), Target("smpp", 1))),
    Route("+98935", (Target("smpp", 0),)),
    Route("*", (Target("twilio", 0),)),
]
KINDS = {"kavenegar": BOTH, "smpp": SMS, "twilio": SMS}


def test_the_longest_matching_prefix_wins_and_star_takes_the_rest() -> None:
    r = router(IRAN_AND_REST, KINDS)
    assert r.pick("+989121234567", "sms") == Pick("kavenegar")
    assert r.pick("+989351234567", "sms") == Pick("smpp")
    assert r.pick("+447700900123", "sms") == Pick("twilio")


def test_without_a_star_route_other_numbers_have_no_route() -> None:
    r = router(IRAN_AND_REST[:2], KINDS)
    assert r.pick("+447700900123", "sms") == NoRoute()
    assert not r.can_send("+447700900123", "sms")


def test_failover_walks_the_priorities_then_the_round_is_done() -> None:
    r = router(IRAN_AND_REST, KINDS)
    assert r.pick("+989121234567", "sms", tried=["kavenegar"]) == Pick("smpp")
    assert r.pick("+989121234567", "sms", tried=["kavenegar", "smpp"]) == RoundDone()


def test_only_providers_of_the_kind_are_candidates() -> None:
    r = router(IRAN_AND_REST, KINDS)
    assert r.can_send("+989121234567", "call")
    assert r.pick("+989121234567", "call", tried=["kavenegar"]) == RoundDone()
    assert r.pick("+447700900123", "call") == NoRoute()


def test_equal_priorities_share_traffic_by_weight() -> None:
    routes = [Route("*", (Target("a", 0, 3), Target("b", 0, 1), Target("c", 1, 100)))]
    r = router(routes, {"a": SMS, "b": SMS, "c": SMS})
    counts = Counter(r.pick("+1555", "sms") for _ in range(4000))
    assert set(counts) == {Pick("a"), Pick("b")}  # priority 1 is only a fallback
    assert 2700 < counts[Pick("a")] < 3300


def test_an_open_circuit_is_skipped_and_its_reopening_awaited() -> None:
    clock = ManualClock()
    r = router(IRAN_AND_REST, KINDS, clock)
    for _ in range(2):
        r.health["kavenegar"].failure()
    assert r.pick("+989121234567", "sms") == Pick("smpp")
    for _ in range(2):
        r.health["smpp"].failure()
    assert r.pick("+989121234567", "sms") == WaitUntil(clock.now() + 30)
    clock.advance(30)
    assert r.pick("+989121234567", "sms") == Pick("kavenegar")  # the half-open probe


def test_routes_from_settings_keep_order_and_explicit_priorities() -> None:
    configured = [SmsRoute(prefix="+98", providers=["a", RouteTarget(provider="b", priority=5)])]
    assert routes_from_settings(configured, ["a", "b"]) == [
        Route("+98", (Target("a", 0), Target("b", 5)))
    ]
    assert routes_from_settings([], ["x", "y"]) == [Route("*", (Target("x", 0), Target("y", 1)))]


@pytest.mark.parametrize(
    ("routes", "error"),
    [
        ([Route("*", (Target("nobody"),))], "unknown provider"),
        ([Route("98", (Target("a"),))], "E.164"),
        ([Route("*", (Target("a"), Target("a")))], "twice"),
        ([Route("*", (Target("a", 0, 0),))], "weight"),
        ([Route("*", (Target("a"),)), Route("*", (Target("a"),))], "two routes"),
    ],
)
def test_bad_routes_are_refused_at_start(routes: list[Route], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        router(routes, {"a": SMS})


# -- the circuit breaker ----------------------------------------------------------------------
def state(b: CircuitBreaker) -> Circuit:
    return b.state  # read afresh each time: it moves with the clock


def test_the_circuit_opens_after_the_threshold_and_success_resets_the_count() -> None:
    clock = ManualClock()
    b = CircuitBreaker("p", clock, failure_threshold=3, open_seconds=30)
    b.failure()
    b.failure()
    b.success()
    b.failure()
    b.failure()
    assert state(b) is Circuit.CLOSED and b.available()
    b.failure()
    assert state(b) is Circuit.OPEN and not b.available() and not b.acquire()


def test_half_open_lets_one_probe_through_and_its_verdict_decides() -> None:
    clock = ManualClock()
    b = CircuitBreaker("p", clock, failure_threshold=1, open_seconds=30, probe_seconds=60)
    b.failure()
    clock.advance(29.9)
    assert state(b) is Circuit.OPEN
    clock.advance(0.1)
    assert state(b) is Circuit.HALF_OPEN
    assert b.acquire()
    assert not b.available()  # one probe at a time
    b.failure()  # the probe failed: open again, for a full period
    assert state(b) is Circuit.OPEN and b.next_available_at() == clock.now() + 30
    clock.advance(30)
    assert b.acquire()
    b.success()
    assert state(b) is Circuit.CLOSED and b.failures == 0


def test_a_probe_without_a_verdict_frees_its_slot_after_probe_seconds() -> None:
    clock = ManualClock()
    b = CircuitBreaker("p", clock, failure_threshold=1, open_seconds=10, probe_seconds=60)
    b.failure()
    clock.advance(10)
    assert b.acquire()
    assert b.next_available_at() == clock.now() + 60
    clock.advance(60)
    assert b.available()
    assert b.acquire()
    b.release()  # ended without a verdict (the number was invalid)
    assert b.available() and state(b) is Circuit.HALF_OPEN
