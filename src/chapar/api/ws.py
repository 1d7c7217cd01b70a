"""A WebSocket session: requests as {id, method, params} text frames, answered by frames
with the same id, and pushes ({updates: [...]}) for the signed-in user.

Why a bounded queue for everything sent: a client that stops reading must not make the
server hold unbounded memory or slow anyone else; past ``ws_send_queue`` frames or
``ws_send_queue_bytes`` bytes waiting it is disconnected (close code 4008) and recovers
from the log when it comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import msgspec
import structlog
from aiohttp import WSMsgType, web

from chapar import metrics
from chapar.api.dispatch import Call, Dispatcher
from chapar.api.fanout import ChatFanout
from chapar.errors import ChaparError, PayloadTooLarge
from chapar.protocol.envelope import ErrorBody, decode_request, encode_error, encode_push
from chapar.protocol.types import UpdatesTooLong
from chapar.services.auth import AuthContext, AuthService
from chapar.services.deps import user_topic

if TYPE_CHECKING:
    from chapar.ports.bus import EventBus, Subscription
    from chapar.services.presence import PresenceService

log = structlog.get_logger(__name__)

TOO_LONG_FRAME = encode_push([UpdatesTooLong()])
CLOSE_SLOW_CONSUMER = 4008
CLOSE_REVOKED = 4401
CLOSE_TRY_AGAIN = 1013  # RFC 6455 "try again later": the store is away for the moment
MAX_IN_FLIGHT = 64
# Seconds a close frame may take to reach the client before the connection is cut.
CLOSE_TIMEOUT = 5.0


class WsRegistry:
    """The live sessions of this node, to close them when their token is revoked."""

    def __init__(self, fanout: ChatFanout, presence: PresenceService | None = None) -> None:
        self.by_session: dict[int, set[WsSession]] = {}
        self.all: set[WsSession] = set()
        self.fanout = fanout
        # A signed-in socket makes its user online (services/presence.py).
        self.presence = presence

    def add(self, s: WsSession) -> None:
        self.all.add(s)

    def bind(self, s: WsSession, session_id: int) -> None:
        self.by_session.setdefault(session_id, set()).add(s)

    def remove(self, s: WsSession) -> None:
        self.all.discard(s)
        if s.auth is not None:
            group = self.by_session.get(s.auth.session_id)
            if group is not None:
                group.discard(s)
                if not group:
                    del self.by_session[s.auth.session_id]

    def too_long(self) -> None:
        """Tell every signed-in session here to catch up from the logs (pushes were lost)."""
        for s in tuple(self.all):
            if s.auth is not None:
                s.send(TOO_LONG_FRAME)

    def revoke(self, session_id: int) -> None:
        for s in tuple(self.by_session.get(session_id, ())):
            s.close_soon(CLOSE_REVOKED, "session revoked")


class WsSession:
    def __init__(
        self,
        ws: web.WebSocketResponse,
        dispatcher: Dispatcher,
        bus: EventBus,
        auth_service: AuthService,
        registry: WsRegistry,
        ip: str,
        max_frame: int,
        queue_size: int,
        transport: asyncio.Transport | None = None,
        queue_bytes: int = 8 * 1024**2,
    ) -> None:
        self.ws = ws
        # To cut a connection whose close frame cannot leave (see _close).
        self._transport = transport
        self.dispatcher = dispatcher
        self.bus = bus
        self.auth_service = auth_service
        self.registry = registry
        self.ip = ip
        self.max_frame = max_frame
        self.auth: AuthContext | None = None
        self._sub: Subscription | None = None
        self._presence_conn: str | None = None
        self._out: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=queue_size)
        self._queued_bytes = 0  # of the frames in _out
        self._max_queued_bytes = queue_bytes
        self._in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    async def bind(self, auth: AuthContext) -> None:
        """Attach the session to a user: from now on their updates, and the posts of their
        groups and channels, are pushed here."""
        if self.auth is not None:
            return
        self.auth = auth
        self.registry.bind(self, auth.session_id)
        self._sub = self.bus.subscribe(user_topic(auth.user_id), self._on_push)
        await self.registry.fanout.attach(self, auth.user_id)
        if self.registry.presence is not None:
            self._presence_conn = self.registry.presence.connected(auth.user_id, auth.session_id)

    def _on_push(self, _topic: str, payload: bytes) -> None:
        self.send(payload)

    def send(self, frame: bytes) -> None:
        if self._closing:
            return
        try:
            if self._queued_bytes + len(frame) > self._max_queued_bytes:
                raise asyncio.QueueFull
            self._out.put_nowait(frame)
            self._queued_bytes += len(frame)
        except asyncio.QueueFull:
            metrics.WS_SLOW_CONSUMERS.inc()
            log.warning("ws_slow_consumer", user_id=self.auth.user_id if self.auth else None)
            self.close_soon(CLOSE_SLOW_CONSUMER, "too slow: reconnect and fetch the difference")

    def close_soon(self, code: int, reason: str) -> None:
        if self._closing:
            return
        self._closing = True
        task = asyncio.get_running_loop().create_task(self._close(code, reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _close(self, code: int, reason: str) -> None:
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await self.ws.close(code=code, message=reason.encode())
        except TimeoutError:
            # A client that reads nothing at all never receives the close frame: it waits
            # behind the frames already in the socket. Cut the connection instead of
            # holding its buffers and descriptor for as long as the client likes.
            log.warning("ws_close_timeout", code=code)
            if self._transport is not None:
                self._transport.abort()

    async def _writer(self) -> None:
        try:
            while True:
                frame = await self._out.get()
                if frame is None:
                    return
                self._queued_bytes -= len(frame)
                await self.ws.send_frame(frame, WSMsgType.TEXT)
        except (ConnectionError, RuntimeError):
            return  # the peer went away; the reader loop notices too

    async def run(self, auth: AuthContext | None = None) -> None:
        """Serve the socket until it closes; ``auth``: bind to that user first."""
        self.registry.add(self)
        metrics.WS_CONNECTIONS.inc()
        writer = asyncio.get_running_loop().create_task(self._writer())
        try:
            if auth is not None:
                try:
                    await self.bind(auth)
                except ChaparError as e:
                    # The store went away after the token check (a cached token needs no
                    # store; the user's chats do). Send the client away to come back,
                    # rather than serve it without its chats' pushes; the finally below
                    # undoes whatever binding was done.
                    log.warning("ws_bind_failed", error=e.type)
                    await self._close(CLOSE_TRY_AGAIN, "the service is busy: reconnect soon")
                    return
            async for msg in self.ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    await self._in_flight.acquire()
                    task = asyncio.get_running_loop().create_task(self._handle(msg.data))
                    self._tasks.add(task)
                    task.add_done_callback(self._done)
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            self._closing = True
            metrics.WS_CONNECTIONS.dec()
            if self._sub is not None:
                self._sub.close()
            if self.auth is not None:
                self.registry.fanout.detach(self, self.auth.user_id)
            if self._presence_conn is not None and self.registry.presence is not None:
                self.registry.presence.closed(self._presence_conn)
            self.registry.remove(self)
            # Calls still running are left to finish, not cancelled: a write cancelled while
            # the store commits it would skip its push, and the other users' live sessions
            # would miss the update until their next gap. Their answers are dropped (send()
            # ignores a closing session); a long poll ends within long_poll_max_seconds.
            with contextlib.suppress(asyncio.QueueFull):
                self._out.put_nowait(None)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._in_flight.release()

    async def _handle(self, data: bytes | str) -> None:
        raw = data.encode() if isinstance(data, str) else data
        if len(raw) > self.max_frame:
            err = PayloadTooLarge(
                "FRAME_TOO_LARGE", f"a frame holds at most {self.max_frame} bytes"
            )
            self.send(encode_error(ErrorBody(err.code, err.type, err.message)))
            return
        try:
            req = decode_request(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as e:
            err2 = ChaparError("INPUT_INVALID", f"malformed frame: {e}")
            self.send(encode_error(ErrorBody(err2.code, err2.type, err2.message)))
            return
        call = Call(auth=self.auth, ip=self.ip, door="ws")
        _status, answer = await self.dispatcher.call(req.method, bytes(req.params), call, req.id)
        if call.new_token is not None and self.auth is None:
            with contextlib.suppress(ChaparError):
                await self.bind(await self.auth_service.resolve_token(call.new_token))
        self.send(answer)
