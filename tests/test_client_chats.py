"""The client library and the logs of groups and channels: the sans-I/O ChatSequencer and
DialogPager alone, then the Client against a real server (through a loopback relay whose
connections the test cuts, to kill the socket from the server's side).

What must hold: every chat update reaches the app exactly once, in that chat's pts order,
across dropped sockets and offline periods; a join starts the chat at the join, a leave
ends it; a chat too far behind becomes a ChatReset, and updates after it still flow.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chapar.client import (
    AnyUpdate,
    Backoff,
    ChannelDifference,
    ChatReset,
    ChatSequencer,
    Client,
    chat_of,
    pts_of,
    sign_in,
)
from chapar.client.core import ChatHead, ChatStep, DialogPager, FetchChannelDifference
from chapar.protocol import methods as m
from chapar.protocol.types import (
    Chat,
    Message,
    Peer,
    State,
    UpdateChannel,
    UpdateNewChannelMessage,
    UpdateNewMessage,
    UpdatesTooLong,
)
from tests.server import ServerProcess, next_test_phone

FAST = Backoff(base=0.02, cap=0.2)
WAIT = 30  # seconds: a bound on a whole scenario, never an expectation of speed


# -- sans-I/O ---------------------------------------------------------------------------
def post(chat_id: int, pts: int) -> UpdateNewChannelMessage:
    msg = Message(id=pts, peer=Peer(chat_id=chat_id), from_id=1, text=f"c{chat_id}p{pts}", date=0)
    return UpdateNewChannelMessage(chat_id=chat_id, message=msg, pts=pts)


def joined(chat_id: int, chat_pts: int, user_pts: int) -> UpdateChannel:
    chat = Chat(id=chat_id, type="group", title="g", pts=chat_pts, role="member")
    return UpdateChannel(peer=Peer(chat_id=chat_id), chat=chat, pts=user_pts)


def left(chat_id: int, user_pts: int) -> UpdateChannel:
    return UpdateChannel(peer=Peer(chat_id=chat_id), chat=None, pts=user_pts)


def entries(updates: list[AnyUpdate]) -> list[tuple[int, int]]:
    out = []
    for u in updates:
        c = chat_of(u)
        assert c is not None, u
        out.append(c)
    return out


def diff(chat_id: int, lo: int, hi: int, head: int) -> ChannelDifference:
    return ChannelDifference([post(chat_id, p) for p in range(lo, hi + 1)], hi, hi >= head)


def test_chat_updates_apply_in_order_per_chat_and_duplicates_drop() -> None:
    cs = ChatSequencer({1: 0, 2: 5})
    typing_free = [post(1, 1), post(2, 6), post(1, 1), post(1, 2), post(2, 6), post(2, 7)]
    step = cs.push(typing_free)
    assert entries(step.deliver) == [(1, 1), (2, 6), (1, 2), (2, 7)] and step.fetch == []
    assert cs.cursors == {1: 2, 2: 7}
    # The user's log is not a chat's business.
    user = UpdateNewMessage(message=post(1, 9).message, pts=3)
    assert cs.push([user]).deliver == [] and pts_of(user) == 3 and chat_of(user) is None


def test_a_gap_fetches_that_chat_only_and_buffers_until_its_difference() -> None:
    cs = ChatSequencer({1: 2, 2: 0})
    step = cs.push([post(1, 5)])
    [f] = step.fetch
    assert (f.chat_id, f.pts, f.wait) == (1, 2, False) and step.deliver == []
    assert cs.syncing(1) and not cs.syncing(2)
    # Pushes during the fetch wait; the other chat goes on live.
    step = cs.push([post(1, 6), post(2, 1), post(1, 3)])
    assert entries(step.deliver) == [(2, 1)] and step.fetch == []
    step = cs.difference(f, diff(1, 3, 3, head=6))  # one slice, not final
    assert entries(step.deliver) == [(1, 3)]
    [f2] = step.fetch
    assert (f2.chat_id, f2.pts, f2.token) == (1, 3, f.token)
    step = cs.difference(f2, diff(1, 4, 6, head=6))
    assert entries(step.deliver) == [(1, 4), (1, 5), (1, 6)] and step.fetch == []
    assert cs.cursors == {1: 6, 2: 1} and not cs.syncing(1) and cs.holes == []


def test_too_long_resets_the_chat_and_goes_on_after_it() -> None:
    cs = ChatSequencer({7: 10})
    [f] = cs.push([post(7, 500)]).fetch
    cs.push([post(7, 502), post(7, 501)])
    step = cs.difference(f, ChannelDifference([], 501, True, too_long=True))
    assert step.deliver[0] == ChatReset(chat_id=7, pts=501)
    assert entries(step.deliver[1:]) == [(7, 502)] and step.fetch == []
    assert cs.cursors == {7: 502} and cs.holes == []  # skipped on purpose: not a hole
    assert entries(cs.push([post(7, 503)]).deliver) == [(7, 503)]


def test_join_starts_at_the_join_and_replays_posts_that_came_first() -> None:
    cs = ChatSequencer()
    # Posts of a chat the client does not follow yet: the push beat the updateChannel.
    assert cs.push([post(3, 11), post(3, 10), post(3, 13)]).deliver == []
    assert cs.strays == 3
    step = cs.membership(joined(3, chat_pts=10, user_pts=1))
    assert entries(step.deliver) == [(3, 11)]  # 10 is the join itself: not after it
    [f] = step.fetch  # 12 is missing
    assert (f.chat_id, f.pts) == (3, 11)
    step = cs.difference(f, diff(3, 12, 13, head=13))
    assert entries(step.deliver) == [(3, 12), (3, 13)] and cs.cursors == {3: 13}


def test_leave_forgets_the_chat_and_a_rejoin_starts_afresh() -> None:
    cs = ChatSequencer({3: 4})
    [f] = cs.push([post(3, 9)]).fetch  # a fetch is in flight when the user leaves
    assert cs.membership(left(3, user_pts=5)) == ChatStep()
    assert cs.cursors == {} and cs.push([post(3, 10)]).deliver == []
    cs.membership(joined(3, chat_pts=20, user_pts=6))
    # The old fetch answers late: it belongs to the old membership and changes nothing.
    assert cs.difference(f, diff(3, 5, 9, head=9)) == ChatStep()
    assert cs.cursors == {3: 20}
    assert entries(cs.push([post(3, 21)]).deliver) == [(3, 21)]


def test_reconcile_seeds_new_chats_fetches_moved_ones_and_trusts_later_membership() -> None:
    cs = ChatSequencer({1: 5, 2: 8, 4: 3})
    cs.membership(left(2, user_pts=50))  # left after the listing was read (seen_at 40)
    cs.membership(joined(5, chat_pts=2, user_pts=51))  # joined after it, too
    heads = [ChatHead(1, 9, 40), ChatHead(2, 8, 40), ChatHead(3, 30, 40), ChatHead(4, 3, 40)]
    step = cs.reconcile(heads, seen_at=40, complete=True)
    assert step.deliver == []  # a new chat's past is history, not updates
    assert [(f.chat_id, f.pts) for f in step.fetch] == [(1, 5)]
    # 2 stays left; 3 starts at its listed pts; 5 (not listed yet) is kept.
    assert cs.cursors == {1: 5, 3: 30, 4: 3, 5: 2}


def test_a_chat_missing_from_the_listing_is_dropped_only_if_the_listing_is_whole() -> None:
    cs = ChatSequencer({1: 5, 2: 8})
    step = cs.reconcile([ChatHead(1, 5, 10)], seen_at=10, complete=False)
    [f] = step.fetch  # several pages may miss a chat: ask the server about it instead
    assert f.chat_id == 2 and cs.cursors == {1: 5, 2: 8}
    cs.abandon(f)
    cs.reconcile([ChatHead(1, 5, 10)], seen_at=10, complete=True)
    assert cs.cursors == {1: 5}


def test_after_a_lost_connection_a_syncing_chat_is_fetched_again() -> None:
    cs = ChatSequencer({1: 0})
    [f] = cs.push([post(1, 3)]).fetch
    assert cs.reconcile([ChatHead(1, 3, 0)], 0, True).fetch == []  # still in flight
    cs.connection_lost()
    [g] = cs.reconcile([ChatHead(1, 3, 0)], 0, True).fetch
    assert g.token != f.token and g.pts == 0
    assert cs.difference(f, diff(1, 1, 3, 3)) == ChatStep()  # the lost one, if it ever came
    # The log showed only 2 when asked; the push of 3, kept through it all, follows.
    assert entries(cs.difference(g, diff(1, 1, 2, 2)).deliver) == [(1, 1), (1, 2), (1, 3)]


def test_strays_are_bounded() -> None:
    cs = ChatSequencer(stray_limit=3, stray_chats=2)
    cs.push([post(c, p) for c in (1, 2, 3) for p in range(1, 10)])
    assert cs.strays == 6  # three chats, two kept, three posts each


def _dialogs(chats: list[tuple[int, int, int]], state_pts: int) -> m.Dialogs:
    """chats: (chat id, pts, top message date)."""
    dialogs = [
        m.Dialog(
            peer=Peer(chat_id=c),
            top_message=c * 10,
            read_inbox_max_id=0,
            read_outbox_max_id=0,
            unread_count=0,
            pts=p,
        )
        for c, p, _ in chats
    ]
    messages = [
        Message(id=c * 10, peer=Peer(chat_id=c), from_id=1, text="", date=d) for c, _, d in chats
    ]
    return m.Dialogs(dialogs, messages, [], [], State(pts=state_pts, date=0))


def test_dialog_pager_pages_to_the_end_from_the_last_top_message() -> None:
    pager = DialogPager(limit=2)
    pager.feed(_dialogs([(1, 11, 900), (2, 22, 800)], state_pts=7))
    assert pager.params == {
        "limit": 2,
        "offset_date": 800,
        "offset_id": 20,
        "offset_peer": {"chat_id": 2},
    }
    pager.feed(_dialogs([(2, 22, 800), (3, 33, 700)], state_pts=9))  # 2 again: it moved
    assert pager.params is not None
    pager.feed(_dialogs([(4, 44, 600)], state_pts=8))  # a short page is the last
    assert pager.params is None and not pager.complete and pager.seen_at == 9
    assert {h.chat_id: (h.pts, h.seen_at) for h in pager.heads.values()} == {
        1: (11, 7),
        2: (22, 7),
        3: (33, 9),
        4: (44, 8),
    }
    one = DialogPager(limit=2)
    one.feed(_dialogs([(1, 11, 900)], state_pts=3))
    assert one.params is None and one.complete
    stuck = DialogPager(limit=1)
    stuck.feed(_dialogs([(1, 11, 900)], 3))
    stuck.feed(_dialogs([(1, 11, 900)], 3))  # a server repeating itself ends the listing
    assert stuck.params is None


PUSH = st.tuples(st.just("push"), st.integers(1, 2), st.integers(1, 30))
OPS = st.one_of(PUSH, PUSH, st.tuples(st.just("serve"), st.integers(0, 3)), st.just(("drop",)))


@settings(max_examples=200, deadline=None)
@given(
    n=st.tuples(st.integers(1, 30), st.integers(1, 30)),
    ops=st.lists(OPS, max_size=80),
    slice_size=st.integers(1, 6),
)
def test_every_chat_update_once_in_order_whatever_the_pushes(
    n: tuple[int, int], ops: list[Any], slice_size: int
) -> None:
    """Two chats; pushes shuffled, repeated or lost; fetches answered late, in any order,
    in slices, or never (the socket dropped); each chat must still see 1..n once, in
    order."""
    cs = ChatSequencer({1: 0, 2: 0})
    seen: dict[int, list[int]] = {1: [], 2: []}
    heads = {1: 0, 2: 0}
    pending: list[FetchChannelDifference] = []

    def take(step: ChatStep) -> None:
        for chat_id, pts in entries(step.deliver):
            seen[chat_id].append(pts)
        pending.extend(step.fetch)

    def answer(f: FetchChannelDifference) -> None:
        hi = min(heads[f.chat_id], f.pts + slice_size)
        take(cs.difference(f, diff(f.chat_id, f.pts + 1, hi, heads[f.chat_id])))

    def reconnect() -> None:
        stale = list(pending)
        pending.clear()
        cs.connection_lost()
        take(cs.reconcile([ChatHead(c, heads[c], 0) for c in (1, 2)], 0, complete=True))
        for f in stale:  # answers to the dead socket's calls, should any arrive
            answer(f)

    for op in ops:
        if op[0] == "push":
            chat_id, pts = op[1], min(op[2], n[op[1] - 1])
            heads[chat_id] = max(heads[chat_id], pts)  # pushed only once it is in the log
            take(cs.push([post(chat_id, pts)]))
        elif op[0] == "serve" and pending:
            answer(pending.pop(op[1] % len(pending)))
        elif op[0] == "drop":
            reconnect()
    heads = {1: n[0], 2: n[1]}
    reconnect()
    for _ in range(1000):
        if not pending:
            break
        answer(pending.pop(0))
    assert seen == {1: list(range(1, n[0] + 1)), 2: list(range(1, n[1] + 1))}
    assert cs.holes == [] and not cs.syncing(1) and not cs.syncing(2)


# -- through the server ---------------------------------------------------------------
class Relay:
    """A loopback TCP relay in front of the server. :meth:`cut` aborts every connection
    (an RST, no close frame: the socket dies as if the server's side went away) and
    ``refuse`` keeps new ones out, so the client stays offline until it is cleared."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.refuse = False
        self.port = 0
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Relay:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.cut()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def cut(self) -> None:
        for w in list(self._links):
            w.transport.abort()
        self._links.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refuse:
            writer.transport.abort()
            return
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._links |= {writer, up_w}
        await asyncio.gather(_pipe(reader, up_w), _pipe(up_r, writer), return_exceptions=True)
        for w in (writer, up_w):
            self._links.discard(w)
            w.transport.abort()


async def _pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await r.read(65536):
            w.write(data)
            await w.drain()


class Member:
    """A signed-in user with a Client that records everything delivered to the app."""

    def __init__(self, token: str, user_id: int, http: aiohttp.ClientSession) -> None:
        self.token, self.id, self.http = token, user_id, http
        self.seen: list[AnyUpdate] = []
        self.hook: Callable[[AnyUpdate], None] | None = None

    def _on_update(self, u: AnyUpdate) -> None:
        self.seen.append(u)
        if self.hook is not None:
            self.hook(u)

    async def connect(self, url: str, **kw: Any) -> Client:
        client = Client(
            url, self.token, on_update=self._on_update, session=self.http, backoff=FAST, **kw
        )
        await client.connect()
        return client

    def chat_log(self, chat_id: int) -> list[tuple[int, str]]:
        """(pts, text) of every update of the chat's log the app was given; service
        messages (a member left, was added) are left out where the test says so."""
        out = []
        for u in self.seen:
            c = chat_of(u)
            if c is not None and c[0] == chat_id:
                text = u.message.text if isinstance(u, UpdateNewChannelMessage) else ""
                out.append((c[1], text))
        return out


async def _member(url: str, http: aiohttp.ClientSession, name: str) -> Member:
    auth = await sign_in(url, next_test_phone(), first_name=name, session=http)
    return Member(auth.token, auth.user.id, http)


async def _posts(owner: Client, chat_id: int, count: int, tag: str) -> list[tuple[int, str]]:
    out = []
    for i in range(count):
        sent = await owner.send_message(Peer(chat_id=chat_id), f"{tag}{i}")
        out.append((sent.pts, sent.message.text))
    return out


async def _group(owner: Client, members: list[int], broadcast: bool = False) -> int:
    chat = (await owner.create_channel("گروه", broadcast=broadcast)).chat
    if members:
        await owner.call(
            "channels.inviteToChannel", {"channel": {"chat_id": chat.id}, "users": members}
        )
    return chat.id


async def test_every_post_once_in_order_across_killed_sockets(
    server: ServerProcess, http: aiohttp.ClientSession
) -> None:
    a, b = await _member(server.url, http, "A"), await _member(server.url, http, "B")
    async with asyncio.timeout(WAIT), Relay(server.port) as relay:
        owner = await a.connect(server.url)
        g = await _group(owner, [b.id])
        cb = await b.connect(relay.url, poll_interval=None)
        start = cb.chat_pts[g]
        cut_after = {8, 20, 21, 33}
        sent: list[tuple[int, str]] = []
        for i in range(45):
            sent += await _posts(owner, g, 1, f"p{i}-")
            if i in cut_after:
                relay.cut()  # posts keep coming while the client reconnects
        await cb.wait_for_chat_pts(g, sent[-1][0])
        assert b.chat_log(g) == sent
        assert [p for p, _ in sent] == list(range(start + 1, start + 46))
        assert cb.connections >= 2
        await owner.close()
        await cb.close()


async def test_an_offline_client_catches_up_every_chat_when_it_comes_back(
    server: ServerProcess, http: aiohttp.ClientSession
) -> None:
    a, b = await _member(server.url, http, "A"), await _member(server.url, http, "B")
    async with asyncio.timeout(WAIT), Relay(server.port) as relay:
        owner = await a.connect(server.url)
        chats = [await _group(owner, [b.id]), await _group(owner, [b.id])]
        chats.append(await _group(owner, [b.id], broadcast=True))
        later = await _group(owner, [])  # b is added while offline
        # Small slices, so catching up takes several calls per chat.
        cb = await b.connect(relay.url, difference_limit=3, poll_interval=None)
        live = [await _posts(owner, c, 1, "live") for c in chats]
        for c, posts in zip(chats, live, strict=True):
            await cb.wait_for_chat_pts(c, posts[-1][0])
        relay.refuse = True  # offline: the socket dies, and no new one gets through
        relay.cut()
        missed = [
            await _posts(owner, c, k, f"off{c}-") for c, k in zip(chats, (7, 4, 5), strict=True)
        ]
        await owner.call(
            "channels.inviteToChannel", {"channel": {"chat_id": later}, "users": [b.id]}
        )
        in_later = await _posts(owner, later, 4, "later")
        dm = await owner.send_message(b.id, "private, meanwhile")
        relay.refuse = False
        for c, posts in zip([*chats, later], [*missed, in_later], strict=True):
            await cb.wait_for_chat_pts(c, posts[-1][0])
        for c, before, after in zip(chats, live, missed, strict=True):
            assert b.chat_log(c) == before + after
        assert b.chat_log(later) == in_later  # from the join on, nothing before it
        kinds = [type(u) for u in b.seen]
        join_at = next(
            i
            for i, u in enumerate(b.seen)
            if isinstance(u, UpdateChannel) and u.peer.chat_id == later
        )
        first_post = next(i for i, u in enumerate(b.seen) if chat_of(u) == (later, in_later[0][0]))
        assert join_at < first_post and UpdateNewMessage in kinds
        assert any(
            isinstance(u, UpdateNewMessage) and u.message.text == dm.message.text for u in b.seen
        )
        assert cb.connections == 2

        # The app restarts from saved cursors: what came while it was away, once.
        saved_pts, saved_chats = cb.pts, cb.chat_pts
        await cb.close()
        gone = await _posts(owner, chats[0], 5, "gone")
        b.seen.clear()
        cb = await b.connect(server.url, pts=saved_pts, chats=saved_chats, difference_limit=2)
        await cb.wait_for_chat_pts(chats[0], gone[-1][0])
        assert b.chat_log(chats[0]) == gone
        assert all(b.chat_log(c) == [] for c in chats[1:])
        await owner.close()
        await cb.close()


async def test_leaving_stops_deliveries_and_rejoining_starts_at_the_join(
    server: ServerProcess, http: aiohttp.ClientSession
) -> None:
    a, b = await _member(server.url, http, "A"), await _member(server.url, http, "B")
    async with asyncio.timeout(WAIT):
        owner = await a.connect(server.url)
        g, other = await _group(owner, [b.id]), await _group(owner, [b.id])
        left_seen = asyncio.Event()
        cb = await b.connect(server.url)
        before = await _posts(owner, g, 2, "before")
        await cb.wait_for_chat_pts(g, before[-1][0])

        followed_when_told: list[bool] = []

        def hook(u: AnyUpdate) -> None:
            if isinstance(u, UpdateChannel) and u.peer.chat_id == g and u.chat is None:
                followed_when_told.append(g in cb.chat_pts)
                left_seen.set()

        b.hook = hook
        await cb.leave_channel(g)
        await left_seen.wait()
        assert followed_when_told == [False]  # the cursor is gone when the app hears of it
        after = await _posts(owner, g, 3, "after")
        sentinel = await _posts(owner, other, 1, "sentinel")
        await cb.wait_for_chat_pts(other, sentinel[-1][0])
        cb.reconnect()  # and a catch-up must not bring the left chat back either
        await owner.call("channels.inviteToChannel", {"channel": {"chat_id": g}, "users": [b.id]})
        back = await _posts(owner, g, 2, "back")
        await cb.wait_for_chat_pts(g, back[-1][0])
        # The group's "B left" notice may or may not beat the leave to the client.
        posts = [e for e in b.chat_log(g) if e[1]]
        assert posts == before + back and not set(after) & set(posts)
        await owner.close()
        await cb.close()


async def test_a_chat_too_far_behind_is_reset_and_then_followed(
    own_server: ServerProcess, http: aiohttp.ClientSession
) -> None:
    own_server.extra_env["CHAPAR_CHANNEL_TOO_LONG"] = "5"
    own_server.start()
    url = own_server.url
    a, b = await _member(url, http, "A"), await _member(url, http, "B")
    async with asyncio.timeout(WAIT):
        owner = await a.connect(url)
        far, near = await _group(owner, [b.id]), await _group(owner, [b.id])
        cb = await b.connect(url)
        seen_far = await _posts(owner, far, 2, "seen")
        await cb.wait_for_chat_pts(far, seen_far[-1][0])
        pts, chats = cb.pts, cb.chat_pts
        await cb.close()
        skipped = await _posts(owner, far, 9, "skipped")  # more than 5 behind
        caught = await _posts(owner, near, 4, "caught")  # within reach
        b.seen.clear()
        cb = await b.connect(url, pts=pts, chats=chats)
        await cb.wait_for_chat_pts(far, skipped[-1][0])
        await cb.wait_for_chat_pts(near, caught[-1][0])
        resets = [u for u in b.seen if isinstance(u, ChatReset)]
        assert resets == [ChatReset(chat_id=far, pts=skipped[-1][0])]
        assert b.chat_log(far) == [] and b.chat_log(near) == caught
        # The app reloads the recent history; the chat then goes on as usual.
        history = await cb.get_history(Peer(chat_id=far), limit=3)
        assert [msg.text for msg in history.messages] == ["skipped8", "skipped7", "skipped6"]
        after = await _posts(owner, far, 2, "after")
        await cb.wait_for_chat_pts(far, after[-1][0])
        assert b.chat_log(far) == after
        await owner.close()
        await cb.close()


async def test_updates_too_long_catches_up_chats_whose_pushes_were_lost(
    server: ServerProcess, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = await _member(server.url, http, "A"), await _member(server.url, http, "B")
    async with asyncio.timeout(WAIT):
        owner = await a.connect(server.url)
        g = await _group(owner, [b.id])
        cb = await b.connect(server.url, poll_interval=None)
        monkeypatch.setattr(cb._chats, "push", lambda updates: None)  # every chat push lost
        lost = await _posts(owner, g, 3, "lost")
        # The server lost its bus for a while and says so; nothing else would fetch them.
        cb._user.push([UpdatesTooLong()])  # as the pushed frame would
        await cb.wait_for_chat_pts(g, lost[-1][0])
        assert b.chat_log(g) == lost and cb.connections == 1
        await owner.close()
        await cb.close()


async def test_a_user_in_many_chats_comes_back_to_all_of_them(
    server: ServerProcess, http: aiohttp.ClientSession
) -> None:
    """More chats than one page of dialogs holds: the listing is paged through the real
    server, and every chat that moved while the user was away is caught up."""
    a, b = await _member(server.url, http, "A"), await _member(server.url, http, "B")
    n = 130
    async with asyncio.timeout(3 * WAIT), Relay(server.port) as relay:
        owner = await a.connect(server.url)
        chats = list(await asyncio.gather(*(_group(owner, [b.id]) for _ in range(n))))
        cb = await b.connect(relay.url, poll_interval=None)
        assert set(cb.chat_pts) == set(chats)
        relay.refuse = True
        relay.cut()
        # Oldest chats first, so that posting moves them across the pages.
        missed = {c: await _posts(owner, c, 1 + c % 3, f"m{c}-") for c in chats}
        relay.refuse = False
        for c in chats:
            await cb.wait_for_chat_pts(c, missed[c][-1][0])
        assert {c: b.chat_log(c) for c in chats} == missed
        await owner.close()
        await cb.close()
