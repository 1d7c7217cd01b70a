"""The application's end of the update stream: a callback or a queue, and the waiters of
read-your-writes (:meth:`Client.wait_for_pts <chapar.client.Client.wait_for_pts>`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

from chapar.client.core import AnyUpdate, ClientClosed

log = logging.getLogger("chapar.client")


class Delivery:
    """Hands each update to ``on_update`` if given, else queues it for the single consumer
    of :meth:`stream` (unbounded: stalling would stall the socket and every answer).
    ``head(chat_id)`` is the pts delivered so far in a log (None: the user's; -1: none)."""

    def __init__(
        self,
        on_update: Callable[[AnyUpdate], None] | None,
        head: Callable[[int | None], int],
    ) -> None:
        self._on_update = on_update
        self._head = head
        self._queue: asyncio.Queue[AnyUpdate | None] = asyncio.Queue()
        self._waiters: list[tuple[int | None, int, asyncio.Future[None]]] = []
        self._ended = False
        self._fatal: BaseException | None = None

    def deliver(self, updates: list[AnyUpdate]) -> None:
        for u in updates:
            if self._on_update is None:
                self._queue.put_nowait(u)
                continue
            try:
                self._on_update(u)
            except Exception:
                log.exception("on_update raised; the update counts as delivered")
        for chat_id, pts, f in self._waiters:
            if not f.done() and pts <= self._head(chat_id):
                f.set_result(None)

    async def stream(self) -> AsyncIterator[AnyUpdate]:
        while True:
            u = await self._queue.get()
            if u is None:
                self._queue.put_nowait(None)  # for a later consumer too
                if self._fatal is not None:
                    raise ClientClosed("the client stopped") from self._fatal
                return
            yield u

    async def wait(self, chat_id: int | None, pts: int) -> None:
        """Until the log's update ``pts`` was delivered; ClientClosed if it never will be."""
        if self._head(chat_id) >= pts:
            return
        if self._ended:
            raise ClientClosed("the client is closed") from self._fatal
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((chat_id, pts, fut))
        try:
            await fut
        finally:
            self._waiters = [w for w in self._waiters if w[2] is not fut]

    def end(self, fatal: BaseException | None) -> None:
        """No more updates: end the stream (raising ``fatal`` as the cause, if any) and
        fail every waiter."""
        if self._ended:
            return
        self._ended = True
        self._fatal = fatal
        closed = ClientClosed("the client is closed")
        closed.__cause__ = fatal
        for _, _, f in self._waiters:
            if not f.done():
                f.set_exception(closed)
        self._queue.put_nowait(None)
