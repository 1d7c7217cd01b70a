"""The asyncio transport around the sans-I/O core: one WebSocket, kept alive.

A :class:`Client` owns a background task that connects, and when the socket drops or the
server restarts, reconnects with :class:`~chapar.client.core.Backoff`. After every
connect it first writes the calls still waiting (the repeatable ones, see
:func:`~chapar.client.core.is_repeatable`), then fetches the difference of the user's log
from its pts, slice by slice, before applying any new push; then it lists the dialogs and
fetches the difference of every group and channel that moved (:mod:`.chat_sync`). So the
application sees each logged update exactly once and in its log's pts order, however often
the connection breaks; the server's logs are the truth and pushes are only hints.

Typical use::

    auth = await sign_in("http://127.0.0.1:8080", "+99966000001")
    async with Client("http://127.0.0.1:8080", auth.token, pts=0) as c:
        await c.send_message(peer_id, "سلام")
        async for update in c.updates():
            ...
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from types import TracebackType
from typing import Any, Literal

import aiohttp
import msgspec
from yarl import URL

from chapar.client.chat_sync import ChatSync
from chapar.client.core import (
    Answer,
    AnyUpdate,
    Backoff,
    ChatSequencer,
    ClientClosed,
    ClientError,
    Failure,
    ProtocolError,
    Push,
    Rpc,
    Sequencer,
    StrayError,
    TransportError,
    chat_of,
    decode_update,
)
from chapar.client.delivery import Delivery
from chapar.client.methods import Methods
from chapar.client.user_sync import UserSync

log = logging.getLogger("chapar.client")

# Close codes after which reconnecting cannot help (see chapar.api.ws).
FATAL_CLOSE_CODES = frozenset({4401})
# Close codes by which the server asks for a pause (1013: try again later, e.g. a node whose
# store is away for the moment): the next connect backs off as after a failed one, or every
# client would be back at once, and again, while the cause lasts.
BACK_OFF_CLOSE_CODES = frozenset({1013})
# Seconds a re-fetch waits on the server when a push ran ahead of the readable log.
GAP_LONG_POLL = 1.0


async def _finish(tasks: list[asyncio.Task[Any]]) -> None:
    """Await cancelled tasks; what they raise was already handled or does not matter now."""
    for t in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await t


class Client(Methods):
    """A signed-in connection to a Chapar server that survives disconnects.

    ``pts`` is where the user's update stream starts: 0 replays the whole log, a saved
    value resumes after it, None (the default) starts at the log's current head. ``chats``
    (chat id -> pts, as :attr:`chat_pts` gave it) resumes groups and channels; without
    it, each chat starts where the first dialog listing finds it. Updates go to
    ``on_update`` if given, otherwise to the single consumer of :meth:`updates`; the
    queue is unbounded because stalling the socket would also stall every call's answer.
    ``poll_interval``: seconds between checks of the logs while no push comes.
    ``difference_limit``: updates per slice when catching up.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        pts: int | None = None,
        chats: Mapping[int, int] | None = None,
        on_update: Callable[[AnyUpdate], None] | None = None,
        session: aiohttp.ClientSession | None = None,
        backoff: Backoff | None = None,
        call_timeout: float = 30.0,
        connect_timeout: float = 30.0,
        heartbeat: float | None = 20.0,
        poll_interval: float | None = 60.0,
        difference_limit: int = 1000,
    ) -> None:
        url = URL(base_url)
        self.ws_url = url.with_scheme("wss" if url.scheme == "https" else "ws") / "api" / "ws"
        self._token = token
        self._session = session
        self._own_session = session is None
        self._backoff = backoff or Backoff()
        self._call_timeout = call_timeout
        self._connect_timeout = connect_timeout
        self._heartbeat = heartbeat
        self._poll_interval = poll_interval
        self._rpc = Rpc()
        self._seq = Sequencer(pts)
        self._ready = asyncio.Event()  # set by each catch-up of the chats: connect() waits
        self._delivery = Delivery(on_update, self._head)
        self._deliver = self._delivery.deliver
        self._chats = ChatSync(
            ChatSequencer(chats),
            call=self.call_raw,
            deliver=self._deliver,
            reach_user_pts=lambda pts: self._user.reach(pts),
            on_failure=self._sync_failed,
            on_caught_up=self._ready.set,
            limit=difference_limit,
            gap_wait=GAP_LONG_POLL,
        )
        self._user = UserSync(
            self._seq,
            api=self,
            deliver=self._deliver,
            wait=self.wait_for_pts,
            chats=self._chats,
            on_failure=self._sync_failed,
            limit=difference_limit,
            gap_long_poll=GAP_LONG_POLL,
        )
        self._futures: dict[int, asyncio.Future[msgspec.Raw]] = {}
        self._ws: aiohttp.ClientWebSocketResponse[Any] | None = None
        self._send_lock = asyncio.Lock()
        self._runner: asyncio.Task[None] | None = None
        self._chores: set[asyncio.Task[Any]] = set()
        self._closed = False  # no new calls, no reconnects
        self._cleaned_up = False  # tasks, socket and owned session released
        self._fatal: BaseException | None = None
        self.connections = 0  # sockets opened so far: 1 + reconnects
        self.last_close_code: int | None = None

    # -- lifecycle ------------------------------------------------------------------
    async def connect(self) -> None:
        """Open the socket, catch up the user's log and list the dialogs (within
        ``connect_timeout``); drops after that are handled inside. On failure the client
        is closed, so that nothing keeps reconnecting behind an exception the caller has
        already seen."""
        if self._closed:
            raise ClientClosed("the client was closed") from self._fatal
        if self._runner is None:
            if self._session is None:
                self._session = aiohttp.ClientSession()
            self._runner = asyncio.get_running_loop().create_task(self._run())
        try:
            await asyncio.wait_for(self._ready.wait(), self._connect_timeout)
        except TimeoutError:
            await self.close()
            limit = self._connect_timeout
            raise TransportError(f"not connected and synced within {limit} s") from None
        if self._fatal is not None:
            await self.close()
            raise ClientClosed("the client stopped") from self._fatal

    async def close(self) -> None:
        """Stop reconnecting, fail waiting calls with ClientClosed, end :meth:`updates`."""
        if self._cleaned_up:
            return
        self._cleaned_up = self._closed = True
        tasks = [t for t in (self._runner, *self._chores) if t is not None]
        for t in tasks:
            t.cancel()
        await _finish([*tasks, *self._user.halt(), *self._chats.halt()])
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        self._shut_down(ClientClosed("the client was closed"))
        if self._own_session and self._session is not None:
            await self._session.close()

    async def __aenter__(self) -> Client:
        await self.connect()
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def reconnect(self) -> None:
        """Drop the socket now (a network change, say); the client reconnects and resyncs."""
        ws = self._ws
        if ws is not None and not ws.closed:
            self._chore(ws.close())

    @property
    def pts(self) -> int | None:
        """The pts of the user's last update delivered: save it to resume a later Client."""
        return self._seq.pts

    @property
    def chat_pts(self) -> dict[int, int]:
        """Each followed group's and channel's last delivered pts: save it with :attr:`pts`
        and pass it as ``chats`` to resume a later Client."""
        return self._chats.chats.cursors

    @property
    def connected(self) -> bool:
        return self._ws is not None and not self._ws.closed

    # -- calls ----------------------------------------------------------------------
    async def call_raw(
        self, method: str, params: Mapping[str, Any] | None = None, *, long_poll: float = 0
    ) -> msgspec.Raw:
        """Call a method; its result as undecoded JSON. Waits through reconnects, up to
        ``call_timeout`` (then TimeoutError); wrap it in asyncio.timeout() to wait less."""
        if self._closed:
            raise ClientClosed("the client is closed") from self._fatal
        if self._runner is None:
            raise TransportError("call connect() first")
        id_ = self._rpc.request(method, params or {})
        fut: asyncio.Future[msgspec.Raw] = asyncio.get_running_loop().create_future()
        self._futures[id_] = fut
        try:
            await self._flush()
            return await asyncio.wait_for(fut, self._call_timeout + long_poll)
        finally:
            self._futures.pop(id_, None)
            self._rpc.cancel(id_)

    # -- updates --------------------------------------------------------------------
    def updates(self) -> AsyncIterator[AnyUpdate]:
        """Every update once: each log's in its pts order, ephemeral ones as they come.
        Ends when the client is closed; raises ClientClosed after a fatal error."""
        return self._delivery.stream()

    async def wait_for_pts(self, pts: int) -> None:
        """Wait until the user's update with this pts was delivered (read-your-writes);
        bound the wait with asyncio.timeout()."""
        await self._delivery.wait(None, pts)

    async def wait_for_chat_pts(self, chat_id: int, pts: int) -> None:
        """Wait until the chat's update with this pts was delivered (or skipped by a
        ChatReset); bound the wait with asyncio.timeout()."""
        await self._delivery.wait(chat_id, pts)

    def _head(self, chat_id: int | None) -> int:
        if chat_id is None:
            return self._user.head
        head = self._chats.chats.pts(chat_id)
        return -1 if head is None else head

    # -- the connection -------------------------------------------------------------
    async def _run(self) -> None:
        try:
            await self._reconnect_forever()
        except Exception as e:  # a bug here: stop visibly rather than leave callers hanging
            log.exception("connection task failed")
            self._shut_down(e)

    async def _reconnect_forever(self) -> None:
        failures = 0
        while not self._closed:
            assert self._session is not None
            try:
                ws = await self._session.ws_connect(
                    self.ws_url,
                    headers={"Authorization": f"Bearer {self._token}"},
                    heartbeat=self._heartbeat,
                    decode_text=False,
                )
            except aiohttp.WSServerHandshakeError as e:
                if e.status == 401:
                    self._shut_down(ClientError(401, "AUTH_KEY_UNREGISTERED", e.message))
                    return
                failures += 1
            except (aiohttp.ClientError, OSError, TimeoutError) as e:
                log.debug("connect failed: %r", e)
                failures += 1
            else:
                self.connections += 1
                await self._serve(ws)
                if ws.close_code in FATAL_CLOSE_CODES:
                    code = ws.close_code
                    self._shut_down(ClientError(401, "SESSION_REVOKED", f"closed with {code}"))
                    return
                failures = failures + 1 if ws.close_code in BACK_OFF_CLOSE_CODES else 0
            await asyncio.sleep(self._backoff.delay(failures))

    async def _serve(self, ws: aiohttp.ClientWebSocketResponse[Literal[False]]) -> None:
        self._ws = ws
        # Buffer pushes from the first frame on: the difference must come before them.
        self._user.connected()
        poller = asyncio.get_running_loop().create_task(self._poll())
        try:
            await self._flush()
            async for msg in ws:
                if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    self._on_frame(ws, msg.data)
                elif msg.type == aiohttp.WSMsgType.ERROR:
                    break
        finally:
            self._ws = None
            self.last_close_code = ws.close_code
            for id_, err in self._rpc.connection_lost():
                self._resolve(id_, err)
            # Cancel every task of this connection before awaiting any, so that none
            # takes a step (and starts another) in between.
            poller.cancel()
            await _finish([poller, *self._user.halt(), *self._chats.halt()])
            if not ws.closed:
                with contextlib.suppress(Exception):
                    await ws.close()

    def _on_frame(self, ws: aiohttp.ClientWebSocketResponse[Any], data: bytes | str) -> None:
        updates: list[AnyUpdate] = []
        try:
            event = self._rpc.receive(data)
            if isinstance(event, Push):
                updates = [decode_update(u) for u in event.updates]
        except ProtocolError:
            log.exception("unreadable frame; reconnecting")
            self._chore(ws.close())
            return
        if isinstance(event, Answer):
            self._resolve(event.id, event.result)
        elif isinstance(event, Failure):
            self._resolve(event.id, event.error)
        elif isinstance(event, StrayError):
            log.warning("the server could not read a frame: %s", event.error)
        elif isinstance(event, Push):
            self._user.push(u for u in updates if chat_of(u) is None)
            self._chats.push(u for u in updates if chat_of(u) is not None)

    def _resolve(self, id_: int, outcome: msgspec.Raw | BaseException) -> None:
        fut = self._futures.get(id_)
        if fut is None or fut.done():
            return
        if isinstance(outcome, BaseException):
            fut.set_exception(outcome)
        else:
            fut.set_result(outcome)

    async def _flush(self) -> None:
        """Write every frame not yet written to the current socket (new or repeated)."""
        async with self._send_lock:
            ws = self._ws
            if ws is None or ws.closed:
                return  # sent after the next connect
            for frame in self._rpc.take_unsent():
                try:
                    await ws.send_frame(frame, aiohttp.WSMsgType.TEXT)
                except (ConnectionError, RuntimeError, aiohttp.ClientError):
                    return  # the reader notices; connection_lost() decides what is repeated

    # -- catching up (user_sync.py, chat_sync.py) ------------------------------------
    def _sync_failed(self, e: Exception) -> None:
        """A catch-up call failed: reconnect (and so retry), or stop if that cannot help."""
        if self._closed:
            return
        if isinstance(e, ClientError):
            # 401: signed out. PERSISTENT_TIMESTAMP_INVALID: our pts is ahead of the log, so
            # the server lost data or this is another account; guessing would hide that.
            fatal = e.code == 401 or e.type == "PERSISTENT_TIMESTAMP_INVALID"
        else:  # a bug if not a transport failure: stop visibly rather than sit stuck or loop
            fatal = not isinstance(e, TransportError | TimeoutError)
        if fatal:
            if not isinstance(e, ClientError):
                log.error("sync failed", exc_info=e)
            self._shut_down(e)
            return
        log.warning("sync failed (%r); reconnecting", e)
        self.reconnect()

    async def _poll(self) -> None:
        """Pushes are hints: one lost on the way (a node failing over, say) would leave
        an idle session behind until the next push. So check the logs now and then."""
        while self._poll_interval is not None:  # until the connection ends and cancels it
            await asyncio.sleep(self._poll_interval)
            self._user.poll()

    def _chore(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    def _shut_down(self, error: BaseException) -> None:
        """End for good: fail waiting calls, end the update stream, wake connect()."""
        if not isinstance(error, ClientClosed):
            self._fatal = error
            log.error("client stopped: %s", error)
        self._closed = True
        closed = ClientClosed("the client is closed")
        closed.__cause__ = self._fatal
        for fut in self._futures.values():
            if not fut.done():
                fut.set_exception(closed)
        self._delivery.end(self._fatal)
        self._ready.set()
        if self._ws is not None and not self._ws.closed:
            self._chore(self._ws.close())
