"""Redis connection pools with bounded waits and no hidden retries.

Every Redis adapter builds its connections here so that a dead or unreachable Redis costs a
caller at most about ``timeout`` seconds (redis-py's defaults are a 5 s socket timeout and
three retries with up to 10 s of backoff each), and so that each adapter owns its recovery
policy: one place decides when to try again, not two stacked on each other.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import BlockingConnectionPool
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.maint_notifications import MaintNotificationsConfig


def make_pool(
    url: str, *, timeout: float = 1.0, retries: int = 1, max_connections: int = 32
) -> BlockingConnectionPool:
    """A pool for ``redis://``, ``rediss://`` or ``unix://`` URLs.

    ``retries=1`` lets a command survive a connection that went stale while Redis
    restarted (the first write fails, one reconnect succeeds) without waiting when Redis
    is really down. The pool is bounded: under a burst, callers wait at most ``timeout``
    for a free connection instead of opening thousands.
    """
    return BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        socket_keepalive=True,
        retry=Retry(NoBackoff(), retries),
        decode_responses=False,
        # A cloud-only RESP3 feature; off so every connection speaks plain RESP2.
        maint_notifications_config=MaintNotificationsConfig(enabled=False),
    )


def dedicated_connection(pool: BlockingConnectionPool) -> AbstractConnection:
    """A connection outside the pool's accounting, with the pool's settings but no retry:
    for a long-lived connection (pub/sub) whose owner reconnects by itself. RESP2 always,
    so its owner parses one wire format whatever the URL asks for."""
    kwargs: dict[str, Any] = {
        **pool.connection_kwargs,
        "retry": Retry(NoBackoff(), 0),
        "protocol": 2,
    }
    conn: AbstractConnection = pool.connection_class(**kwargs)
    return conn
