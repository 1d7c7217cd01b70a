"""The I/O around :class:`~chapar.client.core.chats.ChatSequencer`: dialog listings and
``updates.getChannelDifference`` calls, for one :class:`~chapar.client.Client`.

A *catch-up* (after every connect, poll and ``updatesTooLong``) pages messages.getDialogs,
waits until the user's log has been delivered up to the listing's ``state.pts`` (so
joins and leaves are applied in the right order, see core/chats.py), then lets the
sequencer compare. Each chat that needs it gets one fetch task, which follows the
difference slice by slice; at most ``concurrency`` calls run at once, so a user in 500
chats coming back does not put 500 calls on the socket together. Everything is cancelled
when the socket drops and started again by the catch-up after the reconnect.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import msgspec

from chapar.client.core.chats import ChatSequencer, ChatStep, DialogPager, FetchChannelDifference
from chapar.client.core.errors import ClientError
from chapar.client.core.updates import AnyUpdate, decode_channel_difference
from chapar.client.methods import decode_result
from chapar.protocol import methods as m

log = logging.getLogger("chapar.client")

# The server will not show this chat to the user (any more): stop following it. The
# user's log says why (updateChannel with chat null) when it is a leave or a ban.
NO_ACCESS = frozenset({"CHANNEL_PRIVATE", "CHANNEL_INVALID", "USER_NOT_PARTICIPANT"})


class ChatSync:
    def __init__(
        self,
        chats: ChatSequencer,
        *,
        call: Callable[[str, Mapping[str, Any]], Awaitable[msgspec.Raw]],
        deliver: Callable[[list[AnyUpdate]], None],
        reach_user_pts: Callable[[int], Awaitable[None]],
        on_failure: Callable[[Exception], None],
        on_caught_up: Callable[[], None],
        limit: int = 1000,
        concurrency: int = 8,
        gap_wait: float = 1.0,
    ) -> None:
        self.chats = chats
        self._call = call
        self._deliver = deliver
        self._reach_user_pts = reach_user_pts
        self._on_failure = on_failure
        self._on_caught_up = on_caught_up
        self.limit = limit
        self._gap_wait = gap_wait
        self._slots = asyncio.Semaphore(concurrency)
        self._catch_up_task: asyncio.Task[None] | None = None
        self._again = False
        self._fetches: dict[int, asyncio.Task[None]] = {}

    # -- events from the connection ------------------------------------------------------
    def push(self, updates: Iterable[AnyUpdate]) -> None:
        self.handle(self.chats.push(updates))

    def handle(self, step: ChatStep) -> None:
        if step.deliver:
            self._deliver(step.deliver)
        for f in step.fetch:
            self._start_fetch(f)

    def catch_up(self) -> None:
        """List the dialogs and fetch every chat that moved; once more if one is running,
        since its listing may predate what made this one necessary."""
        if self._catch_up_task is not None:
            self._again = True
            return
        self._catch_up_task = asyncio.get_running_loop().create_task(self._catch_up())

    def halt(self) -> list[asyncio.Task[None]]:
        """The socket is gone: cancel the catch-up and every fetch (no answer will come).
        Cancelling is synchronous, so no task takes another step; the caller awaits the
        returned tasks."""
        tasks = [t for t in (self._catch_up_task, *self._fetches.values()) if t is not None]
        self._catch_up_task = None
        self._fetches.clear()
        self._again = False
        for t in tasks:
            t.cancel()
        self.chats.connection_lost()
        return tasks

    # -- tasks ----------------------------------------------------------------------------
    async def _catch_up(self) -> None:
        try:
            while True:
                self._again = False
                pager = DialogPager()
                while pager.params is not None:
                    raw = await self._call("messages.getDialogs", pager.params)
                    pager.feed(decode_result(raw, m.Dialogs))
                await self._reach_user_pts(pager.seen_at)
                heads = pager.heads.values()
                self.handle(self.chats.reconcile(heads, pager.seen_at, pager.complete))
                self._on_caught_up()
                if not self._again:
                    return
        except Exception as e:
            self._on_failure(e)
        finally:
            if self._catch_up_task is asyncio.current_task():
                self._catch_up_task = None

    def _start_fetch(self, f: FetchChannelDifference) -> None:
        old = self._fetches.get(f.chat_id)
        if old is not None and not old.done():
            old.cancel()  # its sync was superseded; its answer would be ignored anyway
        self._fetches[f.chat_id] = asyncio.get_running_loop().create_task(self._fetch(f))

    async def _fetch(self, first: FetchChannelDifference) -> None:
        f = first
        try:
            while True:
                if f.wait:  # a push ran ahead of the readable log: do not spin
                    await asyncio.sleep(self._gap_wait)
                params = {"channel": {"chat_id": f.chat_id}, "pts": f.pts, "limit": self.limit}
                async with self._slots:
                    raw = await self._call("updates.getChannelDifference", params)
                step = self.chats.difference(f, decode_channel_difference(raw))
                following = None
                for g in step.fetch:
                    if g.chat_id == f.chat_id:
                        following = g
                    else:
                        self._start_fetch(g)
                if step.deliver:
                    self._deliver(step.deliver)
                if following is None:
                    return
                f = following
        except ClientError as e:
            if e.type in NO_ACCESS:
                log.info("chat %d: %s; no longer followed", f.chat_id, e.type)
                self.chats.forget(f.chat_id)
            else:
                self.chats.abandon(f)
                self._on_failure(e)
        except Exception as e:
            self.chats.abandon(f)
            self._on_failure(e)
        finally:
            if self._fetches.get(first.chat_id) is asyncio.current_task():
                del self._fetches[first.chat_id]
