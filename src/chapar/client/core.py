"""The client's sans-I/O core: bytes and updates in, events and decisions out.

Modelled on h11: nothing here touches a socket, a clock or the event loop, so every rule
(how answers find their calls, which calls may be repeated after a dropped connection, how
the update stream stays gapless) is tested with plain function calls, and another
transport (trio, a browser bridge, a test double) can reuse it unchanged.

Two machines live here:

* :class:`Rpc` numbers requests, encodes them, matches answers to pending calls and turns
  error envelopes into :class:`ClientError`. It remembers which calls were written to the
  current connection so the transport can repeat the safe ones after a reconnect.
* :class:`Sequencer` applies the user's update log in pts order using
  :class:`chapar.protocol.updates.PtsCursor` (see that module for the rules). While a
  difference is being fetched it buffers pushes, because applying them before the missing
  updates would break the order.

Exceptions (one tree, as in httpx)::

    ChaparClientError
    ├── ClientError          the server answered with an error envelope (code, type, …)
    └── TransportError       the call could not complete over the connection
        ├── ConnectionLost   the socket dropped while a call that is unsafe to repeat was
        │                    in flight: it may or may not have been applied
        ├── ProtocolError    the server sent a frame this client cannot read
        └── ClientClosed     the client was closed, or stopped for good after a fatal error
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import msgspec

from chapar.protocol.envelope import ErrorBody, decode_frame, encode_request
from chapar.protocol.types import State, Update, UpdatesTooLong
from chapar.protocol.updates import PtsCursor, Verdict


# -- exceptions -------------------------------------------------------------------------
class ChaparClientError(Exception):
    """Base of everything this library raises on purpose."""


class ClientError(ChaparClientError):
    """The server refused a call. ``type`` is the stable UPPER_SNAKE name to branch on;
    ``code`` the HTTP-like status; ``retry_after`` (seconds) is set on FLOOD_WAIT."""

    def __init__(self, code: int, type: str, message: str, retry_after: int | None = None):
        self.code = code
        self.type = type
        self.message = message
        self.retry_after = retry_after
        super().__init__(f"{code} {type}: {message}")

    @classmethod
    def from_body(cls, body: ErrorBody) -> ClientError:
        return cls(body.code, body.type, body.message, body.retry_after)


class TransportError(ChaparClientError):
    """The connection, not the server's judgement, stopped the call."""


class ConnectionLost(TransportError):
    """The socket dropped with a non-repeatable call in flight; its outcome is unknown."""


class ProtocolError(TransportError):
    """A frame from the server did not follow the envelope format."""


class ClientClosed(TransportError):
    """The client is closed; ``__cause__`` holds the fatal error if there was one."""


# -- updates ----------------------------------------------------------------------------
@dataclass(frozen=True)
class UnknownUpdate:
    """An update type this version of the library does not know (a newer server).

    Kept rather than rejected: it still carries a pts, and dropping it would open a gap
    that no difference could ever close."""

    type: str
    pts: int | None
    data: Mapping[str, Any]


AnyUpdate: TypeAlias = Update | UnknownUpdate

_update_decoder = msgspec.json.Decoder(Update)


def decode_update(raw: bytes | msgspec.Raw) -> AnyUpdate:
    """Decode one update; unknown types become :class:`UnknownUpdate`."""
    try:
        update: AnyUpdate = _update_decoder.decode(raw)
        return update
    except msgspec.ValidationError:
        pass
    except msgspec.DecodeError as e:
        raise ProtocolError(f"malformed update: {e}") from e
    data = msgspec.json.decode(raw)
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ProtocolError("an update without a type")
    pts = data.get("pts")
    return UnknownUpdate(data["type"], pts if isinstance(pts, int) else None, data)


def pts_of(update: AnyUpdate) -> int | None:
    """The update's place in the user's log; None for an ephemeral one (typing) and for
    one of a group's or channel's own log (a top-level ``chat_id``): that pts counts in
    the chat's sequence, and taking it for the user's would skip the user's updates."""
    if isinstance(update, UnknownUpdate):
        if "chat_id" in update.data:
            return None
    elif getattr(update, "chat_id", None) is not None:
        return None
    pts = getattr(update, "pts", None)
    return pts if isinstance(pts, int) else None


class _WireDifference(msgspec.Struct):
    updates: list[msgspec.Raw]
    state: State
    slice: bool


@dataclass(frozen=True)
class Difference:
    """updates.getDifference as the client reads it (tolerant of unknown update types)."""

    updates: list[AnyUpdate]
    state: State
    slice: bool


def decode_difference(raw: bytes | msgspec.Raw) -> Difference:
    try:
        d = msgspec.json.decode(raw, type=_WireDifference)
    except (msgspec.DecodeError, msgspec.ValidationError) as e:
        raise ProtocolError(f"malformed difference: {e}") from e
    return Difference([decode_update(u) for u in d.updates], d.state, d.slice)


# -- requests and answers ---------------------------------------------------------------
# Methods that change nothing, or whose repetition leaves the same state. Everything else
# is repeated only when its params carry a random_id (the server deduplicates on it).
IDEMPOTENT_METHODS = frozenset(
    {
        "messages.readHistory",
        "messages.setTyping",
        "account.updateProfile",
        "contacts.importContacts",
    }
)
_READ_PREFIXES = ("get", "resolve", "search")


def is_repeatable(method: str, params: Mapping[str, Any]) -> bool:
    """May this call be sent again after the connection dropped with it in flight?"""
    verb = method.rpartition(".")[2]
    return verb.startswith(_READ_PREFIXES) or method in IDEMPOTENT_METHODS or "random_id" in params


@dataclass
class _Pending:
    method: str
    frame: bytes
    repeatable: bool
    sent: bool = False


@dataclass(frozen=True)
class Answer:
    id: int
    result: msgspec.Raw


@dataclass(frozen=True)
class Failure:
    id: int
    error: ClientError


@dataclass(frozen=True)
class Push:
    updates: list[msgspec.Raw]


@dataclass(frozen=True)
class StrayError:
    """An error frame without id: the server could not read one of our frames at all."""

    error: ClientError


RpcEvent: TypeAlias = Answer | Failure | Push | StrayError


class Rpc:
    """Request ids, pending calls and the answers to them, for one client across
    reconnections (ids keep counting, so a late answer can never match a newer call)."""

    def __init__(self) -> None:
        self._next_id = 1
        self._pending: dict[int, _Pending] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def request(self, method: str, params: Mapping[str, Any]) -> int:
        """Register a call; its frame goes out with the next :meth:`take_unsent`."""
        id_ = self._next_id
        self._next_id += 1
        frame = encode_request(id_, method, params)
        self._pending[id_] = _Pending(method, frame, is_repeatable(method, params))
        return id_

    def take_unsent(self) -> list[bytes]:
        """Frames to write to the current connection, now counted as sent on it."""
        out = []
        for p in self._pending.values():
            if not p.sent:
                p.sent = True
                out.append(p.frame)
        return out

    def cancel(self, id_: int) -> None:
        """Forget a call (timed out or cancelled); a late answer to it is ignored."""
        self._pending.pop(id_, None)

    def connection_lost(self) -> list[tuple[int, ConnectionLost]]:
        """The socket is gone: repeatable calls wait for the next one, the others fail."""
        failed = []
        for id_, p in list(self._pending.items()):
            if not p.sent:
                continue
            if p.repeatable:
                p.sent = False
            else:
                del self._pending[id_]
                msg = f"{p.method}: connection lost; it may or may not have been applied"
                failed.append((id_, ConnectionLost(msg)))
        return failed

    def receive(self, data: bytes | str) -> RpcEvent | None:
        """Read one frame. None means an answer to a call nobody waits for any more."""
        try:
            frame = decode_frame(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as e:
            raise ProtocolError(f"malformed frame: {e}") from e
        if frame.id is None:
            if frame.updates is not None:
                return Push(frame.updates)
            if frame.error is not None:
                return StrayError(ClientError.from_body(frame.error))
            raise ProtocolError("a frame with neither id nor updates")
        if self._pending.pop(frame.id, None) is None:
            return None
        if frame.ok and frame.error is None:
            return Answer(frame.id, frame.result)
        if frame.error is not None:
            return Failure(frame.id, ClientError.from_body(frame.error))
        raise ProtocolError(f"answer {frame.id} is neither ok nor an error")


# -- the update sequence ----------------------------------------------------------------
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
    """

    def __init__(self, pts: int | None = None) -> None:
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
            pts = pts_of(u)
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
            pts = pts_of(u)
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


# -- reconnection -----------------------------------------------------------------------
@dataclass(frozen=True)
class Backoff:
    """Delays between reconnection attempts: exponential, capped, with jitter.

    Jitter matters more than the curve: after a server restart every client reconnects at
    once, and a random half of each delay spreads that herd out."""

    base: float = 0.05
    cap: float = 5.0
    factor: float = 2.0

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        ceiling = min(self.cap, self.base * self.factor ** min(max(attempt, 0), 32))
        return ceiling / 2 + ceiling / 2 * rand()
