"""The Redis adapters against a private ``redis-server`` that the tests kill, freeze and
restart (never the machine's shared Redis, GUIDE §3): the bus recovers by itself and no
caller ever sees an exception from ``publish``; the limiter fails fast and recovers.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from chapar.adapters.redis.bus import RedisBus
from chapar.adapters.redis.limiter import RedisLimiter
from chapar.errors import Unavailable
from chapar.ports.limiter import Limit

WAIT_SECONDS = 15.0
REDIS_SERVER = shutil.which("redis-server")

if REDIS_SERVER is None and os.environ.get("CI"):
    pytest.fail("redis-server is not on PATH; CI must have it", pytrace=False)
pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not on PATH")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PrivateRedis:
    """One redis-server on a free loopback port, in its own directory, without disk
    persistence: killing it loses everything, like a crash of a cache."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert REDIS_SERVER and self.proc is None
        self.proc = subprocess.Popen(
            [
                *(REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.workdir)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + WAIT_SECONDS
        while not self._answers_ping():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=WAIT_SECONDS)
        self.proc = None

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    if server.proc is not None:
        server.signal(signal.SIGCONT)  # in case a test left it frozen
        server.kill()


PREFIX = "t:"  # the server is private to each test: nothing to isolate from


def fast_bus(url: str) -> RedisBus:
    # Short intervals so recovery happens quickly; the logic is the default one.
    return RedisBus(
        url,
        prefix=PREFIX,
        timeout=0.5,
        ping_interval=0.2,
        backoff_min=0.02,
        backoff_max=0.3,
    )


async def until(cond: Callable[[], bool], what: str) -> None:
    try:
        async with asyncio.timeout(WAIT_SECONDS):
            while not cond():  # noqa: ASYNC110 - polls state that has no event to wait on
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"not within {WAIT_SECONDS} s: {what}") from None


async def delivered(bus: RedisBus, topic: str, box: list[bytes]) -> bytes:
    """Publish numbered probes on topic until one reaches ``box``; return it. Every
    publish returns normally (no exception reaches the caller) or the test fails."""
    n = 0
    try:
        async with asyncio.timeout(WAIT_SECONDS):
            while not box:
                n += 1
                await bus.publish(topic, f"probe-{n}".encode())
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"none of {n} probes on {topic!r} arrived") from None
    return box[-1]


async def numsub(server: PrivateRedis, topic: str) -> int:
    """How many connections Redis has subscribed to the topic's channel, asked over a
    fresh connection (a kept one would be stale after each restart)."""
    channel = (PREFIX + topic).encode()
    async with Redis.from_url(server.url, socket_timeout=2) as admin:
        counts = dict(await admin.pubsub_numsub(channel))
    return int(counts[channel])


async def test_each_topic_is_subscribed_once_per_node(
    redis_server: PrivateRedis,
) -> None:
    bus = fast_bus(redis_server.url)
    try:
        subs = [bus.subscribe("chat:1", lambda _t, _p: None) for _ in range(5)]
        await until(lambda: bus.stats.connected, "the bus connects")
        assert await numsub(redis_server, "chat:1") == 1
        for sub in subs[:-1]:
            sub.close()
        # A probe on another topic gets through only after whatever was sent before it.
        probes: list[bytes] = []
        probe = bus.subscribe("probe", lambda _t, p: probes.append(p))
        await delivered(bus, "probe", probes)
        probe.close()
        assert await numsub(redis_server, "chat:1") == 1  # a local handler remains
        subs[-1].close()
        async with asyncio.timeout(WAIT_SECONDS):
            while await numsub(redis_server, "chat:1") != 0:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        assert bus.topic_count() == 0
    finally:
        await bus.close()


async def test_bus_recovers_from_redis_restarts_by_itself(
    redis_server: PrivateRedis,
) -> None:
    bus = fast_bus(redis_server.url)
    recovered: list[bool] = []
    bus.on_reconnect(lambda: recovered.append(True))
    kept: list[bytes] = []
    later: list[bytes] = []
    gone: list[bytes] = []
    try:
        bus.subscribe("user:1", lambda _t, p: kept.append(p))
        gone_sub = bus.subscribe("user:2", lambda _t, p: gone.append(p))
        await delivered(bus, "user:1", kept)
        assert bus.stats.connected and bus.stats.reconnects == 0

        # First outage: nothing changes meanwhile; the restarted Redis knows no
        # subscriptions, so the bus must re-subscribe on its own.
        redis_server.kill()
        await until(lambda: not bus.stats.connected, "the bus notices Redis is gone")
        dropped = bus.stats.dropped
        for i in range(50):
            await bus.publish("user:1", f"lost-{i}".encode())  # never raises
        await until(lambda: bus.stats.dropped >= dropped + 50, "pushes are counted as dropped")
        redis_server.start()
        await until(lambda: bus.stats.connected, "the bus reconnects by itself")
        assert bus.stats.reconnects == 1 and recovered == [True]
        kept.clear()
        assert (await delivered(bus, "user:1", kept)).startswith(b"probe-")
        assert await numsub(redis_server, "user:2") == 1

        # Second outage: topics come and go while Redis is away.
        redis_server.kill()
        await until(lambda: not bus.stats.connected, "the bus notices Redis is gone again")
        bus.subscribe("user:3", lambda _t, p: later.append(p))
        gone_sub.close()
        redis_server.start()
        await until(lambda: bus.stats.connected, "the bus reconnects again")
        assert bus.stats.reconnects == 2 and recovered == [True, True]
        kept.clear()
        await delivered(bus, "user:1", kept)
        await delivered(bus, "user:3", later)
        assert await numsub(redis_server, "user:1") == 1
        assert await numsub(redis_server, "user:2") == 0
        assert gone == [] and not any(p.startswith(b"lost-") for p in kept)
    finally:
        await bus.close()


async def test_bus_starts_while_redis_is_down_and_connects_when_it_comes(
    redis_server: PrivateRedis,
) -> None:
    redis_server.kill()
    bus = fast_bus(redis_server.url)
    got: list[bytes] = []
    try:
        bus.subscribe("user:1", lambda _t, p: got.append(p))
        await bus.publish("user:1", b"nobody hears this")
        await until(lambda: bus.stats.disconnects >= 2, "the bus keeps trying")
        assert not bus.stats.connected
        redis_server.start()
        await delivered(bus, "user:1", got)
        assert bus.stats.connected
    finally:
        await bus.close()


async def test_bus_detects_a_silent_redis_and_recovers_when_it_answers_again(
    redis_server: PrivateRedis,
) -> None:
    # SIGSTOP freezes the server with its sockets open: no EOF, only silence, as in a
    # network partition. Only the PING watchdog can see it.
    bus = fast_bus(redis_server.url)
    got: list[bytes] = []
    try:
        bus.subscribe("user:1", lambda _t, p: got.append(p))
        await delivered(bus, "user:1", got)
        disconnects = bus.stats.disconnects
        redis_server.signal(signal.SIGSTOP)
        await until(lambda: bus.stats.disconnects > disconnects, "the silence is noticed")
        for _ in range(20):
            async with asyncio.timeout(WAIT_SECONDS):  # a hang guard, not a timing claim
                await bus.publish("user:1", b"while frozen")
        redis_server.signal(signal.SIGCONT)
        await until(lambda: bus.stats.connected, "the bus reconnects")
        got.clear()
        await delivered(bus, "user:1", got)
    finally:
        await bus.close()


async def test_a_failing_handler_does_not_stop_the_others(redis_server: PrivateRedis) -> None:
    bus = fast_bus(redis_server.url)
    got: list[bytes] = []

    def broken(_topic: str, _payload: bytes) -> None:
        raise RuntimeError("a bug in one session")

    try:
        bus.subscribe("user:1", broken)
        bus.subscribe("user:1", lambda _t, p: got.append(p))
        await delivered(bus, "user:1", got)
        assert bus.stats.handler_errors >= 1 and bus.stats.connected
    finally:
        await bus.close()


async def test_limiter_fails_fast_while_redis_is_down_and_recovers(
    redis_server: PrivateRedis,
) -> None:
    limit = Limit("sms_per_phone", 2, 3600)
    limiter = RedisLimiter(redis_server.url, prefix=PREFIX, timeout=0.5)
    try:
        assert await limiter.hit("+989120000000", limit) is None
        redis_server.kill()
        with pytest.raises(Unavailable):
            await limiter.hit("+989120000000", limit)
        redis_server.start()  # empty: the budget starts again, as after any cache loss
        assert await limiter.hit("+989120000000", limit) is None
        assert await limiter.hit("+989120000000", limit) is None
        assert await limiter.hit("+989120000000", limit) is not None
    finally:
        await limiter.close()
