"""Delivery, as a property over the real server: whatever the interleaving of sends,
repeated sends, dropped sockets and restarted sessions, every session of a user ends up
with that user's whole log, each update exactly once, in pts order, without a gap, and a
repeated random_id never stores a second message.

Hypothesis draws a script of operations for two users with 1-3 sessions each; sends run
as concurrent tasks, so sockets drop and sessions restart while calls are in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import msgspec
from hypothesis import event, given, settings
from hypothesis import strategies as st

from chapar.client import AnyUpdate, Backoff, Client, ClientClosed, http_call, pts_of, sign_in
from chapar.protocol import methods as m
from chapar.protocol.types import UpdateNewMessage, UpdateUserStatus
from tests.accounts import SYSTEM_USER_ID
from tests.server import ServerProcess, next_test_phone

FAST = Backoff(base=0.01, cap=0.2)
CATCH_UP_SECONDS = 15
_texts = itertools.count()


@dataclass
class Session:
    """One signed-in device; ``client`` is replaced when the 'app restarts'."""

    token: str
    client: Client
    seen: list[AnyUpdate] = field(default_factory=list)
    incarnations: int = 1


@dataclass
class User:
    id: int
    phone: str
    sessions: list[Session]


@dataclass
class Send:
    """One logical message: its random_id is reused by every repeat."""

    sender: int
    text: str
    random_id: int
    acks: list[m.SentMessage] = field(default_factory=list)


SEND = st.tuples(st.just("send"), st.integers(0, 1), st.integers(0, 2))
OPS = st.one_of(
    SEND,
    SEND,
    SEND,
    st.tuples(st.just("resend"), st.integers(0, 1), st.integers(0, 2), st.integers(0, 30)),
    st.tuples(st.just("drop"), st.integers(0, 1), st.integers(0, 2)),
    st.tuples(st.just("restart"), st.integers(0, 1), st.integers(0, 2)),
    st.tuples(st.just("settle")),
)


def _client(url: str, session: Session | None, token: str, http: aiohttp.ClientSession) -> Client:
    pts = 0 if session is None else session.client.pts
    seen: list[AnyUpdate] = [] if session is None else session.seen
    return Client(url, token, pts=pts, on_update=seen.append, session=http, backoff=FAST)


async def _user(url: str, n_sessions: int, http: aiohttp.ClientSession) -> User:
    phone = next_test_phone()
    sessions = []
    for _ in range(n_sessions):  # the first sign-in signs up, the others sign in
        auth = await sign_in(url, phone, session=http)
        seen: list[AnyUpdate] = []
        c = Client(url, auth.token, pts=0, on_update=seen.append, session=http, backoff=FAST)
        await c.connect()
        sessions.append(Session(auth.token, c, seen))
    return User(auth.user.id, phone, sessions)


async def _send(client: Client, to: int, s: Send) -> None:
    # A session restarted under the call: its outcome is unknown; it is repeated at the end.
    with contextlib.suppress(ClientClosed):
        s.acks.append(await client.send_message(to, s.text, random_id=s.random_id))


async def _full_log(url: str, token: str, http: aiohttp.ClientSession) -> list[Any]:
    log: list[Any] = []
    for _ in range(100):
        diff = await http_call(http, url, "updates.getDifference", {"pts": len(log)}, token)
        log.extend(diff["updates"])
        if not diff["slice"]:
            assert diff["state"]["pts"] == len(log)
            return log
    raise AssertionError("the log did not end")


async def scenario(srv: ServerProcess, n_sessions: tuple[int, int], ops: list[Any]) -> None:
    async with aiohttp.ClientSession() as http:
        users = [await _user(srv.url, n, http) for n in n_sessions]
        sends: list[Send] = []
        tasks: list[asyncio.Task[None]] = []
        try:
            for op in ops:
                kind = op[0]
                if kind == "settle":
                    await asyncio.gather(*tasks)
                    continue
                u = users[op[1]]
                sess = u.sessions[op[2] % len(u.sessions)]
                peer = users[1 - op[1]].id
                if kind == "send":
                    s = Send(op[1], f"u{op[1]}-{next(_texts)}", len(sends) + 1)
                    sends.append(s)
                    tasks.append(asyncio.create_task(_send(sess.client, peer, s)))
                elif kind == "resend":
                    mine = [s for s in sends if s.sender == op[1]]
                    if mine:
                        s = mine[op[3] % len(mine)]
                        tasks.append(asyncio.create_task(_send(sess.client, peer, s)))
                elif kind == "drop":
                    sess.client.reconnect()
                elif kind == "restart":
                    await sess.client.close()
                    sess.client = _client(srv.url, sess, sess.token, http)
                    sess.incarnations += 1
                    await sess.client.connect()
                await asyncio.sleep(0)
            await asyncio.gather(*tasks)
            # A send cut off by a restart is repeated, as an app would, with its random_id.
            for s in sends:
                if not s.acks:
                    sender = users[s.sender].sessions[0].client
                    await _send(sender, users[1 - s.sender].id, s)
            await check(srv.url, users, sends, http)
        finally:
            for t in tasks:
                t.cancel()
            for u in users:
                for sess in u.sessions:
                    await sess.client.close()


async def check(
    url: str, users: list[User], sends: list[Send], http: aiohttp.ClientSession
) -> None:
    event(f"sends: {len(sends)}, repeated: {sum(len(s.acks) > 1 for s in sends)}")
    event(f"reconnects: {sum(x.client.connections - 1 for u in users for x in u.sessions)}")
    for s in sends:
        assert s.acks, f"{s.text} never acknowledged"
        assert len({(a.message.id, a.pts) for a in s.acks}) == 1, "a repeat made a new message"
    for index, u in enumerate(users):
        log = await _full_log(url, u.sessions[0].token, http)
        assert [e["pts"] for e in log] == list(range(1, len(log) + 1))
        # Sessions after the first were announced by login alerts from the system account.
        texts = [
            (e["message"]["text"], e["message"].get("out", False))
            for e in log
            if e["message"]["from_id"] != SYSTEM_USER_ID
        ]
        expected = [(s.text, s.sender == index) for s in sends]
        assert sorted(texts) == sorted(expected), "a message is missing or stored twice"
        for s in sends:  # the sender's acknowledged pts is where its copy sits
            if s.sender == index:
                assert log[s.acks[0].pts - 1]["message"]["text"] == s.text
        for sess in u.sessions:
            try:  # healthy sessions take milliseconds; the bound keeps shrinking fast
                async with asyncio.timeout(CATCH_UP_SECONDS):
                    await sess.client.wait_for_pts(len(log))
            except TimeoutError:
                raise AssertionError(
                    f"a session stuck at pts {sess.client.pts}/{len(log)}"
                ) from None
            seen = [msgspec.to_builtins(x) for x in sess.seen if pts_of(x) is not None]
            assert [x["pts"] for x in seen] == list(range(1, len(log) + 1))
            assert seen == log, "a session saw something other than the log"
            # Besides the log, only the peer's presence (ephemeral, no pts) may arrive.
            others = [x for x in sess.seen if pts_of(x) is None]
            assert all(isinstance(x, UpdateUserStatus) for x in others), others
            assert all(isinstance(x, UpdateNewMessage) for x in sess.seen if x not in others)


@settings(max_examples=25, deadline=None)
@given(
    n_sessions=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    ops=st.lists(OPS, min_size=4, max_size=40),
)
def test_every_session_gets_every_message_once_in_order(
    server: ServerProcess, n_sessions: tuple[int, int], ops: list[Any]
) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(60):
            await scenario(server, n_sessions, ops)

    asyncio.run(bounded())
