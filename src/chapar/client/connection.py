"""The asyncio transport around the sans-I/O core: one WebSocket, kept alive.

A :class:`Client` owns a background task that connects, and when the socket drops or the
server restarts, reconnects with :class:`~chapar.client.core.Backoff`. After every
connect it first writes the calls still waiting (the repeatable ones, see
:func:`~chapar.client.core.is_repeatable`), then fetches the difference from its pts,
slice by slice, before applying any new push. So the application sees each logged update
exactly once and in pts order, however often the connection breaks; the server's log is
the truth and pushes are only hints.

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
import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from types import TracebackType
from typing import Any, Literal, TypeVar

import aiohttp
import msgspec
from yarl import URL

from chapar.client.core import (
    Answer,
    AnyUpdate,
    Backoff,
    ClientClosed,
    ClientError,
    Difference,
    Failure,
    FetchDifference,
    ProtocolError,
    Push,
    Rpc,
    Sequencer,
    StrayError,
    TransportError,
    decode_difference,
    decode_update,
)
from chapar.protocol import methods as m
from chapar.protocol.envelope import ErrorBody
from chapar.protocol.types import State

log = logging.getLogger("chapar.client")
T = TypeVar("T")

# Close codes after which reconnecting cannot help (see chapar.api.ws).
FATAL_CLOSE_CODES = frozenset({4401})
# Seconds a re-fetch waits on the server when a push ran ahead of the readable log.
GAP_LONG_POLL = 1.0


def _decode(raw: msgspec.Raw, type_: type[T]) -> T:
    try:
        return msgspec.json.decode(raw, type=type_)
    except (msgspec.DecodeError, msgspec.ValidationError) as e:
        raise ProtocolError(f"unexpected result: {e}") from e


class Client:
    """A signed-in connection to a Chapar server that survives disconnects.

    ``pts`` is where the update stream starts: 0 replays the whole log, a saved value
    resumes after it, None (the default) starts at the log's current head. Updates go
    to ``on_update`` if given, otherwise to the single consumer of :meth:`updates`; the
    queue is unbounded because stalling the socket would also stall every call's answer.
    ``poll_interval``: seconds between checks of the log while no push comes.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        pts: int | None = None,
        on_update: Callable[[AnyUpdate], None] | None = None,
        session: aiohttp.ClientSession | None = None,
        backoff: Backoff | None = None,
        call_timeout: float = 30.0,
        connect_timeout: float = 30.0,
        heartbeat: float | None = 20.0,
        poll_interval: float | None = 60.0,
    ) -> None:
        url = URL(base_url)
        self.ws_url = url.with_scheme("wss" if url.scheme == "https" else "ws") / "api" / "ws"
        self._token = token
        self._on_update = on_update
        self._session = session
        self._own_session = session is None
        self._backoff = backoff or Backoff()
        self._call_timeout = call_timeout
        self._connect_timeout = connect_timeout
        self._heartbeat = heartbeat
        self._poll_interval = poll_interval
        self._rpc = Rpc()
        self._seq = Sequencer(pts)
        self._futures: dict[int, asyncio.Future[msgspec.Raw]] = {}
        self._queue: asyncio.Queue[AnyUpdate | None] = asyncio.Queue()
        self._ws: aiohttp.ClientWebSocketResponse[Any] | None = None
        self._send_lock = asyncio.Lock()
        self._ready = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._sync_task: asyncio.Task[None] | None = None
        self._chores: set[asyncio.Task[Any]] = set()
        self._pts_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._closed = False  # no new calls, no reconnects
        self._cleaned_up = False  # tasks, socket and owned session released
        self._fatal: BaseException | None = None
        self.connections = 0  # sockets opened so far: 1 + reconnects
        self.last_close_code: int | None = None

    # -- lifecycle ------------------------------------------------------------------
    async def connect(self) -> None:
        """Open the socket and finish the first sync (within ``connect_timeout``); drops
        after that are handled inside. On failure the client is closed, so that nothing
        keeps reconnecting behind an exception the caller has already seen."""
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
        tasks = [t for t in (self._runner, self._sync_task, *self._chores) if t is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
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
        """The pts of the last update delivered: save it to resume a later Client there."""
        return self._seq.pts

    @property
    def connected(self) -> bool:
        return self._ws is not None and not self._ws.closed

    # -- calls ----------------------------------------------------------------------
    async def call_raw(self, method: str, params: Mapping[str, Any] | None = None) -> msgspec.Raw:
        """Call a method; its result as undecoded JSON. Waits through reconnects, up to
        ``call_timeout`` (then TimeoutError); wrap it in asyncio.timeout() to wait less."""
        return await self._request(method, params or {}, self._call_timeout)

    async def _request(self, method: str, params: Mapping[str, Any], limit: float) -> msgspec.Raw:
        if self._closed:
            raise ClientClosed("the client is closed") from self._fatal
        if self._runner is None:
            raise TransportError("call connect() first")
        id_ = self._rpc.request(method, params)
        fut: asyncio.Future[msgspec.Raw] = asyncio.get_running_loop().create_future()
        self._futures[id_] = fut
        try:
            await self._flush()
            return await asyncio.wait_for(fut, limit)
        finally:
            self._futures.pop(id_, None)
            self._rpc.cancel(id_)

    async def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        """Call a method; its result as plain JSON values. Raises ClientError on refusal."""
        return msgspec.json.decode(await self.call_raw(method, params))

    async def send_message(
        self, user_id: int, text: str, *, random_id: int | None = None, reply_to: int | None = None
    ) -> m.SentMessage:
        """Send a private message. The random_id (fresh unless given) makes retries safe:
        the server answers a repeat with the first result and stores nothing new."""
        params: dict[str, Any] = {
            "peer": {"user_id": user_id},
            "text": text,
            "random_id": secrets.randbits(63) if random_id is None else random_id,
        }
        if reply_to is not None:
            params["reply_to"] = reply_to
        return _decode(await self.call_raw("messages.sendMessage", params), m.SentMessage)

    async def get_state(self) -> State:
        return _decode(await self.call_raw("updates.getState"), State)

    async def get_difference(self, pts: int, limit: int = 1000, long_poll: float = 0) -> Difference:
        """The log after ``pts``; with ``long_poll`` > 0 the server waits that many seconds
        for something new when nothing is pending."""
        params = {"pts": pts, "limit": limit, "timeout": long_poll}
        raw = await self._request("updates.getDifference", params, long_poll + self._call_timeout)
        return decode_difference(raw)

    async def get_history(self, user_id: int, limit: int = 50, offset_id: int = 0) -> m.History:
        params = {"peer": {"user_id": user_id}, "limit": limit, "offset_id": offset_id}
        return _decode(await self.call_raw("messages.getHistory", params), m.History)

    # -- updates --------------------------------------------------------------------
    async def updates(self) -> AsyncIterator[AnyUpdate]:
        """Every update once: logged ones in pts order, ephemeral ones as they come.
        Ends when the client is closed; raises ClientClosed after a fatal error."""
        while True:
            u = await self._queue.get()
            if u is None:
                if self._fatal is not None:
                    raise ClientClosed("the client stopped") from self._fatal
                return
            yield u

    async def wait_for_pts(self, pts: int) -> None:
        """Wait until the update with this pts was delivered (read-your-writes); bound
        the wait with asyncio.timeout()."""
        if self._seq.pts is not None and self._seq.pts >= pts:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pts_waiters.append((pts, fut))
        try:
            await fut
        finally:
            self._pts_waiters = [(p, f) for p, f in self._pts_waiters if f is not fut]

    def _deliver(self, updates: list[AnyUpdate]) -> None:
        for u in updates:
            if self._on_update is None:
                self._queue.put_nowait(u)
                continue
            try:
                self._on_update(u)
            except Exception:
                log.exception("on_update raised; the update counts as delivered")
        if updates and self._pts_waiters:
            head = self._seq.pts or 0
            for p, f in self._pts_waiters:
                if p <= head and not f.done():
                    f.set_result(None)

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
                failures = 0
                self.connections += 1
                await self._serve(ws)
                if ws.close_code in FATAL_CLOSE_CODES:
                    code = ws.close_code
                    self._shut_down(ClientError(401, "SESSION_REVOKED", f"closed with {code}"))
                    return
            await asyncio.sleep(self._backoff.delay(failures))

    async def _serve(self, ws: aiohttp.ClientWebSocketResponse[Literal[False]]) -> None:
        self._ws = ws
        # Buffer pushes from the first frame on: the difference must come before them.
        fetch = self._seq.begin_sync() if self._seq.pts is not None else None
        self._sync_task = asyncio.get_running_loop().create_task(self._sync(fetch))
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
            task, self._sync_task = self._sync_task, None
            for t in (poller, task):
                if t is not None:
                    t.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await t
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
            step = self._seq.push(updates)
            self._deliver(step.deliver)
            if step.fetch is not None and self._sync_task is None:
                self._sync_task = asyncio.get_running_loop().create_task(self._sync(step.fetch))

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

    async def _sync(self, fetch: FetchDifference | None) -> None:
        """Fetch the difference until the log is caught up and the buffer drained."""
        ws = self._ws
        fatal: BaseException | None = None
        try:
            if fetch is None:
                fetch = self._seq.begin_sync((await self.get_state()).pts)
            while fetch is not None:
                wait = GAP_LONG_POLL if fetch.wait else 0
                diff = await self.get_difference(fetch.pts, long_poll=wait)
                step = self._seq.difference(diff.updates, diff.state.pts, diff.slice)
                self._deliver(step.deliver)
                fetch = step.fetch
            self._ready.set()
        except (ClientError, TransportError, TimeoutError) as e:
            # 401: signed out. PERSISTENT_TIMESTAMP_INVALID: our pts is ahead of the log, so
            # the server lost data or this is another account; guessing would hide that.
            if isinstance(e, ClientError) and (
                e.code == 401 or e.type == "PERSISTENT_TIMESTAMP_INVALID"
            ):
                fatal = e
            else:
                log.warning("sync failed (%r); reconnecting", e)
                if ws is not None:
                    self._chore(ws.close())
        except Exception as e:  # a bug here: stop visibly rather than sit stuck or loop
            log.exception("sync failed")
            fatal = e
        finally:
            if self._sync_task is asyncio.current_task():
                self._sync_task = None
        if fatal is not None:
            self._shut_down(fatal)

    async def _poll(self) -> None:
        """Pushes are hints: one lost on the way (a node failing over, say) would leave
        an idle session behind until the next push. So check the log now and then."""
        while self._poll_interval is not None:  # until the connection ends and cancels it
            await asyncio.sleep(self._poll_interval)
            if self._sync_task is None and self._seq.pts is not None:
                fetch = self._seq.begin_sync()
                self._sync_task = asyncio.get_running_loop().create_task(self._sync(fetch))

    def _chore(self, coro: Any) -> None:
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
        for _, f in self._pts_waiters:
            if not f.done():
                f.set_exception(closed)
        self._queue.put_nowait(None)
        self._ready.set()
        if self._ws is not None and not self._ws.closed:
            self._chore(self._ws.close())
