"""The I/O around :class:`~chapar.client.core.Sequencer`: the user's own log, caught up
with ``updates.getDifference`` after every connect, gap, poll and ``updatesTooLong``.

It also decides when the groups and channels are caught up (:mod:`.chat_sync`): after a
connect, a poll or ``updatesTooLong``, once the user's log is, because the dialog listing
has to be read against a caught-up user log (core/chats.py says why).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable

from chapar.client.chat_sync import ChatSync
from chapar.client.core import AnyUpdate, FetchDifference, Sequencer
from chapar.client.methods import Methods
from chapar.protocol.types import UpdateChannel, UpdatesTooLong


class UserSync:
    def __init__(
        self,
        seq: Sequencer,
        *,
        api: Methods,
        deliver: Callable[[list[AnyUpdate]], None],
        wait: Callable[[int], Awaitable[None]],
        chats: ChatSync,
        on_failure: Callable[[Exception], None],
        limit: int = 1000,
        gap_long_poll: float = 1.0,
    ) -> None:
        self.seq = seq
        self._api = api
        self._deliver = deliver
        self._wait = wait
        self._chats = chats
        self._on_failure = on_failure
        self._limit = limit
        self._gap_long_poll = gap_long_poll
        self._task: asyncio.Task[None] | None = None
        self._chats_due = True  # list the dialogs once the user's log is caught up

    @property
    def head(self) -> int:
        """The pts delivered so far; -1 before the first sync."""
        return -1 if self.seq.pts is None else self.seq.pts

    def connected(self) -> None:
        """A new socket: pushes sent while away are lost, so fetch from the pts (or, the
        first time without one, from updates.getState), then the chats."""
        self._chats_due = True
        self._start(self.seq.begin_sync() if self.seq.pts is not None else None)

    def poll(self) -> None:
        self._chats_due = True
        if self._task is None and self.seq.pts is not None:
            self._start(self.seq.begin_sync())

    def push(self, updates: Iterable[AnyUpdate]) -> None:
        step = self.seq.push(updates)
        self._deliver_log(step.deliver)
        if step.fetch is not None and self._task is None:
            self._start(step.fetch)

    def halt(self) -> list[asyncio.Task[None]]:
        """Cancel the sync in progress (the caller awaits the returned task)."""
        task, self._task = self._task, None
        if task is None:
            return []
        task.cancel()
        return [task]

    async def reach(self, pts: int) -> None:
        """Deliver the log up to ``pts`` (a dialog listing's snapshot), fetching the
        difference if no push is bringing it."""
        while self.head < pts:
            task = self._task or self._start(self.seq.begin_sync())
            waiter = asyncio.ensure_future(self._wait(pts))
            try:
                await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
            if waiter.done() and not waiter.cancelled():
                waiter.result()  # ClientClosed if the client stopped meanwhile

    def _deliver_log(self, updates: list[AnyUpdate]) -> None:
        """Membership changes re-point the chat cursors right behind their updateChannel,
        so the app hears of a join before the chat's posts."""
        for u in updates:
            if isinstance(u, UpdateChannel):
                # The cursor moves first, so chat_pts agrees with what the app is shown.
                step = self._chats.chats.membership(u)
                self._deliver([u])
                self._chats.handle(step)
                continue
            self._deliver([u])
            if isinstance(u, UpdatesTooLong):  # pushes were lost: the chats' ones too
                self._chats_due = True

    def _start(self, fetch: FetchDifference | None) -> asyncio.Task[None]:
        self._task = asyncio.get_running_loop().create_task(self._sync(fetch))
        return self._task

    async def _sync(self, fetch: FetchDifference | None) -> None:
        try:
            if fetch is None:
                fetch = self.seq.begin_sync((await self._api.get_state()).pts)
            while fetch is not None:
                wait = self._gap_long_poll if fetch.wait else 0
                diff = await self._api.get_difference(fetch.pts, self._limit, long_poll=wait)
                step = self.seq.difference(diff.updates, diff.state.pts, diff.slice)
                self._deliver_log(step.deliver)
                fetch = step.fetch
            if self._chats_due:
                self._chats_due = False
                self._chats.catch_up()
        except Exception as e:
            self._on_failure(e)
        finally:
            if self._task is asyncio.current_task():
                self._task = None
