"""One log delivered exactly once, in pts order, whatever order pushes arrive in (sans-I/O).

The same machine serves the user's log and, one instance per chat, each group's and
channel's log (:mod:`chapar.client.core.chats`); only the function that reads an update's
pts differs. The pts rules themselves are :class:`chapar.protocol.updates.PtsCursor`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from chapar.client.core.updates import AnyUpdate, pts_of
from chapar.protocol.types import UpdatesTooLong
from chapar.protocol.updates import PtsCursor, Verdict


@dataclass(frozen=True)
class FetchDifference:
    """Ask updates.getDifference from ``pts``. ``wait``: the last fetch brought nothing
    although a gap remains (a push ran ahead of what the log shows yet), so long-poll
    instead of spinning."""

    pts: int
    wait: bool = False


@dataclass(frozen=True)
class Step:
    """What to deliver now (in order), and whether to fetch a difference next."""

    deliver: list[AnyUpdate] = field(default_factory=list)
    fetch: FetchDifference | None = None


class Sequencer:
    """Delivers the user's log exactly once, in pts order, whatever order pushes arrive in.

    Two states. *Live*: pushes are applied as they come; a duplicate is dropped; a gap
    stores the push and switches to *syncing*, answering with a :class:`FetchDifference`.
    *Syncing*: pushes are buffered (ephemeral ones still pass straight through); each
    difference is applied, then the buffer is drained, and if it still starts beyond the
    cursor another fetch follows. The transport calls :meth:`begin_sync` after every
    (re)connect, because pushes sent while it was away are lost by design; an
    ``updatesTooLong`` push (the server lost pushes: its event bus was away) starts a
    sync too — after the one running, if any, since that one may predate the loss.

    A client created without a pts starts syncing and needs :meth:`begin_sync` with the
    pts from updates.getState before anything is applied.

    ``key`` reads an update's place in this log (None: not an entry, pass it through);
    the default reads the user's log.
    """

    def __init__(
        self, pts: int | None = None, *, key: Callable[[AnyUpdate], int | None] = pts_of
    ) -> None:
        self._key = key
        self._cursor = None if pts is None else PtsCursor(pts)
        self._syncing = pts is None
        self._buffer: dict[int, AnyUpdate] = {}
        self._again = False  # updatesTooLong came during a sync: fetch once more after it
        # Ranges of the log the server never supplied; a healthy server leaves this empty.
        self.holes: list[tuple[int, int]] = []

    @property
    def pts(self) -> int | None:
        return None if self._cursor is None else self._cursor.pts

    @property
    def syncing(self) -> bool:
        return self._syncing

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def begin_sync(self, start: int | None = None) -> FetchDifference:
        """Enter syncing; ``start`` (getState's pts) is needed only while pts is unknown."""
        if self._cursor is None:
            if start is None:
                raise ValueError("the first sync needs a start pts (from updates.getState)")
            self._cursor = PtsCursor(start)
        self._syncing = True
        self._again = False
        return FetchDifference(self._cursor.pts)

    def push(self, updates: Iterable[AnyUpdate]) -> Step:
        deliver: list[AnyUpdate] = []
        fetch = None
        for u in updates:
            pts = self._key(u)
            if pts is None:
                deliver.append(u)  # too long as well: the app may have chat logs to fetch
                if isinstance(u, UpdatesTooLong):
                    if self._syncing or self._cursor is None:
                        self._again = True
                    else:
                        self._syncing = True
                        fetch = FetchDifference(self._cursor.pts)
            elif self._syncing or self._cursor is None:
                self._buffer.setdefault(pts, u)
            else:
                verdict = self._cursor.check(pts)
                if verdict is Verdict.APPLY:
                    self._cursor.advance(pts)
                    deliver.append(u)
                elif verdict is Verdict.GAP:
                    self._buffer[pts] = u
                    self._syncing = True
                    fetch = FetchDifference(self._cursor.pts)
        return Step(deliver, fetch)

    def difference(self, updates: Sequence[AnyUpdate], state_pts: int, more: bool) -> Step:
        """Apply one getDifference answer (``more`` is its ``slice`` flag)."""
        cursor = self._cursor
        if cursor is None or not self._syncing:
            raise RuntimeError("difference() without begin_sync()")
        start = cursor.pts
        deliver: list[AnyUpdate] = []
        for u in updates:
            pts = self._key(u)
            if pts is None:
                deliver.append(u)
                continue
            if pts <= cursor.pts:
                continue
            if pts > cursor.pts + 1:  # the log itself is missing entries: say so, go on
                self._skip(pts - 1)
            cursor.advance(pts)
            deliver.append(u)
        if more:
            return Step(deliver, FetchDifference(cursor.pts, wait=cursor.pts == start))
        if state_pts > cursor.pts:
            self._skip(state_pts)
        deliver.extend(self._drain())
        if self._buffer:
            return Step(deliver, FetchDifference(cursor.pts, wait=cursor.pts == start))
        if self._again:
            self._again = False
            return Step(deliver, FetchDifference(cursor.pts))
        self._syncing = False
        return Step(deliver)

    def reset(self, pts: int) -> None:
        """Move to ``pts`` on purpose while syncing, skipping what lies between without
        calling it a hole: a chat too far behind, whose recent history the app reloads."""
        if self._cursor is None or not self._syncing:
            raise RuntimeError("reset() without begin_sync()")
        self._cursor.pts = max(self._cursor.pts, pts)

    def _skip(self, to: int) -> None:
        assert self._cursor is not None
        self.holes.append((self._cursor.pts + 1, to))
        self._cursor.pts = to

    def _drain(self) -> list[AnyUpdate]:
        assert self._cursor is not None
        out = []
        for pts in sorted(self._buffer):
            verdict = self._cursor.check(pts)
            if verdict is Verdict.GAP:
                break
            u = self._buffer.pop(pts)
            if verdict is Verdict.APPLY:
                self._cursor.advance(pts)
                out.append(u)
        return out
