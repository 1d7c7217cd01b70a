"""Presence on this node: online / last seen, and telling people when it changes.

Why one queue and one worker: every presence change this node makes (a socket came or
went, a session went to the background, the lease renewals) is applied in the order it
happened, so a renewal can never bring back a connection that closed just before it;
and whatever queued up meanwhile leaves as one batch (one Redis pipeline). A socket never
waits for presence: a Redis outage costs wrong statuses for a while, not connections, and
the next renewal (every ``REFRESH_SECONDS``) writes this node's connections back.

When an op flips a user's status, ``updateUserStatus`` (ephemeral, no pts, as typing) is
published to the user topics of the people of their ``MAX_ANNOUNCE_PEERS`` most recent
private chats. A node that dies announces nothing: its users' leases lapse and readers
see them offline, last seen at the last renewal (clients also stop trusting an online
status past its ``expires``). Design notes: docs/architecture.md (Presence).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools

import structlog

from chapar.db import presence as db
from chapar.errors import BadRequest, ChaparError, Unavailable
from chapar.ports.presence import REFRESH_SECONDS, Flip, Op, Presence, Status
from chapar.ports.store import Tx
from chapar.protocol import methods as m
from chapar.protocol.envelope import encode_push
from chapar.protocol.types import (
    UpdateUserStatus,
    UserStatus,
    UserStatusEmpty,
    UserStatusOffline,
    UserStatusOnline,
)
from chapar.services.auth import AuthContext
from chapar.services.deps import Deps, user_topic

log = structlog.get_logger(__name__)

MAX_ANNOUNCE_PEERS = 100
_BATCH = 512
_CLOSE_SECONDS = 2.0

_Item = tuple[Op, "asyncio.Future[Flip] | None"]


def status_wire(s: Status) -> UserStatus:
    if s.online:
        return UserStatusOnline(expires=s.expires)
    if s.was_online is None:
        return UserStatusEmpty()
    return UserStatusOffline(was_online=s.was_online)


class PresenceService:
    def __init__(
        self,
        deps: Deps,
        presence: Presence,
        *,
        refresh_seconds: float = REFRESH_SECONDS,
    ) -> None:
        self.d = deps
        self.presence = presence
        self._refresh_seconds = refresh_seconds
        self._node = deps.random.token(6)  # connection names are unique across nodes
        self._ids = itertools.count(1)
        self._local: dict[str, tuple[int, int]] = {}  # conn -> (user, session)
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False

    # -- this node's connections (api/ws.py) ----------------------------------------------

    def connected(self, user_id: int, session_id: int) -> str:
        """A WebSocket of the session is live here; answer its name for :meth:`closed`."""
        conn = f"{self._node}.{next(self._ids)}"
        self._local[conn] = (user_id, session_id)
        self._submit(Op("connect", user_id, session_id, conn))
        return conn

    def closed(self, conn: str) -> None:
        entry = self._local.pop(conn, None)
        if entry is not None:
            self._submit(Op("disconnect", entry[0], entry[1], conn))

    # -- the API --------------------------------------------------------------------------

    async def update_status(self, ctx: AuthContext, p: m.UpdateStatus) -> bool:
        """The calling session's live connections (on any node) stop or start counting
        as online. A session without a live connection is offline anyway."""
        op = Op("away" if p.offline else "back", ctx.user_id, ctx.session_id)
        fut: asyncio.Future[Flip] = asyncio.get_running_loop().create_future()
        self._submit(op, fut)
        await fut
        return True

    async def get_statuses(self, ctx: AuthContext, p: m.GetStatuses) -> m.UserStatuses:
        ids = list(dict.fromkeys(p.user_ids))

        def read(tx: Tx) -> set[int]:
            return db.existing_ids(tx, ids)

        found = await self.d.store.read(read) if ids else set()
        missing = [i for i in ids if i not in found]
        if missing:
            raise BadRequest("USER_ID_INVALID", f"no such user: {missing[0]}")
        statuses = await self.presence.statuses(ids)
        return m.UserStatuses([m.UserStatusOf(i, status_wire(statuses[i])) for i in ids])

    async def status_of(self, user_id: int) -> UserStatus | None:
        """One user's status, or None while presence cannot be read (a profile is still
        worth answering without it)."""
        try:
            return status_wire((await self.presence.statuses([user_id]))[user_id])
        except Unavailable as e:
            log.warning("presence_read_failed", error=e.message)
            return None

    async def with_status(self, full: m.UserFull) -> m.UserFull:
        full.status = await self.status_of(full.user.id)
        return full

    # -- the worker -----------------------------------------------------------------------

    def _submit(self, op: Op, fut: asyncio.Future[Flip] | None = None) -> None:
        if self._closed:
            if fut is not None:
                fut.set_exception(Unavailable("PRESENCE_UNAVAILABLE", "shutting down"))
            return
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._work(), name="presence-worker"),
                asyncio.create_task(self._renew(), name="presence-renew"),
            ]
        self._queue.put_nowait((op, fut))

    async def _work(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < _BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._run(batch)
            except Exception:
                log.exception("presence_batch_failed")
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _run(self, batch: list[_Item]) -> None:
        ops = [op for op, _ in batch]
        try:
            flips = await self.presence.apply(ops)
        except ChaparError as e:
            log.warning("presence_write_failed", error=e.message, ops=len(ops))
            for _, fut in batch:
                if fut is not None and not fut.done():
                    fut.set_exception(e)
            return
        changed: dict[int, None] = {}  # in order, once each
        for (op, fut), flip in zip(batch, flips, strict=True):
            if fut is not None and not fut.done():
                fut.set_result(flip)
            if flip is not None:
                changed[op.user_id] = None
        if changed:
            await self._announce(list(changed))

    async def _announce(self, users: list[int]) -> None:

        def read(tx: Tx) -> list[list[int]]:
            return [db.recent_private_peers(tx, u, MAX_ANNOUNCE_PEERS) for u in users]

        try:
            # The status as readers see it now (another node may have changed it since).
            statuses = await self.presence.statuses(users)
            peers = await self.d.store.read(read)
        except ChaparError as e:
            log.warning("presence_announce_failed", error=e.message)
            return
        for user_id, to in zip(users, peers, strict=True):
            status = status_wire(statuses[user_id])
            frame = encode_push([UpdateUserStatus(user_id=user_id, status=status)])
            for peer in to:
                await self.d.bus.publish(user_topic(peer), frame)

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_seconds)
            for conn, (user_id, session_id) in self._local.items():
                self._queue.put_nowait((Op("refresh", user_id, session_id, conn), None))

    async def close(self) -> None:
        """Let queued changes (the sockets that closed while draining) leave, then stop."""
        if self._closed:
            return
        self._closed = True
        if self._tasks:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_CLOSE_SECONDS):
                    await self._queue.join()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.presence.close()
