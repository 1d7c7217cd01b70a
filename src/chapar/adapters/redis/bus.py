"""The Redis event bus: push hints between the nodes of a cluster over PUBLISH/SUBSCRIBE.

Why it is built this way:

* **One subscriber connection per node.** A topic is SUBSCRIBEd when its first local
  handler appears and UNSUBSCRIBEd when its last one goes, so Redis sends each message once
  per interested node, however many sessions that node holds, and the node fans it out to
  its handlers (GUIDE §2). Subscription changes are coalesced: the connection's task
  compares the wanted topics with the subscribed ones, so a topic dropped and re-added in
  between costs nothing.
* **Publishing never raises and never waits on Redis.** ``publish`` puts the message on a
  bounded queue; one writer task sends whatever is queued in one pipelined batch, in queue
  order over one connection, so order per topic is kept and a burst costs one round trip.
  If Redis is slow or gone, the queue fills or the writer pauses, and messages are dropped
  and counted: push is only a hint, clients catch up from the update log.
* **It recovers by itself.** The subscriber reconnects with jittered exponential backoff
  and re-subscribes every topic that still has handlers. A restart is seen at once (EOF);
  a silent partition is seen when a PING sent every ``ping_interval`` seconds goes
  unanswered for another interval. Messages published while a node was disconnected are
  lost for it; :meth:`RedisBus.on_reconnect` lets the layer above tell its clients to
  fetch the difference.
* **redis-py's own retries and PubSub object are not used** for the subscriber: a bare
  connection whose commands and replies this module reads keeps exactly one reconnect
  policy (this one), without hidden re-subscription racing ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import RedisError

from chapar.adapters.redis.connection import dedicated_connection, make_pool
from chapar.ports.bus import Handler

log = structlog.get_logger(__name__)

# Channels per SUBSCRIBE command when re-subscribing many topics at once.
_CHUNK = 1000


@dataclass
class BusStats:
    """What metrics read. Counters only grow; ``connected`` is the health flag."""

    connected: bool = False  # subscriber up, every wanted topic confirmed by Redis
    published: int = 0  # messages Redis accepted
    dropped: int = 0  # messages not sent: queue full, Redis unreachable, or bus closed
    received: int = 0  # messages from Redis for a topic with local handlers
    handler_errors: int = 0  # handlers that raised (logged, delivery goes on)
    disconnects: int = 0  # subscriber connections lost or failed to open
    reconnects: int = 0  # subscriber connections re-established after the first


async def _stop(tasks: Iterable[asyncio.Task[None]]) -> None:
    """Cancel tasks and wait until they are done. On Python 3.11 ``asyncio.wait_for``
    (which redis-py uses for socket timeouts) can swallow a cancellation that races with
    the awaited operation finishing, so cancel again until each task has stopped."""
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.1)
    for task in tasks:
        if not task.cancelled():
            task.exception()  # already handled by the owner, or moot: mark it retrieved


class _Sub:
    __slots__ = ("_bus", "handler", "topic")

    def __init__(self, bus: RedisBus, topic: str, handler: Handler) -> None:
        self._bus, self.topic, self.handler = bus, topic, handler

    def close(self) -> None:
        self._bus._remove(self)


class RedisBus:
    """An :class:`~chapar.ports.bus.EventBus` on Redis; channel = ``prefix + topic``."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "chapar:",
        timeout: float = 1.0,
        queue_size: int = 10_000,
        batch_size: int = 512,
        ping_interval: float = 5.0,
        backoff_min: float = 0.05,
        backoff_max: float = 5.0,
    ) -> None:
        # One writer task uses the pool: one connection, plus one spare for a reconnect.
        self._pool = make_pool(url, timeout=timeout, max_connections=2)
        self._redis: Redis = Redis(connection_pool=self._pool)
        self._prefix = prefix.encode()
        self._timeout = timeout
        self._batch_size = batch_size
        self._ping_interval = ping_interval
        self._backoff = (backoff_min, backoff_max)
        # Topic -> its local subscriptions (a dict: ordered, and O(1) to remove from).
        self._topics: dict[str, dict[_Sub, None]] = {}
        self._queue: asyncio.Queue[tuple[bytes, bytes]] = asyncio.Queue(queue_size)
        self._paused_until = 0.0  # publish drops at once until then (Redis just failed)
        self._dirty: set[str] = set()  # topics gained or lost since the last sync
        self._changed = asyncio.Event()  # _dirty is not empty
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        self._reconnect_callbacks: list[Callable[[], None]] = []
        self._unlogged_drops = 0
        self._last_drop_log = -math.inf
        self.stats = BusStats()
        # State of the current subscriber connection, reset on each connect.
        self._active: set[str] = set()
        self._unconfirmed = 0
        self._up = False
        self._reconnecting = False
        self._last_rx = 0.0

    # -- the port --------------------------------------------------------------------------

    async def publish(self, topic: str, payload: bytes) -> None:
        self._start()
        if self._closed or asyncio.get_running_loop().time() < self._paused_until:
            self._drop(1, "redis unavailable" if not self._closed else "bus closed")
            return
        try:
            self._queue.put_nowait((self._channel(topic), payload))
        except asyncio.QueueFull:
            self._drop(1, "publish queue full")

    def subscribe(self, topic: str, handler: Handler) -> _Sub:
        sub = _Sub(self, topic, handler)
        subs = self._topics.setdefault(topic, {})
        subs[sub] = None
        if len(subs) == 1:
            self._mark_dirty(topic)
        self._start()
        return sub

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # A short chance for what is queued (a revocation, say) to leave before shutdown.
        if self._tasks and not self._queue.empty():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._timeout):
                    await self._queue.join()
        await _stop(self._tasks)
        self._tasks.clear()
        self._topics.clear()
        self.stats.connected = False
        await self._redis.aclose()
        await self._pool.aclose()

    # -- beyond the port -------------------------------------------------------------------

    def topic_count(self) -> int:
        return len(self._topics)

    def backlog(self) -> int:
        """Messages published here and not yet sent to Redis: the bus's lag on this node
        (the writer sends them in pipelined batches; a growing backlog means Redis or the
        network cannot keep up)."""
        return self._queue.qsize()

    def on_reconnect(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` each time the subscriber is back and re-subscribed after
        an outage: pushes published meanwhile never reached this node's handlers."""
        self._reconnect_callbacks.append(callback)

    # -- internals -------------------------------------------------------------------------

    def _channel(self, topic: str) -> bytes:
        return self._prefix + topic.encode()

    def _start(self) -> None:
        if self._tasks or self._closed:
            return
        self._tasks = [
            asyncio.create_task(self._write_loop(), name="redis-bus-writer"),
            asyncio.create_task(self._subscribe_loop(), name="redis-bus-subscriber"),
        ]

    def _remove(self, sub: _Sub) -> None:
        subs = self._topics.get(sub.topic)
        if subs and sub in subs:
            del subs[sub]
            if not subs:
                del self._topics[sub.topic]
                self._mark_dirty(sub.topic)

    def _mark_dirty(self, topic: str) -> None:
        self._dirty.add(topic)
        self._changed.set()

    def _delay(self, failures: int) -> float:
        low, high = self._backoff
        return random.uniform(low, min(high, low * 2.0 ** min(failures, 30)))

    def _drop(self, n: int, reason: str) -> None:
        # Counted always; logged at most every 10 s so an outage does not flood the logs.
        self.stats.dropped += n
        self._unlogged_drops += n
        now = asyncio.get_running_loop().time()
        if now - self._last_drop_log >= 10.0:
            log.warning("bus_push_dropped", count=self._unlogged_drops, reason=reason)
            self._unlogged_drops, self._last_drop_log = 0, now

    # The writer: queued messages leave in pipelined batches over one connection.

    async def _write_loop(self) -> None:
        failures = 0
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._batch_size and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._send(batch)
            except Exception as e:
                failures += 1
                dropped = len(batch) + self._clear_queue()
                pause = self._delay(failures)
                self._paused_until = asyncio.get_running_loop().time() + pause
                if failures == 1:
                    log.warning("bus_publish_failed", error=repr(e), pause=round(pause, 3))
                self._drop(dropped, "redis unavailable")
            else:
                if failures:
                    log.info("bus_publish_recovered", after_failures=failures)
                failures = 0
                self.stats.published += len(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _send(self, batch: list[tuple[bytes, bytes]]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for channel, payload in batch:
                pipe.publish(channel, payload)
            await pipe.execute()

    def _clear_queue(self) -> int:
        n = 0
        while not self._queue.empty():
            self._queue.get_nowait()
            self._queue.task_done()
            n += 1
        return n

    # The subscriber: one connection, a reader task and a task that sends commands.

    async def _subscribe_loop(self) -> None:
        failures = 0
        while True:
            conn: AbstractConnection | None = None
            try:
                conn = dedicated_connection(self._pool)
                await conn.connect()  # type: ignore[no-untyped-call]  # redis-py lacks a hint
                await self._serve(conn)
            except Exception as e:
                # Whatever broke, the bus must not die: count, log once, reconnect.
                self.stats.disconnects += 1
                if self._up or failures == 0:
                    unexpected = not isinstance(e, RedisError | OSError)  # a bug: show where
                    log.warning("bus_subscriber_lost", error=repr(e), exc_info=unexpected)
            finally:
                if self._up:
                    failures = 0
                self._up = False
                self._reconnecting = True  # the next time up is a recovery
                self.stats.connected = False
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.disconnect(nowait=True)
            failures += 1
            await asyncio.sleep(self._delay(failures))

    async def _serve(self, conn: AbstractConnection) -> None:
        self._active = set()
        self._unconfirmed = 0
        self._last_rx = asyncio.get_running_loop().time()
        self._dirty = set(self._topics)  # a new connection: subscribe everything wanted
        self._changed.set()
        tasks = {
            asyncio.create_task(self._read(conn)),
            asyncio.create_task(self._sync(conn)),
        }
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
            raise ConnectionError("subscriber task ended")
        finally:
            await _stop(tasks)

    async def _sync(self, conn: AbstractConnection) -> None:
        """Bring Redis's subscriptions in line with the wanted topics; PING when idle.

        Only the topics that changed are looked at, so the cost of a session coming or
        going does not grow with the number of topics the node holds."""
        loop = asyncio.get_running_loop()
        ping_sent: float | None = None
        next_ping = loop.time()
        while True:
            try:
                async with asyncio.timeout(max(0.0, next_ping - loop.time())):
                    await self._changed.wait()
            except TimeoutError:
                if ping_sent is not None and self._last_rx < ping_sent:
                    raise ConnectionError("redis did not answer PING") from None
                ping_sent, next_ping = loop.time(), loop.time() + self._ping_interval
                await conn.send_command("PING", check_health=False)
                continue
            self._changed.clear()
            dirty, self._dirty = self._dirty, set()
            add = [t for t in dirty if t in self._topics and t not in self._active]
            remove = [t for t in dirty if t not in self._topics and t in self._active]
            for command, topics in (("SUBSCRIBE", add), ("UNSUBSCRIBE", remove)):
                for i in range(0, len(topics), _CHUNK):
                    chunk = topics[i : i + _CHUNK]
                    self._unconfirmed += len(chunk)
                    await conn.send_command(
                        command, *(self._channel(t) for t in chunk), check_health=False
                    )
            self._active.update(add)
            self._active.difference_update(remove)

    async def _read(self, conn: AbstractConnection) -> None:
        loop = asyncio.get_running_loop()
        while True:
            reply = await conn.read_response(
                timeout=math.inf, disconnect_on_error=False, push_request=True
            )
            self._last_rx = loop.time()
            self._on_reply(reply)

    def _on_reply(self, reply: Any) -> None:
        kind = reply[0] if isinstance(reply, list) and reply else None
        if kind == b"message":
            self._deliver(reply[1], reply[2])
        elif kind in (b"subscribe", b"unsubscribe"):
            self._unconfirmed -= 1
        if not self._up and self._unconfirmed <= 0 and kind != b"message":
            self._mark_up()

    def _mark_up(self) -> None:
        self._up = True
        self.stats.connected = True
        if self._reconnecting:
            self._reconnecting = False
            self.stats.reconnects += 1
            log.info("bus_subscriber_reconnected", topics=len(self._active))
            for callback in tuple(self._reconnect_callbacks):
                try:
                    callback()
                except Exception:
                    log.exception("bus_reconnect_callback_failed")

    def _deliver(self, channel: bytes, payload: bytes) -> None:
        if not channel.startswith(self._prefix):
            return
        topic = channel[len(self._prefix) :].decode()
        subs = self._topics.get(topic)
        if not subs:
            return  # unsubscribed locally; Redis has not yet seen the UNSUBSCRIBE
        self.stats.received += 1
        for sub in tuple(subs):
            try:
                sub.handler(topic, payload)
            except Exception:
                # A broken handler must not cost the other sessions their pushes.
                self.stats.handler_errors += 1
                log.exception("bus_handler_failed", topic=topic)
