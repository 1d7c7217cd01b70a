"""Crashes and shutdowns of a real server process.

SIGKILL in the middle of traffic: nothing acknowledged may be lost or doubled, and every
user's log must stay gapless. The server runs SQLite in WAL mode with synchronous=NORMAL
(see tests/server.py), which keeps every commit across a killed process (not across a
power cut). SIGTERM: the server closes its WebSockets with 1001 and exits with 0.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import msgspec

from chapar.client import AnyUpdate, Backoff, Client, http_call, pts_of, sign_in
from chapar.protocol import methods as m
from tests.server import ServerProcess, next_test_phone

FAST = Backoff(base=0.05, cap=0.5)
USERS = 3
SENDERS_PER_USER = 3
SENDS_PER_SENDER = 20
KILL_AFTER_ACKS = 40


@dataclass
class Account:
    token: str
    id: int
    client: Client
    seen: list[AnyUpdate] = field(default_factory=list)


@dataclass
class Sent:
    sender: int
    to: int
    text: str
    ack: m.SentMessage | None = None
    acked_before_kill: bool = False


async def _account(url: str, http: aiohttp.ClientSession) -> Account:
    auth = await sign_in(url, next_test_phone(), session=http)
    seen: list[AnyUpdate] = []
    c = Client(url, auth.token, pts=0, on_update=seen.append, session=http, backoff=FAST)
    await c.connect()
    return Account(auth.token, auth.user.id, c, seen)


async def _log(url: str, token: str, http: aiohttp.ClientSession) -> list[Any]:
    """The user's whole update log, read slice by slice."""
    log: list[Any] = []
    for _ in range(1000):
        diff = await http_call(http, url, "updates.getDifference", {"pts": len(log)}, token)
        log.extend(diff["updates"])
        if not diff["slice"]:
            return log
    raise AssertionError("the log did not end")


async def test_acknowledged_messages_survive_sigkill(own_server: ServerProcess) -> None:
    own_server.start()
    url = own_server.url
    counter = itertools.count()
    sent: list[Sent] = []
    killed = asyncio.Event()
    enough = asyncio.Event()

    async def sender(me: int, accounts: list[Account]) -> None:
        for i in range(SENDS_PER_SENDER):
            to = (me + 1 + i % (USERS - 1)) % USERS
            s = Sent(me, to, f"{me}->{to} #{next(counter)}")
            sent.append(s)
            s.ack = await accounts[me].client.send_message(accounts[to].id, s.text)
            s.acked_before_kill = not killed.is_set()
            if sum(x.ack is not None for x in sent) >= KILL_AFTER_ACKS:
                enough.set()

    async with aiohttp.ClientSession() as http, asyncio.timeout(120):
        accounts = [await _account(url, http) for _ in range(USERS)]
        try:
            traffic = asyncio.gather(
                *(sender(u, accounts) for u in range(USERS) for _ in range(SENDERS_PER_USER))
            )
            await enough.wait()
            assert own_server.proc is not None
            own_server.proc.kill()  # SIGKILL, at once: sends are in flight
            killed.set()
            await asyncio.to_thread(own_server.kill)  # reap it
            await asyncio.to_thread(own_server.start)
            await traffic  # the clients repeat the sends that were cut off
            before = [s for s in sent if s.acked_before_kill]
            assert before and len(before) < len(sent), "the kill did not land mid-traffic"
            await check(url, accounts, sent, http)
        finally:
            for a in accounts:
                await a.client.close()


async def check(
    url: str, accounts: list[Account], sent: list[Sent], http: aiohttp.ClientSession
) -> None:
    assert all(s.ack is not None for s in sent)
    for index, acc in enumerate(accounts):
        log = await _log(url, acc.token, http)
        state = await http_call(http, url, "updates.getState", {}, acc.token)
        assert [u["pts"] for u in log] == list(range(1, state["pts"] + 1)), "a gap in the log"
        stored = sorted(u["message"]["text"] for u in log)
        expected = sorted(s.text for s in sent if index in (s.sender, s.to))
        assert stored == expected, "a message was lost or stored twice"
        for s in sent:
            if s.sender == index and s.ack is not None:
                assert log[s.ack.pts - 1]["message"]["text"] == s.text
                assert log[s.ack.pts - 1]["message"]["id"] == s.ack.message.id
        for peer_index, peer in enumerate(accounts):
            if peer_index == index:
                continue
            history = await http_call(
                http, url, "messages.getHistory", {"peer": {"user_id": peer.id}}, acc.token
            )
            between = {index, peer_index}
            assert history["count"] == sum({s.sender, s.to} == between for s in sent)
        # The live client went through the crash too: it saw the same log, once, in order.
        async with asyncio.timeout(10):
            await acc.client.wait_for_pts(len(log))
        seen = [msgspec.to_builtins(u) for u in acc.seen if pts_of(u) is not None]
        assert seen == log
        assert acc.client.connections >= 2


async def test_sigterm_closes_websockets_and_exits_cleanly(own_server: ServerProcess) -> None:
    own_server.start()
    url = own_server.url
    async with aiohttp.ClientSession() as http, asyncio.timeout(60):
        a = await sign_in(url, next_test_phone(), session=http)
        b = await sign_in(url, next_test_phone(), session=http)
        client = Client(url, a.token, pts=0, session=http, backoff=FAST)
        await client.connect()
        raw = await http.ws_connect(own_server.ws_url + f"?token={b.token}")
        # A long poll in flight must not hold the shutdown up.
        await raw.send_str(
            json.dumps(
                {"id": 1, "method": "updates.getDifference", "params": {"pts": 0, "timeout": 30}}
            )
        )
        await client.send_message(b.user.id, "before the end")
        push = json.loads((await raw.receive()).data)
        assert push.get("id") == 1 or push["updates"][0]["message"]["text"] == "before the end"
        assert own_server.proc is not None
        own_server.proc.send_signal(signal.SIGTERM)
        for _ in range(5):  # the long poll's answer or the push may come before the close
            msg = await raw.receive()
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                break
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1001
        assert await asyncio.to_thread(own_server.stop) == 0
        for _ in range(1000):  # its reader may not have seen the close frame yet
            if not client.connected:
                break
            await asyncio.sleep(0.01)
        assert client.last_close_code == 1001
        await raw.close()
        await client.close()
