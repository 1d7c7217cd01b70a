"""Catching up with groups and channels through the running server: a member offline while
10,000 posts arrived, a user in hundreds of chats coming back, a property test of joins,
leaves, sends and reconnects, and live fan-out to the members' WebSockets.

Sync model (GUIDE §2): a chat's own log carries its posts (an update with a top-level
``chat_id`` and ``pts``); a client keeps one pts per chat, applies pushes in order and asks
``updates.getChannelDifference`` when it sees a gap or comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
from hypothesis import event, given, settings
from hypothesis import strategies as st

from tests.server import Api, ServerProcess
from tests.test_chats import U, chat, create, new, post

Json = dict[str, Any]
T = TypeVar("T")
R = TypeVar("R")
_rids = itertools.count(10_000_000)
WAIT = 15.0  # seconds: a bound on any one wait, never an expectation of speed


def in_chat_log(u: Json, chat_id: int) -> bool:
    """An update of this chat's own log (not of a user's log, not an ephemeral hint)."""
    return u.get("chat_id") == chat_id and "pts" in u


class Live:
    """One WebSocket session of a user: answers matched by id, pushes kept in arrival order."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.pushes: list[Json] = []
        self._waiting: dict[int, asyncio.Future[Json]] = {}
        self._ids = itertools.count(1)
        self._changed = asyncio.Event()
        self.close_code: int | None = None
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, http: aiohttp.ClientSession, srv: ServerProcess, token: str) -> Live:
        ws = await http.ws_connect(f"{srv.ws_url}?token={token}", max_msg_size=0)
        live = cls(ws)
        # An answer means the session is bound: attached to the user's topic and chats.
        await live.ok("updates.getState")
        return live

    async def _read(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    continue
                frame = json.loads(msg.data)
                fid = frame.get("id")
                if fid is not None:
                    fut = self._waiting.pop(fid, None)
                    if fut is not None and not fut.done():
                        fut.set_result(frame)
                elif "updates" in frame:
                    self.pushes.extend(frame["updates"])
                    self._changed.set()
        finally:
            self.close_code = self.ws.close_code
            for fut in self._waiting.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("the socket closed"))
            self._waiting.clear()
            self._changed.set()

    async def call(self, method: str, params: Json | None = None) -> Json:
        if self._reader.done():
            raise ConnectionError("the socket is closed")
        fid = next(self._ids)
        fut: asyncio.Future[Json] = asyncio.get_running_loop().create_future()
        self._waiting[fid] = fut
        await self.ws.send_str(json.dumps({"id": fid, "method": method, "params": params or {}}))
        async with asyncio.timeout(WAIT * 4):
            return await fut

    async def ok(self, method: str, params: Json | None = None) -> Any:
        frame = await self.call(method, params)
        assert frame["ok"] is True, (method, frame)
        return frame["result"]

    async def wait_for(self, pred: Callable[[Json], bool], start: int = 0) -> Json:
        """The first push at or after index ``start`` that satisfies ``pred``."""
        seen = start
        async with asyncio.timeout(WAIT):
            while True:
                for u in self.pushes[seen:]:
                    if pred(u):
                        return u
                seen = len(self.pushes)
                if self._reader.done():
                    raise AssertionError("the socket closed while waiting for a push")
                self._changed.clear()
                await self._changed.wait()

    def chat_pushes(self, chat_id: int, start: int = 0) -> list[Json]:
        return [u for u in self.pushes[start:] if in_chat_log(u, chat_id)]

    async def close(self) -> None:
        await self.ws.close()
        with contextlib.suppress(Exception):
            await self._reader


async def barrier(api: Api, live: Live, me: U, helper: U) -> None:
    """Wait until everything published before now has reached ``live``: a private message
    sent after the action travels the same session queue behind the action's pushes."""
    mark = f"barrier-{uuid.uuid4().hex}"
    body = {"peer": {"user_id": me.id}, "text": mark, "random_id": next(_rids)}
    await api.ok("messages.sendMessage", body, helper.token)
    await live.wait_for(
        lambda u: u.get("type") == "updateNewMessage" and u["message"]["text"] == mark
    )


async def channel_log(api: Api, who: U, chat_id: int, since: int = 0, limit: int = 1000) -> Json:
    """The chat's log after ``since`` as ``who`` reads it, slice by slice: updates, pts and
    the number of slices it took."""
    updates: list[Json] = []
    pts = since
    for slices in range(1, 10_000):
        diff = await api.ok(
            "updates.getChannelDifference",
            {"channel": chat(chat_id), "pts": pts, "limit": limit},
            who.token,
        )
        assert not diff.get("too_long"), diff
        assert len(diff["updates"]) <= limit
        for u in diff["updates"]:
            assert u["pts"] == pts + 1, f"gap or repeat at {pts}: {u}"
            assert in_chat_log(u, chat_id), u
            pts = u["pts"]
        assert diff["pts"] == pts
        if diff["final"]:
            return {"updates": updates + diff["updates"], "pts": pts, "slices": slices}
        assert diff["updates"], "a slice that is not final must hold something"
        updates.extend(diff["updates"])
    raise AssertionError("the difference did not end")


async def own_log(api: Api, who: U, since: int = 0) -> list[Json]:
    updates: list[Json] = []
    pts = since
    for _ in range(1000):
        diff = await api.ok("updates.getDifference", {"pts": pts}, who.token)
        updates.extend(diff["updates"])
        pts = diff["state"]["pts"]
        if not diff["slice"]:
            return updates
    raise AssertionError("the user's log did not end")


async def bounded_map(
    fn: Callable[[T], Awaitable[R]], items: Iterable[T], width: int = 64
) -> list[R]:
    """fn over the items concurrently, at most ``width`` at a time; results in order."""
    gate = asyncio.Semaphore(width)

    async def one(item: T) -> R:
        async with gate:
            return await fn(item)

    return list(await asyncio.gather(*(one(x) for x in items)))


def send_params(chat_id: int, text: str) -> Json:
    return {"peer": chat(chat_id), "text": text, "random_id": next(_rids)}


# -- (1) an offline member catches up with 10,000 posts -----------------------------------
async def test_offline_member_catches_up_exactly_with_10000_posts_in_slices(
    server: ServerProcess, api: Api, http: aiohttp.ClientSession
) -> None:
    poster, reader = await new(api, "Poster"), await new(api, "Reader")
    g = await create(api, poster, broadcast=False, title="busy")
    cid = g["id"]
    joined = await api.ok(
        "channels.inviteToChannel", {"channel": chat(cid), "users": [reader.id]}, poster.token
    )
    start = joined["chat"]["pts"]
    n = 10_000
    texts = [f"post {i}" for i in range(n)]
    lives = [await Live.open(http, server, poster.token) for _ in range(4)]

    async def send(i: int) -> Json:
        params = send_params(cid, texts[i])
        try:
            return dict(await lives[i % len(lives)].ok("messages.sendMessage", params))
        except ConnectionError:  # dropped as a slow consumer of its own pushes: repeat
            return dict(await api.ok("messages.sendMessage", params, poster.token))

    try:
        acks = await bounded_map(send, range(n), width=256)
    finally:
        for live in lives:
            await live.close()
    pts_of = {a["message"]["text"]: a["pts"] for a in acks}
    assert sorted(pts_of.values()) == list(range(start + 1, start + n + 1))

    # The reader was never online: it asks for everything after its join, 1000 at a time.
    got = await channel_log(api, reader, cid, since=start, limit=1000)
    assert got["slices"] == n // 1000
    assert got["pts"] == start + n
    assert [u["type"] for u in got["updates"]] == ["updateNewChannelMessage"] * n
    by_pts = {u["pts"]: u["message"]["text"] for u in got["updates"]}
    assert by_pts == {p: t for t, p in pts_of.items()}, "a post is missing, repeated or moved"
    # Smaller slices give the same log; an up-to-date reader gets nothing and final.
    again = await channel_log(api, reader, cid, since=start + n - 250, limit=100)
    assert [u["pts"] for u in again["updates"]] == list(range(start + n - 249, start + n + 1))
    assert again["slices"] == 3
    head = await api.ok(
        "updates.getChannelDifference", {"channel": chat(cid), "pts": start + n}, reader.token
    )
    assert head == {"updates": [], "pts": start + n, "final": True, "too_long": False}
    dialogs = await api.ok("messages.getDialogs", {}, reader.token)
    d = next(d for d in dialogs["dialogs"] if d["peer"] == chat(cid))
    assert d["pts"] == start + n and d["unread_count"] == n


async def test_too_far_behind_reloads_history_and_resumes(
    own_server: ServerProcess, http: aiohttp.ClientSession
) -> None:
    own_server.extra_env["CHAPAR_CHANNEL_TOO_LONG"] = "40"
    own_server.start()
    api = Api(http, own_server.url)
    a, b = await new(api, "A"), await new(api, "B")
    cid = (await create(api, a, broadcast=True, title="news"))["id"]
    await api.ok("channels.inviteToChannel", {"channel": chat(cid), "users": [b.id]}, a.token)
    for i in range(45):
        await post(api, a, cid, f"n{i}")
    head = (await api.ok("channels.getFullChannel", {"channel": chat(cid)}, b.token))["chat"]
    diff = await api.ok("updates.getChannelDifference", {"channel": chat(cid), "pts": 1}, b.token)
    assert diff == {"updates": [], "pts": head["pts"], "final": True, "too_long": True}
    # The client reloads the recent history and resumes from the pts it was given.
    hist = await api.ok("messages.getHistory", {"peer": chat(cid), "limit": 10}, b.token)
    assert [m["text"] for m in hist["messages"]] == [f"n{i}" for i in range(44, 34, -1)]
    await post(api, a, cid, "after")
    rest = await channel_log(api, b, cid, since=diff["pts"])
    assert [u["message"]["text"] for u in rest["updates"]] == ["after"]
    # Within the limit the updates themselves come back.
    near = await channel_log(api, b, cid, since=head["pts"] - 39)
    assert len(near["updates"]) == 40


# -- (2) a user in many chats comes back -------------------------------------------------
CHATS = 500


def describe(u: Json) -> tuple[str, str]:
    """An update of a chat's log as (type, the text or title or emoji it carries)."""
    if "message" in u:
        action = u["message"].get("action")
        return u["type"], action.get("title", "") if action else u["message"]["text"]
    if u["type"] == "updateChatInfo":
        return u["type"], u["title"]
    if u["type"] == "updateChannelMessageReactions":
        return u["type"], ",".join(r["emoji"] for r in u["reactions"])
    return u["type"], ""


async def test_user_in_500_chats_gets_every_missed_update_of_every_chat(
    server: ServerProcess, api: Api, http: aiohttp.ClientSession
) -> None:
    owner, user = await new(api, "Owner"), await new(api, "Many")
    live = await Live.open(http, server, owner.token)
    try:

        async def make(i: int) -> int:
            params = {"title": f"c{i}", "broadcast": i % 3 == 0}
            made = await live.ok("channels.createChannel", params)
            await live.ok(
                "channels.inviteToChannel",
                {"channel": chat(made["chat"]["id"]), "users": [user.id]},
            )
            return int(made["chat"]["id"])

        ids = await bounded_map(make, range(CHATS))
        # Online: the user learns each chat's pts from its own log (updateChannel).
        mine = await own_log(api, user)
        known = {
            u["peer"]["chat_id"]: u["chat"]["pts"] for u in mine if u["type"] == "updateChannel"
        }
        assert set(known) == set(ids)
        user_pts = len(mine)

        # Offline: every chat moves; some more than others; the user is banned from a few.
        expected: dict[int, list[tuple[str, str]]] = {c: [] for c in ids}

        async def work(ic: tuple[int, int]) -> None:
            i, c = ic
            sent = await live.ok("messages.sendMessage", send_params(c, f"hello {i}"))
            expected[c].append(("updateNewChannelMessage", f"hello {i}"))
            if i % 5 == 0:
                await live.ok("channels.editTitle", {"channel": chat(c), "title": f"t{i}"})
                if i % 3 != 0:  # groups announce the new title
                    expected[c].append(("updateNewChannelMessage", f"t{i}"))
                expected[c].append(("updateChatInfo", f"t{i}"))
            if i % 7 == 0:
                msg = sent["message"]["id"]
                await live.ok(
                    "messages.editMessage", {"peer": chat(c), "id": msg, "text": f"edited {i}"}
                )
                expected[c].append(("updateEditChannelMessage", f"edited {i}"))
                await live.ok(
                    "messages.sendReaction", {"peer": chat(c), "msg_id": msg, "reaction": "👍"}
                )
                expected[c].append(("updateChannelMessageReactions", "👍"))

        await bounded_map(work, enumerate(ids))
        banned = ids[1:CHATS:50]
        for c in banned:
            ban = {"view_messages": True}
            await live.ok(
                "channels.editBanned",
                {"channel": chat(c), "user_id": user.id, "banned_rights": ban},
            )
    finally:
        await live.close()

    # Back: the dialogs list every chat the user is still in, each with its pts...
    dialogs: dict[int, Json] = {}
    params: Json = {"limit": 100}
    for _ in range(CHATS):
        page = await api.ok("messages.getDialogs", params, user.token)
        if not page["dialogs"]:
            break
        for d in page["dialogs"]:
            assert d["peer"]["chat_id"] not in dialogs, "a dialog came twice"
            dialogs[d["peer"]["chat_id"]] = d
        last = page["dialogs"][-1]
        top = next(
            m
            for m in page["messages"]
            if m["peer"] == last["peer"] and m["id"] == last["top_message"]
        )
        params = {
            "limit": 100,
            "offset_date": top["date"],
            "offset_id": last["top_message"],
            "offset_peer": last["peer"],
        }
    assert set(dialogs) == set(ids) - set(banned)
    # ...and each chat's difference from the pts the user knew has every missed update.
    for c in set(ids) - set(banned):
        assert dialogs[c]["pts"] > known[c]
        got = await channel_log(api, user, c, since=known[c])
        assert got["pts"] == dialogs[c]["pts"]
        seen = [describe(u) for u in got["updates"]]
        assert sorted(seen) == sorted(expected[c]), c
        assert dialogs[c]["unread_count"] == sum(
            t == "updateNewChannelMessage" for t, _ in expected[c]
        )
    # The user's own log says which chats it lost, each once.
    lost = await own_log(api, user, since=user_pts)
    assert sorted(u["peer"]["chat_id"] for u in lost if u["type"] == "updateChannel") == sorted(
        banned
    )
    assert all(u["chat"] is None for u in lost if u["type"] == "updateChannel")
    for c in banned:
        status, body = await api.call(
            "updates.getChannelDifference", {"channel": chat(c), "pts": known[c]}, user.token
        )
        assert (status, body["error"]["type"]) == (403, "CHANNEL_PRIVATE")


# -- (3) the property: members see exactly their membership's messages --------------------
@dataclass
class Member:
    """One user of the property test, as its app sees the chat."""

    user: U
    live: Live | None = None
    member: bool = False
    pts: int = 0  # the last chat pts this client applied
    got: dict[int, Json] = field(default_factory=dict)
    applied: int = 0  # pushes of the current socket already looked at
    # every socket it opened, with the chat's pts when it opened
    sockets: list[tuple[Live, int]] = field(default_factory=list)


def apply_pushes(m: Member, cid: int) -> None:
    """Apply the socket's new pushes in pts order; one at or below the app's pts is a repeat
    and one beyond pts + 1 waits for the next sync (which fetches the gap)."""
    if m.live is None:
        return
    fresh = m.live.chat_pushes(cid, m.applied)
    m.applied = len(m.live.pushes)
    for u in sorted(fresh, key=lambda u: int(u["pts"])):
        if u["pts"] == m.pts + 1:
            m.got[u["pts"]] = u
            m.pts = u["pts"]


async def sync(api: Api, m: Member, cid: int) -> None:
    """What the app does after a reconnect or a gap: pushes first, then the chat's log."""
    apply_pushes(m, cid)
    log = await channel_log(api, m.user, cid, since=m.pts)
    for u in log["updates"]:
        m.got[u["pts"]] = u
    m.pts = log["pts"]


async def call(api: Api, m: Member, method: str, params: Json) -> Json:
    """A call over the member's socket when it has one: its answer then comes after every
    push published before it, as an app reading one socket sees them."""
    if m.live is not None:
        with contextlib.suppress(ConnectionError):
            return await m.live.call(method, params)
    _, body = await api.call(method, params, m.user.token)
    return dict(body)


async def connect(
    api: Api, http: aiohttp.ClientSession, srv: ServerProcess, m: Member, cid: int
) -> None:
    if m.live is None:
        m.live = await Live.open(http, srv, m.user.token)
        m.applied = 0
        full = await api.ok("channels.getFullChannel", {"channel": chat(cid)}, m.user.token)
        m.sockets.append((m.live, full["chat"]["pts"]))


async def drop(m: Member, cid: int) -> None:
    if m.live is not None:
        await m.live.close()
        apply_pushes(m, cid)  # what arrived before the socket closed
        m.live = None


SEND = st.tuples(st.just("send"), st.integers(0, 3), st.integers(1, 4))
JOIN = st.tuples(st.just("join"), st.integers(1, 3), st.just(0))
OPS = st.one_of(
    SEND,
    SEND,
    SEND,
    JOIN,
    JOIN,
    st.tuples(st.just("leave"), st.integers(1, 3), st.just(0)),
    st.tuples(st.just("drop"), st.integers(0, 3), st.just(0)),
    st.tuples(st.just("reconnect"), st.integers(0, 3), st.just(0)),
    st.tuples(st.just("settle"), st.just(0), st.just(0)),
)
Op = tuple[str, int, int]


async def membership_scenario(srv: ServerProcess, ops: list[Op]) -> None:
    async with aiohttp.ClientSession() as http:
        api = Api(http, srv.url)
        users = [await new(api, f"P{i}") for i in range(4)]
        members = [Member(u) for u in users]
        creator = members[0]
        cid = (await create(api, creator.user, broadcast=False, title="prop"))["id"]
        creator.member = True
        await api.ok(
            "channels.updateUsername",
            {"channel": chat(cid), "username": f"prop{uuid.uuid4().hex[:12]}"},
            creator.user.token,
        )
        for m in members:
            await connect(api, http, srv, m, cid)
        acks: dict[str, int] = {}
        starts: list[list[int]] = [[1], [], [], []]  # where each membership began
        tasks: list[asyncio.Task[None]] = []

        async def send(m: Member, text: str) -> None:
            # A socket dropped under the call leaves the outcome unknown: the call is
            # repeated over HTTP with the same random_id, as an app would.
            body = await call(api, m, "messages.sendMessage", send_params(cid, text))
            if body["ok"]:
                acks[text] = body["result"]["pts"]
            else:  # it left (or never joined) first
                assert body["error"]["type"] == "USER_NOT_PARTICIPANT", body

        try:
            for n, (kind, i, count) in enumerate(ops):
                m = members[i]
                if kind == "send" and m.member:  # a burst of concurrent sends
                    for k in range(count):
                        tasks.append(asyncio.create_task(send(m, f"m{n}.{k}-u{i}")))
                elif kind == "send":  # refused, and it changes nothing
                    await send(m, f"refused{n}")
                elif kind == "join":
                    body = await call(api, m, "channels.joinChannel", {"channel": chat(cid)})
                    if m.member:
                        assert body["error"]["type"] == "USER_ALREADY_PARTICIPANT", body
                    else:
                        assert body["ok"], body
                        apply_pushes(m, cid)  # of the chat, nothing: it was not in it
                        start = body["result"]["chat"]["pts"]
                        starts[i].append(start)
                        m.member = True
                        m.pts = start - 1  # the app starts at its own join message
                elif kind == "leave" and m.member:
                    # What it may still read it fetches before it goes; the rest comes live,
                    # ahead of the answer on the same socket.
                    await connect(api, http, srv, m, cid)
                    await sync(api, m, cid)
                    body = await call(api, m, "channels.leaveChannel", {"channel": chat(cid)})
                    assert body["ok"], body
                    apply_pushes(m, cid)
                    m.member = False
                elif kind == "drop":
                    await drop(m, cid)
                elif kind == "reconnect":
                    await drop(m, cid)
                    await connect(api, http, srv, m, cid)
                    if m.member:
                        await sync(api, m, cid)
                elif kind == "settle":
                    await asyncio.gather(*tasks)
                await asyncio.sleep(0)
            await asyncio.gather(*tasks)
            # Everything published has now reached every open socket.
            for m in members:
                if m.live is not None:
                    helper = users[1] if m is creator else users[0]
                    await barrier(api, m.live, m.user, helper)
            for m in members:
                apply_pushes(m, cid)
                if m.member:
                    await sync(api, m, cid)
            await check(api, members, starts, acks, cid)
        finally:
            for t in tasks:
                t.cancel()
            for m in members:
                for s, _ in m.sockets:
                    await s.close()


async def check(
    api: Api, members: list[Member], starts: list[list[int]], acks: dict[str, int], cid: int
) -> None:
    log = (await channel_log(api, members[0].user, cid))["updates"]
    by_pts = {u["pts"]: u for u in log}
    head = len(log)
    for text, pts in acks.items():  # every acknowledged send is where its ack said
        assert by_pts[pts]["message"]["text"] == text
    posts = Counter(u["message"]["text"] for u in log if u["type"] == "updateNewChannelMessage")
    assert all(n == 1 for t, n in posts.items() if t), "a message was stored twice"
    assert not any(t.startswith("refused") for t in posts)
    event(f"chat updates: {head}, sockets: {sum(len(m.sockets) for m in members)}")

    def service(kind: str, uid: int) -> list[int]:
        return [
            u["pts"]
            for u in log
            if u["type"] == "updateNewChannelMessage"
            and u["message"].get("action", {}).get("type") == kind
            and u["message"]["action"]["users"] == [uid]
        ]

    for i, m in enumerate(members):
        joins, leaves = service("chat_join", m.user.id), service("chat_leave", m.user.id)
        assert joins == (starts[i] if i else []), f"member {i}: joins {joins} != {starts[i]}"
        assert len(leaves) == len(starts[i]) - int(m.member)
        # A membership runs from its join message up to, not including, its leave message.
        ends = [*leaves, head + 1] if m.member else leaves
        spans = list(zip(starts[i], ends, strict=True))
        expected = {p for a, b in spans for p in range(a, b)}
        assert set(m.got) == expected, f"member {i}: {sorted(set(m.got) ^ expected)} differ"
        for p, u in m.got.items():
            assert u == by_pts[p], f"member {i} saw pts {p} unlike the log"
        for k, (s, opened_at) in enumerate(m.sockets):
            live = s.chat_pushes(cid)
            live_pts = [u["pts"] for u in live]
            assert len(live_pts) == len(set(live_pts)), f"member {i}: a push came twice"
            outside = sorted(set(live_pts) - expected)
            assert not outside, f"member {i} got pushes from outside its membership: {outside}"
            assert all(u == by_pts[u["pts"]] for u in live), "a push differs from the log"
            if k == len(m.sockets) - 1 and m.live is s:  # open to the end: missed nothing
                missed = {p for p in expected if p > opened_at} - set(live_pts)
                assert not missed, f"member {i}: pushes {sorted(missed)} never arrived"


@settings(max_examples=12, deadline=None)
@given(ops=st.lists(OPS, min_size=8, max_size=50))
def test_members_see_exactly_their_membership_once_in_order(
    server: ServerProcess, ops: list[Op]
) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(60):
            await membership_scenario(server, ops)

    asyncio.run(bounded())


# -- (4) live fan-out ---------------------------------------------------------------------
async def test_one_post_reaches_every_live_member_and_leavers_stop_receiving(
    server: ServerProcess, api: Api, http: aiohttp.ClientSession
) -> None:
    owner = await new(api, "Owner")
    others = [await new(api, f"M{i}") for i in range(4)]
    outsider, helper = await new(api, "Out"), await new(api, "Helper")
    cid = (await create(api, owner, broadcast=True, title="live"))["id"]
    await api.ok(
        "channels.inviteToChannel",
        {"channel": chat(cid), "users": [u.id for u in others]},
        owner.token,
    )
    # Two sockets for the first member (two devices), one for everyone else.
    lives = {u.id: [await Live.open(http, server, u.token)] for u in [*others, outsider]}
    lives[others[0].id].append(await Live.open(http, server, others[0].token))
    try:
        sent = await post(api, owner, cid, "to all")
        for u in others:
            for live in lives[u.id]:
                got = await live.wait_for(lambda x: in_chat_log(x, cid))
                assert got["message"]["text"] == "to all" and got["pts"] == sent["pts"]
                assert got["message"]["id"] == sent["message"]["id"]
        await barrier(api, lives[outsider.id][0], outsider, helper)
        assert lives[outsider.id][0].chat_pushes(cid) == []

        # One leaves, one is banned, the outsider joins: pushes follow the membership at once.
        leaver, banned = others[1], others[2]
        marks = {uid: [len(s.pushes) for s in ss] for uid, ss in lives.items()}
        await api.ok("channels.leaveChannel", {"channel": chat(cid)}, leaver.token)
        ban = {"view_messages": True}
        await api.ok(
            "channels.editBanned",
            {"channel": chat(cid), "user_id": banned.id, "banned_rights": ban},
            owner.token,
        )
        await api.ok(
            "channels.updateUsername",
            {"channel": chat(cid), "username": f"live{uuid.uuid4().hex[:12]}"},
            owner.token,
        )
        await api.ok("channels.joinChannel", {"channel": chat(cid)}, outsider.token)
        after = await post(api, owner, cid, "after the moves")
        for uid in (others[0].id, others[3].id, outsider.id):
            for k, live in enumerate(lives[uid]):
                got = await live.wait_for(
                    lambda x: in_chat_log(x, cid) and x["pts"] == after["pts"], marks[uid][k]
                )
                assert got["message"]["text"] == "after the moves"
        for u in (leaver, banned):
            live = lives[u.id][0]
            await barrier(api, live, u, helper)
            late = live.chat_pushes(cid, marks[u.id][0])
            assert late == [], f"user {u.id} still receives the chat: {late}"
            # ...while its own log told it, live, that it is out.
            own = [x for x in live.pushes[marks[u.id][0] :] if x["type"] == "updateChannel"]
            assert [x["chat"] for x in own] == [None]
    finally:
        for ss in lives.values():
            for live in ss:
                await live.close()
