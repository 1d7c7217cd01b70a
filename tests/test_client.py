"""The client library: its sans-I/O core alone, then the Client against a real server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chapar.client import (
    Backoff,
    Client,
    ClientClosed,
    ClientError,
    ConnectionLost,
    ProtocolError,
    Rpc,
    Sequencer,
    Step,
    TransportError,
    UnknownUpdate,
    decode_update,
    http_call,
    is_repeatable,
    pts_of,
    sign_in,
)
from chapar.client.core import Answer, Failure, FetchDifference, Push, StrayError
from chapar.protocol.types import Message, Peer, UpdateNewMessage, UpdateUserTyping
from tests.server import ServerProcess, free_port, next_test_phone

FAST = Backoff(base=0.05, cap=0.3)


def upd(pts: int) -> UpdateNewMessage:
    msg = Message(id=pts, peer=Peer(user_id=1), from_id=1, out=False, text=f"m{pts}", date=0)
    return UpdateNewMessage(message=msg, pts=pts)


def typing() -> UpdateUserTyping:
    return UpdateUserTyping(user_id=2, action="typing")


def ptss(updates: list[Any]) -> list[int | None]:
    return [pts_of(u) for u in updates]


# -- Rpc --------------------------------------------------------------------------------
def test_rpc_numbers_requests_and_matches_answers() -> None:
    rpc = Rpc()
    a = rpc.request("updates.getState", {})
    b = rpc.request("messages.getHistory", {"peer": {"user_id": 5}})
    assert (a, b) == (1, 2)
    frames = [json.loads(f) for f in rpc.take_unsent()]
    assert frames[0] == {"id": 1, "method": "updates.getState", "params": {}}
    assert frames[1]["params"] == {"peer": {"user_id": 5}}
    assert rpc.take_unsent() == []  # written once per connection
    ev = rpc.receive(b'{"id":2,"ok":true,"result":{"x":1}}')
    assert isinstance(ev, Answer) and ev.id == 2 and msgspec.json.decode(ev.result) == {"x": 1}
    assert rpc.receive(b'{"id":2,"ok":true,"result":1}') is None  # answered already
    assert len(rpc) == 1


def test_rpc_turns_error_envelopes_into_client_errors() -> None:
    rpc = Rpc()
    i = rpc.request("auth.sendCode", {"phone": "+1"})
    err = b'{"id":%d,"ok":false,"error":{"code":429,"type":"FLOOD_WAIT","message":"wait","retry_after":7}}'
    ev = rpc.receive(err % i)
    assert isinstance(ev, Failure) and ev.id == i
    assert (ev.error.code, ev.error.type, ev.error.message, ev.error.retry_after) == (
        429,
        "FLOOD_WAIT",
        "wait",
        7,
    )
    stray = rpc.receive(b'{"ok":false,"error":{"code":413,"type":"FRAME_TOO_LARGE","message":"x"}}')
    assert isinstance(stray, StrayError) and stray.error.type == "FRAME_TOO_LARGE"
    push = rpc.receive(b'{"updates":[{"type":"updateUserTyping","user_id":1,"action":"typing"}]}')
    assert isinstance(push, Push) and len(push.updates) == 1
    pending = rpc.request("updates.getState", {})
    for bad in (b"not json", b"{}", b'{"id":%d}' % pending):
        with pytest.raises(ProtocolError):
            rpc.receive(bad)


def test_rpc_repeats_only_safe_calls_after_a_dropped_connection() -> None:
    rpc = Rpc()
    send = rpc.request("messages.sendMessage", {"peer": {}, "text": "x", "random_id": 1})
    read = rpc.request("messages.getHistory", {"peer": {}})
    delete = rpc.request("messages.deleteMessages", {"id": [1]})
    rpc.take_unsent()
    later = rpc.request("messages.editMessage", {"id": 1, "text": "y"})  # never written
    failed = rpc.connection_lost()
    assert [i for i, _ in failed] == [delete]
    assert isinstance(failed[0][1], ConnectionLost)
    again = [json.loads(f)["id"] for f in rpc.take_unsent()]
    assert again == [send, read, later]


def test_repeatable_methods() -> None:
    assert is_repeatable("updates.getDifference", {"pts": 1})
    assert is_repeatable("contacts.resolveUsername", {"username": "x"})
    assert is_repeatable("messages.sendMessage", {"random_id": 5})
    assert is_repeatable("messages.readHistory", {"max_id": 3})
    assert not is_repeatable("messages.editMessage", {"id": 1, "text": "x"})
    assert not is_repeatable("auth.signIn", {"code": "1"})
    assert not is_repeatable("auth.sendCode", {"phone": "+1"})  # a second code, a flood wait


def test_unknown_update_types_are_kept_with_their_pts() -> None:
    u = decode_update(b'{"type":"updateFromTheFuture","pts":4,"x":[1]}')
    assert isinstance(u, UnknownUpdate) and u.pts == 4 and u.data["x"] == [1]
    assert (
        pts_of(decode_update(b'{"type":"updateUserTyping","user_id":1,"action":"cancel"}')) is None
    )
    with pytest.raises(ProtocolError):
        decode_update(b'{"pts":1}')


def test_backoff_grows_to_its_cap_with_jitter() -> None:
    b = Backoff(base=0.1, cap=1.0)
    assert b.delay(0, lambda: 0.0) == pytest.approx(0.05)
    assert b.delay(0, lambda: 1.0) == pytest.approx(0.1)
    assert b.delay(3, lambda: 1.0) == pytest.approx(0.8)
    assert b.delay(50, lambda: 1.0) == pytest.approx(1.0)


# -- Sequencer --------------------------------------------------------------------------
def test_sequencer_applies_in_order_and_drops_duplicates() -> None:
    s = Sequencer(pts=0)
    step = s.push([upd(1), upd(2), upd(1), typing(), upd(2), upd(3)])
    assert ptss(step.deliver) == [1, 2, None, 3] and step.fetch is None
    assert s.pts == 3 and not s.syncing


def test_sequencer_detects_a_gap_and_buffers_until_the_difference() -> None:
    s = Sequencer(pts=2)
    step = s.push([upd(3), upd(5), upd(6)])
    assert ptss(step.deliver) == [3]
    assert step.fetch == FetchDifference(3) and s.syncing and s.buffered == 2
    # Pushes during the fetch wait; ephemeral ones pass straight through.
    step = s.push([upd(7), typing(), upd(6)])
    assert ptss(step.deliver) == [None] and step.fetch is None and s.buffered == 3
    step = s.difference([upd(4), upd(5)], state_pts=5, more=False)
    assert ptss(step.deliver) == [4, 5, 6, 7] and step.fetch is None
    assert s.pts == 7 and not s.syncing and s.buffered == 0 and s.holes == []


def test_sequencer_follows_slices_and_refetches_while_a_gap_remains() -> None:
    s = Sequencer(pts=0)
    assert s.begin_sync() == FetchDifference(0)
    s.push([upd(9)])
    step = s.difference([upd(1), upd(2)], state_pts=2, more=True)
    assert ptss(step.deliver) == [1, 2] and step.fetch == FetchDifference(2)
    # The log's head is 7 but a push for 9 arrived: fetch again, long-polling only when
    # the previous fetch made no progress.
    step = s.difference([upd(3), upd(4), upd(5), upd(6), upd(7)], state_pts=7, more=False)
    assert step.fetch == FetchDifference(7, wait=False) and s.syncing
    step = s.difference([], state_pts=7, more=False)
    assert step.fetch == FetchDifference(7, wait=True)
    step = s.difference([upd(8), upd(9)], state_pts=9, more=False)
    assert ptss(step.deliver) == [8, 9] and step.fetch is None and not s.syncing


def test_sequencer_without_pts_waits_for_the_state() -> None:
    s = Sequencer()
    assert s.pts is None and s.syncing
    assert s.push([upd(11)]).deliver == []
    with pytest.raises(ValueError):
        s.begin_sync()
    assert s.begin_sync(10) == FetchDifference(10)
    assert ptss(s.difference([], state_pts=10, more=False).deliver) == [11]
    with pytest.raises(RuntimeError):
        s.difference([], state_pts=11, more=False)


def test_sequencer_reports_holes_in_the_servers_log() -> None:
    s = Sequencer(pts=0)
    s.begin_sync()
    step = s.difference([upd(1), upd(3)], state_pts=5, more=False)
    assert ptss(step.deliver) == [1, 3] and s.pts == 5
    assert s.holes == [(2, 2), (4, 5)]


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 40),
    data=st.data(),
    slice_size=st.integers(1, 7),
)
def test_sequencer_delivers_every_update_once_whatever_the_pushes(
    n: int, data: st.DataObject, slice_size: int
) -> None:
    """Pushes arrive shuffled, repeated or lost; differences come in slices: the
    application must still see 1..n exactly once, in order."""
    pushes = data.draw(st.lists(st.integers(1, n), max_size=3 * n))
    s = Sequencer(pts=0)
    seen: list[int | None] = []

    def serve(fetch: FetchDifference | None, head: int) -> None:
        for _ in range(10 * n + 10):
            if fetch is None:
                return
            hi = min(head, fetch.pts + slice_size)
            step = s.difference([upd(p) for p in range(fetch.pts + 1, hi + 1)], hi, hi < head)
            seen.extend(ptss(step.deliver))
            fetch = step.fetch
        raise AssertionError("the sync did not converge")

    head = 0
    for p in pushes:
        head = max(head, p)  # a push is sent only after its update is in the log
        step = s.push([upd(p)])
        seen.extend(ptss(step.deliver))
        serve(step.fetch, head)
    serve(s.begin_sync(), n)  # a reconnect at the end catches up with the whole log
    assert seen == list(range(1, n + 1)) and s.holes == []


# -- the Client against a real server ---------------------------------------------------
async def _user(srv: ServerProcess, http: aiohttp.ClientSession, name: str) -> tuple[str, int]:
    auth = await sign_in(srv.url, next_test_phone(), first_name=name, session=http)
    return auth.token, auth.user.id


async def _next_message(it: AsyncIterator[Any]) -> UpdateNewMessage:
    async for u in it:
        if isinstance(u, UpdateNewMessage):
            return u
    raise AssertionError("the update stream ended")


async def test_send_and_receive(server: ServerProcess, http: aiohttp.ClientSession) -> None:
    ta, a = await _user(server, http, "Ali")
    tb, b = await _user(server, http, "Bita")
    async with (
        asyncio.timeout(30),
        Client(server.url, ta, pts=0, session=http) as ca,
        Client(server.url, tb, pts=0, session=http) as cb,
    ):
        sent = await ca.send_message(b, "سلام 👋", random_id=42)
        again = await ca.send_message(b, "سلام 👋", random_id=42)
        assert sent.message.id == again.message.id and sent.pts == again.pts == 1
        got = await _next_message(cb.updates())
        assert got.message.text == "سلام 👋" and got.message.from_id == a and not got.message.out
        mine = await _next_message(ca.updates())
        assert mine.pts == 1 and mine.message.out
        await ca.wait_for_pts(1)
        history = await cb.get_history(a)
        assert [msg.text for msg in history.messages] == ["سلام 👋"]
        assert (await cb.get_state()).pts == 1 and cb.pts == 1


async def test_errors_surface_as_client_errors(
    server: ServerProcess, http: aiohttp.ClientSession
) -> None:
    token, _ = await _user(server, http, "Err")
    async with asyncio.timeout(30), Client(server.url, token, session=http) as c:
        with pytest.raises(ClientError) as e:
            await c.send_message(2**62, "to nobody")
        assert (e.value.code, e.value.type) == (400, "PEER_ID_INVALID")
        with pytest.raises(ClientError) as e:
            await c.call("messages.noSuchMethod", {})
        assert (e.value.code, e.value.type) == (404, "METHOD_INVALID")
        with pytest.raises(ClientError) as e:
            await c.call("updates.getDifference", {"pts": 10**6})
        assert e.value.type == "PERSISTENT_TIMESTAMP_INVALID"
        assert c.connected  # refusals do not hurt the connection
    with pytest.raises(ClientError) as e:
        await http_call(http, server.url, "updates.getState", {}, token="nope")
    assert (e.value.code, e.value.type) == (401, "AUTH_KEY_UNREGISTERED")
    bad = Client(server.url, "not-a-token", session=http, connect_timeout=20)
    with pytest.raises(ClientClosed) as closed:
        await bad.connect()
    assert isinstance(closed.value.__cause__, ClientError)
    assert closed.value.__cause__.code == 401
    await bad.close()


async def test_revoked_session_stops_the_client(
    server: ServerProcess, http: aiohttp.ClientSession
) -> None:
    token, _ = await _user(server, http, "Rev")
    c = Client(server.url, token, pts=0, session=http)
    async with asyncio.timeout(30):
        await c.connect()
        await http_call(http, server.url, "auth.logOut", {}, token=token)
        with pytest.raises(ClientClosed) as e:
            async for _ in c.updates():
                pass
        assert isinstance(e.value.__cause__, ClientError)
        with pytest.raises(ClientClosed):
            await c.get_state()
        await c.close()


async def test_reconnect_fetches_what_was_missed(
    server: ServerProcess, http: aiohttp.ClientSession
) -> None:
    ta, _ = await _user(server, http, "A")
    tb, b = await _user(server, http, "B")
    async with (
        asyncio.timeout(30),
        Client(server.url, ta, session=http) as ca,
        Client(server.url, tb, pts=0, session=http) as cb,
    ):
        texts = [f"m{i}" for i in range(20)]
        for i, t in enumerate(texts):
            if i % 5 == 0:
                cb.reconnect()
            await ca.send_message(b, t)
        it = cb.updates()
        got = [(await _next_message(it)) for _ in texts]
        assert [u.message.text for u in got] == texts
        assert [u.pts for u in got] == list(range(1, 21))
        assert cb.connections > 1


async def test_a_send_cut_off_by_its_own_disconnect_still_reaches_the_peer(
    server: ServerProcess, http: aiohttp.ClientSession
) -> None:
    """The sender's socket closes right behind its sendMessage frame; the server must
    still push the stored message to the recipient's live session."""
    ta, _ = await _user(server, http, "A")
    tb, b = await _user(server, http, "B")
    async with (
        asyncio.timeout(30),
        Client(server.url, ta, session=http) as ca,
        Client(server.url, tb, pts=0, session=http, poll_interval=None) as cb,
    ):
        for i in range(3):
            sending = asyncio.ensure_future(ca.send_message(b, f"cut {i}"))
            await asyncio.sleep(0)  # the frame is written...
            ca.reconnect()  # ...and the socket closed behind it
            await sending
        it = cb.updates()
        got = [(await _next_message(it)).message.text for _ in range(3)]
        assert got == ["cut 0", "cut 1", "cut 2"] and cb.connections == 1


async def test_polling_recovers_a_lost_push(
    server: ServerProcess, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    ta, _ = await _user(server, http, "A")
    tb, b = await _user(server, http, "B")
    async with (
        asyncio.timeout(30),
        Client(server.url, ta, session=http) as ca,
        Client(server.url, tb, pts=0, session=http, poll_interval=0.05) as cb,
    ):
        monkeypatch.setattr(cb._seq, "push", lambda updates: Step())  # every push lost
        await ca.send_message(b, "hint lost")
        got = await _next_message(cb.updates())
        assert got.message.text == "hint lost" and cb.connections == 1


async def test_server_restart_closes_the_socket_and_the_client_recovers(
    own_server: ServerProcess, http: aiohttp.ClientSession
) -> None:
    own_server.start()
    ta, _ = await _user(own_server, http, "A")
    tb, b = await _user(own_server, http, "B")
    fast = FAST
    async with asyncio.timeout(60):
        ca = Client(own_server.url, ta, pts=0, session=http, backoff=fast)
        cb = Client(own_server.url, tb, pts=0, session=http, backoff=fast)
        await ca.connect()
        await cb.connect()
        await ca.send_message(b, "before")
        assert await asyncio.to_thread(own_server.stop) == 0  # SIGTERM: close frames, exit
        for _ in range(1000):  # the close frame may still be on its way to the reader
            if not cb.connected:
                break
            await asyncio.sleep(0.01)
        assert cb.last_close_code == 1001  # "going away": reconnect, this is no error
        # A call made while the server is down waits and goes out after the reconnect.
        pending = asyncio.ensure_future(ca.send_message(b, "while down", random_id=77))
        await asyncio.sleep(0.2)
        await asyncio.to_thread(own_server.start)
        sent = await pending
        assert sent.pts == 2
        it = cb.updates()
        got = [(await _next_message(it)).message.text for _ in range(2)]
        assert got == ["before", "while down"]
        assert cb.pts == 2 and cb.connections >= 2 and ca.connections >= 2
        await ca.close()
        await cb.close()


async def test_connect_gives_up_within_its_limit_and_closes() -> None:
    c = Client(f"http://127.0.0.1:{free_port()}", "token", connect_timeout=0.5, backoff=FAST)
    with pytest.raises(TransportError):
        await c.connect()
    with pytest.raises(ClientClosed):
        await c.get_state()
    with pytest.raises(ClientClosed):
        await c.connect()
