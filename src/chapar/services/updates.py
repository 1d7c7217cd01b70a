"""The update log as clients read it: state, difference, and long polling."""

from __future__ import annotations

import asyncio
import contextlib
from typing import cast

import msgspec

from chapar.db import log
from chapar.errors import BadRequest
from chapar.ports.store import Tx
from chapar.protocol import methods as m
from chapar.protocol.types import State, Update
from chapar.services.auth import AuthContext
from chapar.services.deps import Deps, user_topic

RECHECK_SECONDS = 5.0


class UpdatesService:
    def __init__(self, deps: Deps) -> None:
        self.d = deps

    async def get_state(self, ctx: AuthContext) -> State:
        pts = await self.d.store.read(lambda tx: log.current_pts(tx, ctx.user_id))
        return State(pts=pts, date=self.d.now())

    async def _difference(self, user_id: int, pts: int, limit: int) -> m.Difference:
        def read(tx: Tx) -> m.Difference:
            head = log.current_pts(tx, user_id)
            if pts > head:
                raise BadRequest(
                    "PERSISTENT_TIMESTAMP_INVALID", f"pts {pts} is ahead of the log ({head})"
                )
            rows = log.read_after(tx, user_id, pts, limit + 1)
            more = len(rows) > limit
            rows = rows[:limit]
            last = rows[-1][0] if rows else head
            updates = [msgspec.Raw(data.encode()) for _, data in rows]
            return m.Difference(
                updates=cast(list[Update], updates),
                state=State(pts=last if more else head, date=self.d.now()),
                slice=more,
            )

        return await self.d.store.read(read)

    async def get_difference(self, ctx: AuthContext, p: m.GetDifference) -> m.Difference:
        limit = min(p.limit, self.d.settings.difference_limit)
        diff = await self._difference(ctx.user_id, p.pts, limit)
        timeout = min(p.timeout, float(self.d.settings.long_poll_max_seconds))
        if diff.updates or timeout <= 0:
            return diff
        # Long poll: wait for a push hint on the user's topic, then read the log again.
        arrived = asyncio.Event()
        sub = self.d.bus.subscribe(user_topic(ctx.user_id), lambda _t, _p: arrived.set())
        try:
            diff = await self._difference(ctx.user_id, p.pts, limit)  # closes the race window
            if diff.updates:
                return diff
            # Re-read now and then as well: a shared bus may make a subscription live a
            # moment after subscribe() returns, and a hint sent in that gap is missed.
            deadline = asyncio.get_running_loop().time() + timeout
            while (left := deadline - asyncio.get_running_loop().time()) > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(arrived.wait(), min(left, RECHECK_SECONDS))
                arrived.clear()  # a hint without a logged update (typing) must not spin us
                diff = await self._difference(ctx.user_id, p.pts, limit)
                if diff.updates:
                    return diff
        finally:
            sub.close()
        return diff
