"""The cluster under faults, with real processes: three nodes behind nginx (running
``deploy/nginx.conf``), sharing a private PostgreSQL and a private Redis that the tests
kill and restart (never the machine's shared ones, GUIDE §3).

The main test runs private and group traffic from clients connected through the
balancer, then, in turn: SIGKILLs the node holding the most connections, restarts
Redis, restarts PostgreSQL. Afterwards an independent checker reads every user's log,
history and the group's log over plain HTTP and checks that every acknowledged message
reached every recipient exactly once and in order, and that each live client (the
chapar.client library, reconnecting by itself) saw its own log and the group's exactly
once and in order. Along the way: nodes answer 503 STORE_UNAVAILABLE only while the
database is away, clients sent away meanwhile back off, a restarted node gets traffic
again, and no node logs an unhandled error.

Smaller tests: readiness follows the store; a client that stops reading is cut off
without costing anyone else their pushes; per-address limits count the client behind
nginx, not nginx.

Waits are bounded (liveness), never timed (no performance claims). Needs initdb/pg_ctl,
redis-server and nginx: without them the module skips, except under CI, where it fails.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import itertools
import os
import re
import socket
import struct
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import msgspec
import pytest

from chapar.client import AnyUpdate, Client, ClientError, TransportError, http_call, sign_in
from chapar.protocol.types import UpdateNewChannelMessage
from tests.cluster import (
    Nginx,
    PrivatePostgres,
    PrivateRedis,
    http_status,
    metric,
    missing_tools,
    node_env,
    node_metrics,
    start_nodes,
)
from tests.server import ServerProcess, next_test_phone

MISSING = missing_tools()
if MISSING and os.environ.get("CI"):
    pytest.fail(f"CI must have: {', '.join(MISSING)}", pytrace=False)
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"missing: {', '.join(MISSING)}")

NODES = 3
RING = 9  # users sending to each other in a ring, all in one group
GROUP_EVERY = 4  # every 4th send of a ring user goes to the group
PACE = 0.03  # seconds between a sender's messages
WAIT = 30.0  # bound of every "until" (liveness, not a timing claim)
SEND_QUEUE = 512  # frames per WebSocket before a slow consumer is dropped (nodes' setting)
CODES_PER_IP = 2  # the nodes' send_code_per_ip limit, per hour


# -- the cluster --------------------------------------------------------------------------
@dataclass
class Cluster:
    pg: PrivatePostgres
    redis: PrivateRedis
    nodes: list[ServerProcess]
    nginx: Nginx

    @property
    def url(self) -> str:
        return self.nginx.url

    def logs(self) -> str:
        return "\n".join(n.log_path.read_text(errors="replace") for n in self.nodes)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("cluster")
    pg, redis = PrivatePostgres(), PrivateRedis()
    nodes: list[ServerProcess] = []
    nginx: Nginx | None = None
    try:
        pg.start()
        redis.start()
        env = node_env(
            pg.url,
            redis.url,
            ws_send_queue=str(SEND_QUEUE),
            shutdown_timeout_seconds="2",
            limits=f"send_code_per_ip={CODES_PER_IP}/1h",
        )
        nodes = [ServerProcess(root / f"node{i}", env=env) for i in range(NODES)]
        start_nodes(nodes)
        nginx = Nginx([f"127.0.0.1:{n.port}" for n in nodes], worker_processes=2)
        nginx.start()
        yield Cluster(pg, redis, nodes, nginx)
    finally:
        if nginx is not None:
            nginx.destroy()
        for n in nodes:
            if n.proc is not None:
                n.kill()
        redis.destroy()
        pg.destroy()


async def until(what: str, cond: Callable[[], Awaitable[bool]], wait: float = WAIT) -> None:
    try:
        async with asyncio.timeout(wait):
            while not await cond():  # noqa: ASYNC110 - polls other processes' state
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"not within {wait:g} s: {what}") from None


async def node_metric(node: ServerProcess, name: str) -> float:
    text = await asyncio.to_thread(node_metrics, node)
    value = metric(text, name)
    assert value is not None, f"{name} missing from {node.url}/metrics"
    return value


async def all_nodes(c: Cluster, name: str, want: float) -> bool:
    values = [await node_metric(n, name) for n in c.nodes]
    return all(v == want for v in values)


async def readyz(node_url: str) -> int:
    return await asyncio.to_thread(http_status, node_url + "/readyz")


@pytest.fixture
async def healthy(cluster: Cluster) -> Cluster:
    """Every test starts from a whole cluster: all nodes up and ready, Redis connected."""
    if not cluster.pg.running():
        await asyncio.to_thread(cluster.pg.start)
    if cluster.redis.proc is None:
        await asyncio.to_thread(cluster.redis.start)
    for n in cluster.nodes:
        if n.proc is None:
            await asyncio.to_thread(n.start)

    async def ready() -> bool:
        return all([await readyz(n.url) == 200 for n in cluster.nodes])

    await until("every node is ready", ready)
    await until("every bus is connected", lambda: all_nodes(cluster, "chapar_bus_connected", 1))
    return cluster


# -- traffic ------------------------------------------------------------------------------
@dataclass
class User:
    id: int
    token: str
    client: Client
    seen: list[AnyUpdate] = field(default_factory=list)


@dataclass
class Sent:
    sender: int  # user id
    to_user: int | None
    chat: int | None
    seq: int
    text: str
    phase: str


class Traffic:
    """Ring users each sending, one message at a time, to the next user and now and then
    to the group, repeating a refused or cut-off send with the same random_id until it is
    acknowledged: so every send the test makes is acknowledged exactly once, and order
    per sender is the order of acknowledgement."""

    def __init__(self, users: list[User], group: int) -> None:
        self.users = users
        self.group = group
        self.phase = "warm"
        self.sent: list[Sent] = []
        self.retries: collections.Counter[str] = collections.Counter()
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        for i, u in enumerate(self.users):
            peer = self.users[(i + 1) % len(self.users)]
            self.tasks.append(asyncio.create_task(self._run(u, peer)))

    async def finish(self) -> None:
        self.stop.set()
        await asyncio.gather(*self.tasks)

    def _refused(self, why: str) -> None:
        self.retries[f"{self.phase}:{why}"] += 1

    def acked_in(self, phase: str, sender: int | None = None) -> int:
        return sum(s.phase == phase and sender in (None, s.sender) for s in self.sent)

    async def _run(self, me: User, peer: User) -> None:
        for seq in itertools.count(1):
            if self.stop.is_set():
                return
            if seq % GROUP_EVERY == 0:
                text, to_user, chat = f"g {me.id} {seq}", None, self.group
                params: dict[str, Any] = {"peer": {"chat_id": chat}}
            else:
                text, to_user, chat = f"m {me.id} {seq}", peer.id, None
                params = {"peer": {"user_id": peer.id}}
            params |= {"text": text, "random_id": me.id * 1_000_000 + seq}
            phase = self.phase
            result = await send_until_acked(me.client, params, self._refused)
            assert result["message"]["text"] == text
            self.sent.append(Sent(me.id, to_user, chat, seq, text, phase))
            await asyncio.sleep(PACE)


async def send_until_acked(
    client: Client, params: dict[str, Any], refused: Callable[[str], None] = lambda _: None
) -> Any:
    """messages.sendMessage until acknowledged; only retryable refusals are retried, and
    each is reported to ``refused``."""
    async with asyncio.timeout(90):
        while True:
            try:
                return await client.call("messages.sendMessage", params)
            except ClientError as e:
                if e.code not in (502, 503, 504):
                    raise
                refused(e.type)
            except (TimeoutError, TransportError) as e:
                refused(type(e).__name__)
            await asyncio.sleep(0.1)


async def new_user(c: Cluster, http: aiohttp.ClientSession, name: str) -> User:
    auth = await sign_in(c.url, next_test_phone(), first_name=name, session=http)
    seen: list[AnyUpdate] = []
    client = Client(c.url, auth.token, pts=0, on_update=seen.append, session=http, call_timeout=10)
    await client.connect()
    return User(auth.user.id, auth.token, client, seen)


# -- the independent checker --------------------------------------------------------------
async def read_log(http: aiohttp.ClientSession, url: str, token: str) -> list[Any]:
    log: list[Any] = []
    for _ in range(1000):
        diff = await http_call(http, url, "updates.getDifference", {"pts": len(log)}, token)
        log.extend(diff["updates"])
        if not diff["slice"]:
            return log
    raise AssertionError("the log did not end")


async def read_chat_log(http: aiohttp.ClientSession, url: str, token: str, chat: int) -> list[Any]:
    log: list[Any] = []
    pts = 0
    for _ in range(1000):
        params = {"channel": {"chat_id": chat}, "pts": pts, "limit": 1000}
        diff = await http_call(http, url, "updates.getChannelDifference", params, token)
        assert not diff["too_long"]
        log.extend(diff["updates"])
        pts = diff["pts"]
        if diff["final"]:
            return log
    raise AssertionError("the chat log did not end")


async def read_history(
    http: aiohttp.ClientSession, url: str, token: str, peer: dict[str, int]
) -> list[Any]:
    """Every message of a chat, oldest first."""
    out: list[Any] = []
    offset = 0
    while True:
        params = {"peer": peer, "limit": 100, "offset_id": offset}
        page = (await http_call(http, url, "messages.getHistory", params, token))["messages"]
        if not page:
            return out[::-1]
        out.extend(page)
        offset = page[-1]["id"]


def check_stream(texts: list[str], expected: list[Sent], where: str) -> None:
    """Each expected message exactly once, each sender's in the order sent, and nothing
    that was never sent."""
    counts = collections.Counter(texts)
    doubled = [t for t, n in counts.items() if n > 1]
    assert not doubled, f"{where}: stored more than once: {doubled[:5]}"
    want = {s.text for s in expected}
    missing = [s.text for s in expected if s.text not in counts]
    assert not missing, f"{where}: acknowledged but missing: {missing[:5]}"
    phantom = [t for t in texts if t not in want]
    assert not phantom, f"{where}: never acknowledged: {phantom[:5]}"
    last: dict[str, int] = {}
    for t in texts:
        _, sender, seq = t.split()
        assert int(seq) > last.get(sender, 0), f"{where}: {t} out of order"
        last[sender] = int(seq)


async def check_everything(c: Cluster, users: list[User], t: Traffic, group: int) -> None:
    url = c.nodes[0].url  # any node: they share the store; no client library involved
    async with aiohttp.ClientSession() as http:
        for u in users:
            log = await read_log(http, url, u.token)
            assert [x["pts"] for x in log] == list(range(1, len(log) + 1)), f"{u.id}: log gap"
            new = [x["message"] for x in log if x["type"] == "updateNewMessage"]
            incoming = [m["text"] for m in new if not m.get("out") and m["text"][:2] == "m "]
            outgoing = [m["text"] for m in new if m.get("out") and m["text"][:2] == "m "]
            check_stream(incoming, [s for s in t.sent if s.to_user == u.id], f"{u.id} inbox")
            mine = [s for s in t.sent if s.sender == u.id and s.to_user is not None]
            check_stream(outgoing, mine, f"{u.id} outbox")
            # The live client went through every fault: it saw this log, once, in order.
            async with asyncio.timeout(WAIT):
                await u.client.wait_for_pts(len(log))
            seen = [msgspec.to_builtins(x) for x in u.seen if _in_user_log(x)]
            assert seen == log, f"{u.id}: the client's stream differs from the log"
            if mine:
                peer = {"user_id": mine[0].to_user or 0}
                hist = [m["text"] for m in await read_history(http, url, u.token, peer)]
                hist = [h for h in hist if h.startswith("m ")]  # not the probes
                check_stream(hist, mine, f"{u.id} history")
            chat = await read_chat_log(http, url, u.token, group)
            posts = [x["message"]["text"] for x in chat if x["type"] == "updateNewChannelMessage"]
            posts = [p for p in posts if p.startswith("g ")]
            check_stream(posts, [s for s in t.sent if s.chat == group], f"{u.id} group")
            # And the client followed the group's log too, pushes lost or not.
            async with asyncio.timeout(WAIT):
                await u.client.wait_for_chat_pts(group, chat[-1]["pts"])
            live = [
                x.message.text
                for x in u.seen
                if isinstance(x, UpdateNewChannelMessage) and x.chat_id == group
            ]
            assert [p for p in live if p.startswith("g ")] == posts, f"{u.id}: group stream"


def _in_user_log(update: AnyUpdate) -> bool:
    data = msgspec.to_builtins(update)
    return isinstance(data, dict) and "pts" in data and "chat_id" not in data


# -- the tests ----------------------------------------------------------------------------
async def test_acknowledged_messages_survive_node_redis_and_database_faults(
    healthy: Cluster,
) -> None:
    c = healthy
    async with aiohttp.ClientSession() as http, asyncio.timeout(150):
        users = [await new_user(c, http, f"Ring{i}") for i in range(RING)]
        quiet = await new_user(c, http, "Quiet")  # hears only during the Redis outage
        try:
            owner = users[0]
            created = await owner.client.call(
                "channels.createChannel", {"title": "Ring", "broadcast": False}
            )
            group = created["chat"]["id"]
            await owner.client.call(
                "channels.inviteToChannel",
                {"channel": {"chat_id": group}, "users": [u.id for u in users[1:]]},
            )
            counts = [await node_metric(n, "chapar_ws_connections") for n in c.nodes]
            assert all(n > 0 for n in counts), f"the balancer did not spread clients: {counts}"
            traffic = Traffic(users, group)
            traffic.start()
            await _progress(traffic, "warm")

            await _kill_a_node(c, [*users, quiet], traffic)
            await _restart_redis(c, http, users, quiet, traffic)
            await _restart_postgres(c, http, users, traffic)

            traffic.phase = "end"
            await traffic.finish()
            print("acknowledged per phase:", collections.Counter(s.phase for s in traffic.sent))
            print("retried:", dict(traffic.retries))
            # Refusals are for the database outage only: a healthy store refuses nothing,
            # whatever the other faults, and recovers without a node restart.
            elsewhere = {k: n for k, n in traffic.retries.items() if not k.startswith("pg_down:")}
            assert not elsewhere, f"sends refused outside the database outage: {elsewhere}"
            await check_everything(c, users, traffic, group)
        finally:
            for u in [*users, quiet]:
                await u.client.close()
    # Errors nothing handled: a handler that raised (aiohttp), a task or callback that died.
    unhandled = r"(?m)^.*(?:Error handling request|never retrieved|Exception in callback).*$"
    unexpected = re.findall(unhandled, c.logs())
    assert not unexpected, "node logs show unhandled errors:\n" + "\n".join(unexpected[:10])


async def _progress(t: Traffic, phase: str) -> None:
    """Every sender gets at least two messages acknowledged in this phase."""

    async def each_sent() -> bool:
        return all(t.acked_in(phase, u.id) >= 2 for u in t.users)

    await until(f"every sender makes progress in phase {phase!r}", each_sent)


async def _kill_a_node(c: Cluster, users: list[User], t: Traffic) -> None:
    counts = [await node_metric(n, "chapar_ws_connections") for n in c.nodes]
    victim = c.nodes[counts.index(max(counts))]
    before = {u.id: u.client.connections for u in users}
    t.phase = "node_down"
    assert victim.proc is not None
    victim.proc.kill()  # SIGKILL: no drain, no goodbye
    await asyncio.to_thread(victim.kill)  # reap it

    async def reconnected() -> bool:
        moved = sum(u.client.connections > before[u.id] for u in users)
        return moved >= max(counts) and all(u.client.connected for u in users)

    await until("the dead node's clients reconnect through the balancer", reconnected)
    await _progress(t, "node_down")
    await asyncio.to_thread(victim.start)
    t.phase = "node_back"
    await _balancer_uses(c, victim, users[0].token)
    await _progress(t, "node_back")


async def _balancer_uses(c: Cluster, node: ServerProcess, token: str) -> None:
    """The balancer sends new connections to a restarted node again (least_conn: it has
    the fewest), once its fail_timeout has passed."""
    async with aiohttp.ClientSession() as http:

        async def lands_there() -> bool:
            async with http.ws_connect(f"{c.url.replace('http', 'ws')}/api/ws?token={token}"):
                return await node_metric(node, "chapar_ws_connections") > 0

        await until(f"a new connection through the balancer lands on {node.url}", lands_there)


async def _restart_redis(
    c: Cluster, http: aiohttp.ClientSession, users: list[User], quiet: User, t: Traffic
) -> None:
    t.phase = "redis_down"
    await asyncio.to_thread(c.redis.kill)
    await until("every node notices Redis is gone", lambda: all_nodes(c, "chapar_bus_connected", 0))
    for k in range(3):  # acknowledged while no push can travel
        params = {"peer": {"user_id": quiet.id}, "text": f"q {users[0].id} {k}", "random_id": k}
        await send_until_acked(users[0].client, params)
    await _progress(t, "redis_down")
    await asyncio.to_thread(c.redis.start)
    t.phase = "redis_back"
    await until("every node's bus reconnects", lambda: all_nodes(c, "chapar_bus_connected", 1))
    # The quiet user gets nothing more: its client must catch up by itself.
    state = await http_call(http, c.url, "updates.getState", {}, quiet.token)
    await until(
        f"the quiet client catches up by itself (saw {[type(u).__name__ for u in quiet.seen]})",
        _async(lambda: (quiet.client.pts or 0) >= state["pts"]),
    )
    got = [msgspec.to_builtins(u) for u in quiet.seen if _in_user_log(u)]
    assert [u["message"]["text"] for u in got] == [f"q {users[0].id} {k}" for k in range(3)]
    await _push_reaches_every_node(c, http, users[0], users[1])
    await _progress(t, "redis_back")


async def _push_reaches_every_node(
    c: Cluster, http: aiohttp.ClientSession, sender: User, receiver: User
) -> None:
    """Live pushes cross nodes again (not only catch-up): a raw socket on each node."""
    probe = itertools.count(1)
    for node in c.nodes:
        async with http.ws_connect(f"{node.ws_url}?token={receiver.token}") as ws:

            async def pushed(ws: aiohttp.ClientWebSocketResponse = ws) -> bool:
                n = next(probe)
                text = f"p {sender.id} {n}"
                params = {"peer": {"user_id": receiver.id}, "text": text, "random_id": 10**8 + n}
                await send_until_acked(sender.client, params)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.5):
                        async for msg in ws:
                            if text.encode() in msg.data.encode():
                                return True
                return False

            await until(f"a push reaches a session on {node.url}", pushed)


async def _restart_postgres(
    c: Cluster, http: aiohttp.ClientSession, users: list[User], t: Traffic
) -> None:
    t.phase = "pg_down"
    await asyncio.to_thread(c.pg.stop, "immediate")  # as a crash: recovery from the WAL
    params = {"peer": {"user_id": users[1].id}, "text": "while down", "random_id": 1}
    async with asyncio.timeout(15):  # a hang guard: it must answer, not wait for the DB
        async with http.post(
            f"{c.url}/api/messages.sendMessage",
            json=params,
            headers={"Authorization": f"Bearer {users[0].token}"},
        ) as r:
            body = await r.json(content_type=None)
    assert r.status == 503 and body["error"]["type"] == "STORE_UNAVAILABLE", (r.status, body)
    retried = sum(t.retries.values())
    await until("senders see retryable errors", _async(lambda: sum(t.retries.values()) > retried))
    # A network blip on top: every client drops its socket while the database is away,
    # and keeps trying (a node cannot check a token it has not cached without it).
    before = {u.id: u.client.connections for u in users}
    for u in users:
        u.client.reconnect()
    await asyncio.sleep(1)
    await asyncio.to_thread(c.pg.start)
    # Sent away (1013) by nodes that cannot bind them, clients back off instead of
    # hammering: with the default backoff a few tries per second at most. (A slower
    # machine only makes fewer tries, so this bound cannot fail for slowness.)
    tries = max(u.client.connections - before[u.id] for u in users)
    assert tries <= 15, f"a client reconnected {tries} times during the outage"
    await until(
        "every client reconnects once the database is back",
        _async(lambda: all(u.client.connections > before[u.id] for u in users)),
    )
    t.phase = "pg_back"
    await _progress(t, "pg_back")
    # The one refused send, repeated now, is stored once like any other.
    params["random_id"] = 2
    await http_call(http, c.url, "messages.sendMessage", params, users[0].token)


def _async(cond: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return cond()

    return check


async def test_readiness_follows_the_store(healthy: Cluster) -> None:
    c = healthy
    await asyncio.to_thread(c.pg.stop, "fast")
    try:

        async def none_ready() -> bool:
            return all([await readyz(n.url) == 503 for n in c.nodes])

        await until("every node reports not ready", none_ready)
        assert await readyz(c.url) == 503  # through the balancer too
        # Liveness is another question: the processes are fine.
        assert all(
            [await asyncio.to_thread(http_status, n.url + "/healthz") == 200 for n in c.nodes]
        )
    finally:
        await asyncio.to_thread(c.pg.start)

    async def all_ready() -> bool:
        return all([await readyz(n.url) == 200 for n in c.nodes])

    await until("every node is ready again, without a restart", all_ready)


# -- a consumer that stops reading ---------------------------------------------------------
def stalled_websocket(port: int, token: str) -> socket.socket:
    """A WebSocket handshake on a plain socket with a tiny receive buffer, which the test
    then never reads: the server's pushes pile up on the server's side."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(
        (
            f"GET /api/ws?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        if not chunk:
            raise AssertionError("the server closed during the handshake")
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return s


def drain_socket(s: socket.socket) -> tuple[int, int | None]:
    """Read until the server is gone; (bytes read, close code if a close frame came)."""
    data = b""
    s.settimeout(WAIT)
    with contextlib.suppress(ConnectionError):
        while chunk := s.recv(1 << 16):
            data += chunk
    code = None
    i = 0
    while i + 2 <= len(data):  # walk the server's (unmasked) frames
        opcode, n = data[i] & 0x0F, data[i + 1] & 0x7F
        i += 2
        if n == 126:
            n, i = struct.unpack_from("!H", data, i)[0], i + 2
        elif n == 127:
            n, i = struct.unpack_from("!Q", data, i)[0], i + 8
        if opcode == 0x8 and n >= 2 and i + 2 <= len(data):
            code = struct.unpack_from("!H", data, i)[0]
        i += n
    return len(data), code


async def test_a_consumer_that_stops_reading_is_dropped_and_slows_no_one(
    healthy: Cluster,
) -> None:
    c = healthy
    node = c.nodes[0]
    async with aiohttp.ClientSession() as http, asyncio.timeout(120):
        flooder, slow, talker, reader = [
            await sign_in(c.url, next_test_phone(), first_name=n, session=http)
            for n in ("Flood", "Slow", "Talk", "Read")
        ]
        # The healthy reader and the stalled one share a node: the question is whether
        # one costs the other anything there.
        live = await http.ws_connect(f"{node.ws_url}?token={reader.token}")
        stalled = await asyncio.to_thread(stalled_websocket, node.port, slow.token)
        dropped0 = await node_metric(node, "chapar_ws_slow_consumer_disconnects_total")
        received: list[str] = []

        async def read_live() -> None:
            async for msg in live:
                for u in msgspec.json.decode(msg.data).get("updates", []):
                    if u["type"] == "updateNewMessage":
                        received.append(u["message"]["text"])

        reading = asyncio.create_task(read_live())
        # The writers sit on the other nodes: pushes reach the stalled client through Redis.
        flood = Client(c.nodes[1].url, flooder.token, session=http, call_timeout=30)
        talk = Client(c.nodes[2].url, talker.token, session=http)
        await flood.connect()
        await talk.connect()
        conns0 = await node_metric(node, "chapar_ws_connections")
        big = "x" * 4000
        talked: list[str] = []
        try:
            for batch in range(200):
                await asyncio.gather(*(flood.send_message(slow.user.id, big) for _ in range(50)))
                text = f"t {batch}"
                await talk.send_message(reader.user.id, text)
                talked.append(text)
                if await node_metric(node, "chapar_ws_slow_consumer_disconnects_total") > dropped0:
                    break
            else:
                raise AssertionError("10,000 pushes did not overflow the stalled client")

            async def released() -> bool:
                return await node_metric(node, "chapar_ws_connections") <= conns0 - 1

            # Without reading a byte, the stalled client is cut off and its session freed.
            await until("the node drops the stalled connection", released)
            await until(
                "the healthy reader got every message",
                _async(lambda: received == talked),
            )
            assert not live.closed
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading
            await live.close()
            await flood.close()
            await talk.close()
        read, code = await asyncio.to_thread(drain_socket, stalled)
        stalled.close()
        assert code in (None, 4008), code
        print(f"stalled client: {read} bytes, close code {code}, {len(talked)} batches")


# -- who the client is, behind the balancer ---------------------------------------------
async def test_limits_count_the_client_address_not_the_balancers(healthy: Cluster) -> None:
    """Per-address limits must see each client's own address: behind nginx every request
    comes from nginx, and counting that would throttle everyone at once."""
    c = healthy

    async def send_code(source: str, phone: str) -> tuple[int, Any]:
        connector = aiohttp.TCPConnector(local_addr=(source, 0))
        async with (
            aiohttp.ClientSession(connector=connector) as http,
            http.post(f"{c.url}/api/auth.sendCode", json={"phone": phone}) as r,
        ):
            return r.status, await r.json(content_type=None)

    # Real (not test) numbers, each in its own operator range: only the address limit bites.
    phones = iter(f"+98{prefix}1234567" for prefix in (912, 935, 901, 921, 990, 933))
    for _ in range(CODES_PER_IP):
        status, body = await send_code("127.0.7.1", next(phones))
        assert status == 200, body
    status, body = await send_code("127.0.7.1", next(phones))
    assert status == 429 and body["error"]["type"] == "FLOOD_WAIT", body
    # Another client, another address (and network): its own budget.
    status, body = await send_code("127.0.8.1", next(phones))
    assert status == 200, body
