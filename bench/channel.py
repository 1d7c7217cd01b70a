"""Channel benchmark: posts to a broadcast channel with many subscribers, some of them
online, and how long a post takes to reach every online one.

A real Chapar server runs as a child process on an empty temporary data dir (SQLite).
Before it starts, the benchmark seeds that database through Chapar's own store and
services, without HTTP (100,000 sign-ups through the API would take far longer than the
measurement):

  * --subscribers + 1 accounts on reserved test numbers (+99966...), each with a session,
    written by chapar.db.users.create and chapar.db.auth.create_session as auth.signUp
    writes them (the session tokens are the benchmark's own random strings);
  * two channels of the first account (the admin), made by ChatsService.create: "big"
    with every subscriber and "small" with the first --small of them, added by
    ChatsService.invite in slices of 200, the code behind channels.inviteToChannel (a
    member row, a read position and an updateChannel in each subscriber's own log).

Then the server starts on that database and the admin posts with messages.sendMessage over
its WebSocket, one post at a time:

  phase 1  nobody but the admin online: --posts posts to the small channel, then --posts
           to the big one. Reported per channel: post latency (send -> answer) and the
           rows each post added to the database (every table counted before and after the
           block, read-only beside the server): when both channels show the same rows per
           post and none in the subscribers' own logs, a post is one write whatever the
           subscriber count.
  phase 2  --live subscribers of the big channel hold signed-in WebSockets (worker
           processes of RawWebSocket clients, several source addresses beyond
           --per-source). Each post carries its send time; it is done when every live
           socket has its push (or --post-timeout passed) and the next goes --gap later.
           Reported: post latency, the time until the LAST live subscriber had the post
           (p50/p99/max over the posts), per-subscriber delivery latency over all
           deliveries, the server's CPU per post.

Each block starts with --warmup-posts unmeasured posts (in phase 2 they also show that
every socket is bound to its user before measuring). Delivery is timed at the load
generator's sockets, so on a small machine its own scheduling is included. The issue's
targets are reported, not asserted: a post reaches all 5,000 live subscribers within 1 s;
a post is one write regardless of the subscriber count. All traffic stays on 127.0.0.1.

    .venv/bin/python bench/channel.py --subscribers 2000 --live 500
    .venv/bin/python bench/channel.py --json channel.json    # 100,000 subscribers, 5,000 live
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import math
import multiprocessing as mp
import random
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from bench.common import (
    LOCALHOST,
    Child,
    LatencySummary,
    RawWebSocket,
    fmt_num,
    free_port,
    load_average,
    machine_busy_seconds,
    machine_info,
    open_websocket,
    process_cpu_seconds,
    render_table,
    summarize_us,
)
from bench.frames import PUSH_PREFIX, Frame
from bench.frames import Error as FrameError
from bench.frames import decode as decode_frame
from bench.idle import raise_nofile, ws_count
from bench.pairs import _q
from chapar import logs
from chapar.adapters.memory.bus import MemoryBus
from chapar.adapters.sms.console import ConsoleSms
from chapar.adapters.sqlite.store import SqliteStore
from chapar.config import Settings
from chapar.db import auth as auth_db
from chapar.db import chats as chats_db
from chapar.db import users as users_db
from chapar.ports.clock import SystemClock, SystemRandom
from chapar.ports.store import Tx
from chapar.protocol import chat_methods as cm
from chapar.protocol.types import Peer
from chapar.services.auth import AuthContext
from chapar.services.chats import ChatsService
from chapar.services.deps import Deps

INVITE_SLICE = 200  # channels.inviteToChannel takes at most 200 users per call
INVITES_IN_FLIGHT = 4
USERS_PER_TX = 1000
CONNECT_CONCURRENCY = 200  # per worker: handshakes in flight
SPARE_FDS = 500  # descriptors a process needs besides its connections
TARGET_MS = 1000.0  # the issue: a post reaches every live subscriber within 1 s
USER_LOG = "updates"  # the per-user update log table (fan-out on write would fill it)
# RUN_NOTE: the standard event loop, not uvloop: bench.common.RawWebSocket asserts an
# asyncio.Transport, which uvloop's transports are not.


def note(text: str) -> None:
    print(f"  {text}", file=sys.stderr, flush=True)


# -- seeding, before the server starts ------------------------------------------------------
@dataclass(frozen=True)
class Seeded:
    admin_token: str
    big_chat: int
    small_chat: int
    live_tokens: list[str]  # of the first --live subscribers
    accounts_s: float
    memberships_s: float


def _accounts(first: int, count: int, now: int) -> Callable[[Tx], list[tuple[int, int, str]]]:
    """count accounts with a session each; (user id, session id, token) of each."""

    def fn(tx: Tx) -> list[tuple[int, int, str]]:
        out = []
        for i in range(first, first + count):
            name = "Admin" if i == 0 else f"Sub{i}"
            uid = users_db.create(tx, f"+99966{i:07d}", name, "", now)
            token = secrets.token_urlsafe(24)
            sid = auth_db.create_session(
                tx, uid, token, "bench", "bench/channel.py", LOCALHOST, now
            )
            out.append((uid, sid, token))
        return out

    return fn


async def _invite_all(
    chats: ChatsService, admin: AuthContext, chat_id: int, ids: list[int]
) -> None:
    limit = asyncio.Semaphore(INVITES_IN_FLIGHT)

    async def one(users: list[int]) -> None:
        async with limit:
            await chats.invite(
                admin, cm.InviteToChannel(channel=Peer(chat_id=chat_id), users=users)
            )

    await asyncio.gather(
        *(one(ids[i : i + INVITE_SLICE]) for i in range(0, len(ids), INVITE_SLICE))
    )


async def seed(db_path: Path, args: argparse.Namespace) -> Seeded:
    """The accounts and both channels, written through Chapar's store and services."""
    store = SqliteStore(db_path, synchronous="NORMAL")
    await store.open()  # applies the migrations, as the server would
    try:
        data = db_path.parent
        sms = ConsoleSms(data / "seed-sms-outbox.jsonl")
        deps = Deps(
            Settings(data_dir=str(data)), store, MemoryBus(), sms, SystemClock(), SystemRandom()
        )
        chats = ChatsService(deps)
        now = deps.now()
        t0 = time.monotonic()
        total = args.subscribers + 1
        slices = await asyncio.gather(
            *(
                store.write(_accounts(i, min(USERS_PER_TX, total - i), now))
                for i in range(0, total, USERS_PER_TX)
            )
        )
        accounts = [a for s in slices for a in s]
        t1 = time.monotonic()
        note(f"{total:,} accounts and sessions in {t1 - t0:.1f} s")
        admin_uid, admin_sid, admin_token = accounts[0]
        admin = AuthContext(user_id=admin_uid, session_id=admin_sid)
        big = await chats.create(admin, cm.CreateChannel(title="Bench channel", broadcast=True))
        small = await chats.create(admin, cm.CreateChannel(title="Bench small", broadcast=True))
        subscribers = [uid for uid, _, _ in accounts[1:]]
        await _invite_all(chats, admin, big.chat.id, subscribers)
        await _invite_all(chats, admin, small.chat.id, subscribers[: args.small])
        t2 = time.monotonic()
        note(f"{len(subscribers):,} + {args.small:,} channel memberships in {t2 - t1:.1f} s")
        for chat_id, want in ((big.chat.id, args.subscribers + 1), (small.chat.id, args.small + 1)):
            row = await store.read(functools.partial(chats_db.get, chat_id=chat_id))
            if row is None or row.members_count != want:  # + the admin, the creator
                raise RuntimeError(f"chat {chat_id} was seeded with {row and row.members_count}")
        return Seeded(
            admin_token=admin_token,
            big_chat=big.chat.id,
            small_chat=small.chat.id,
            live_tokens=[token for _, _, token in accounts[1 : 1 + args.live]],
            accounts_s=t1 - t0,
            memberships_s=t2 - t1,
        )
    finally:
        await store.close()


def row_counts(db_path: Path) -> dict[str, int]:
    """Rows of every table, read-only beside the running server (WAL). FTS5's internal
    tables are left out: the search index counts as the rows of its virtual table."""
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        names = [
            str(r[0])
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'search_fts_%'"
            )
        ]
        return {n: int(con.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0]) for n in names}
    finally:
        con.close()


def rows_added(before: dict[str, int], after: dict[str, int], posts: int) -> dict[str, float]:
    """Rows added per post, by table (tables that did not change left out)."""
    return {
        t: (n - before.get(t, 0)) / posts for t, n in sorted(after.items()) if n != before.get(t, 0)
    }


_NEW_POST = b'"updateNewChannelMessage"'


def post_text(sent_ns: int, k: int, pad: str) -> str:
    """A post carries its send time and its number: "<send ns> <k> <padding>"."""
    return f"{sent_ns} {k} {pad}"


# -- the admin, posting -------------------------------------------------------------------------
@dataclass(frozen=True)
class Posted:
    sent_ns: int
    answer_us: int | None  # None: no answer in time, or an error
    error: str


class Poster:
    """The admin's WebSocket: one messages.sendMessage at a time, answered by id."""

    def __init__(self, text_bytes: int) -> None:
        self.ws: RawWebSocket | None = None
        self.waiting: dict[int, asyncio.Future[tuple[int, Frame]]] = {}
        self.seq = 0
        # random_id must be new for every post, across runs too: a repeated one is a retry.
        self.random_base = random.getrandbits(30) << 32
        self.pad = "x" * text_bytes

    async def connect(self, port: int, token: str) -> None:
        self.ws = await open_websocket(LOCALHOST, port, f"/api/ws?token={_q(token)}", self.on_text)

    def on_text(self, payload: bytes, now_ns: int) -> None:
        if payload.startswith(PUSH_PREFIX):
            return  # its own posts come back to it too
        f = decode_frame(payload)
        fut = self.waiting.pop(f.id, None) if f.id is not None else None
        if fut is not None and not fut.done():
            fut.set_result((now_ns, f))

    async def post(self, chat_id: int, k: int, wait_s: float) -> Posted:
        assert self.ws is not None
        self.seq += 1
        fut: asyncio.Future[tuple[int, Frame]] = asyncio.get_running_loop().create_future()
        self.waiting[self.seq] = fut
        sent = time.monotonic_ns()
        params = {
            "peer": {"chat_id": chat_id},
            "text": post_text(sent, k, self.pad),
            "random_id": self.random_base + self.seq,
        }
        frame = {"id": self.seq, "method": "messages.sendMessage", "params": params}
        self.ws.send_text(json.dumps(frame).encode())
        try:
            arrived, f = await asyncio.wait_for(fut, wait_s)
        except TimeoutError:
            self.waiting.pop(self.seq, None)
            return Posted(sent, None, f"no answer in {wait_s:g} s")
        if not f.ok:
            err = f.error or FrameError()
            return Posted(sent, None, f"{err.type}: {err.message}")
        return Posted(sent, (arrived - sent) // 1000, "")

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()


# -- the worker processes holding the live subscribers -----------------------------------------
@dataclass(frozen=True)
class Share:
    port: int
    chat_id: int
    targets: list[tuple[str, str]]  # (source address, path with the token)


@dataclass
class WorkerResult:
    opened: int
    failed: int
    closed_early: int
    latencies_us: dict[int, array[int]]  # post number -> one per socket that got it
    first_error: str = ""


async def hold(share: Share, conn: Connection) -> None:
    """Open the share's sockets, report every post all of them received, and hand back
    the latencies when told to stop."""
    raise_nofile()
    loop = asyncio.get_running_loop()
    got: dict[int, array[int]] = {}
    n = len(share.targets)

    def on_text(payload: bytes, now_ns: int) -> None:
        if not payload.startswith(PUSH_PREFIX) or _NEW_POST not in payload:
            return
        for u in decode_frame(payload).updates or ():
            if u.type != "updateNewChannelMessage" or u.chat_id != share.chat_id:
                continue
            if u.message is None:
                continue
            sent, k, _ = u.message.text.split(" ", 2)
            lat = got.get(int(k))
            if lat is None:
                lat = got[int(k)] = array("q")
            lat.append((now_ns - int(sent)) // 1000)
            if len(lat) == n:
                conn.send(("done", int(k)))

    sockets: list[RawWebSocket] = []
    failed = 0
    first_error = ""
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def open_one(source: str, path: str) -> None:
        nonlocal failed, first_error
        async with limit:
            try:
                ws = await asyncio.wait_for(
                    open_websocket(LOCALHOST, share.port, path, on_text, source), 60
                )
            except (OSError, TimeoutError) as e:
                failed += 1
                first_error = first_error or repr(e)
                return
        sockets.append(ws)

    started = time.monotonic()
    await asyncio.gather(*(open_one(s, p) for s, p in share.targets))
    if failed:
        n = len(sockets)  # "done" then means every socket that did open
    conn.send(("open", len(sockets), failed, first_error, time.monotonic() - started))
    stop: asyncio.Future[None] = loop.create_future()

    def on_command() -> None:
        if conn.poll() and conn.recv() == "stop" and not stop.done():
            stop.set_result(None)

    loop.add_reader(conn.fileno(), on_command)
    await stop
    loop.remove_reader(conn.fileno())
    closed_early = sum(1 for ws in sockets if ws.closed.done())
    conn.send(
        (
            "result",
            WorkerResult(len(sockets), failed, closed_early, got, first_error),
        )
    )
    for ws in sockets:
        ws.close()
    await asyncio.sleep(0.2)


def worker_main(share: Share, conn: Connection) -> None:
    """Entry point of a worker process; a failure goes back to the parent as text."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:
        asyncio.run(hold(share, conn))  # not uvloop: see RUN_NOTE
    except Exception as e:
        conn.send(("failed", repr(e)))
    conn.close()


class Fleet:
    """The worker processes, seen from the main process's event loop."""

    def __init__(self, shares: list[Share]) -> None:
        self.shares = shares
        self.links: list[tuple[mp.process.BaseProcess, Connection]] = []
        self.opens: list[tuple[int, int, str, float]] = []
        self.results: list[WorkerResult] = []
        self.done: dict[int, int] = {}
        self.events: dict[int, asyncio.Event] = {}
        self.changed = asyncio.Event()
        self.failure = ""

    def start(self) -> None:
        ctx = mp.get_context("spawn")  # a fresh interpreter: no state from this process
        loop = asyncio.get_running_loop()
        for share in self.shares:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(share, child), daemon=True)
            proc.start()
            child.close()
            self.links.append((proc, parent))
            loop.add_reader(parent.fileno(), self._on_message, parent)

    def _on_message(self, conn: Connection) -> None:
        try:
            while conn.poll():
                self._handle(conn.recv())
        except (EOFError, OSError):
            asyncio.get_running_loop().remove_reader(conn.fileno())
            if len(self.results) < len(self.links):
                self.failure = self.failure or "a worker went away"
        self.changed.set()

    def _handle(self, msg: tuple[Any, ...]) -> None:
        kind = msg[0]
        if kind == "open":
            self.opens.append((msg[1], msg[2], msg[3], msg[4]))
        elif kind == "done":
            k = int(msg[1])
            self.done[k] = self.done.get(k, 0) + 1
            if self.done[k] == len(self.links):
                self.event(k).set()
        elif kind == "result":
            self.results.append(msg[1])
        elif kind == "failed":
            self.failure = self.failure or f"worker failed: {msg[1]}"

    def cpu_seconds(self) -> float:
        """CPU time of the worker processes so far (Linux /proc; 0 where unreadable)."""
        total = 0.0
        for proc, _ in self.links:
            if proc.pid is not None:
                total += process_cpu_seconds(proc.pid) or 0.0
        return total

    def event(self, k: int) -> asyncio.Event:
        return self.events.setdefault(k, asyncio.Event())

    async def _until(self, ready: Callable[[], bool], wait_s: float, what: str) -> None:
        deadline = time.monotonic() + wait_s
        while not ready():
            if self.failure:
                raise RuntimeError(self.failure)
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"workers: no {what} in {wait_s:.0f} s")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), left)

    async def opened(self, wait_s: float) -> tuple[int, int, str, float]:
        await self._until(lambda: len(self.opens) == len(self.links), wait_s, "open report")
        errors = [e for _, _, e, _ in self.opens if e]
        return (
            sum(o for o, _, _, _ in self.opens),
            sum(f for _, f, _, _ in self.opens),
            errors[0] if errors else "",
            max(s for _, _, _, s in self.opens),
        )

    async def all_got(self, k: int, wait_s: float) -> bool:
        """Whether every live socket had post k within wait_s."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.event(k).wait(), max(0.0, wait_s))
        if self.failure:
            raise RuntimeError(self.failure)
        return self.event(k).is_set()

    async def collect(self, wait_s: float) -> list[WorkerResult]:
        for _, parent in self.links:
            parent.send("stop")
        await self._until(lambda: len(self.results) == len(self.links), wait_s, "results")
        return self.results

    def close(self) -> None:
        loop = asyncio.get_running_loop()
        for proc, parent in self.links:
            with contextlib.suppress(OSError, ValueError):
                loop.remove_reader(parent.fileno())
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
            parent.close()


def plan(args: argparse.Namespace, port: int, chat_id: int, tokens: list[str]) -> list[Share]:
    """Deal the live subscribers over source addresses, then over the workers."""
    targets = [
        (f"127.0.0.{2 + i // args.per_source}", f"/api/ws?token={_q(t)}")
        for i, t in enumerate(tokens)
    ]
    workers = max(1, min(args.workers, len(targets)))
    return [Share(port, chat_id, targets[w::workers]) for w in range(workers)]


# -- the phases -------------------------------------------------------------------------------
@dataclass
class Block:
    """Posts to one channel and what they cost."""

    phase: int
    channel: str
    subscribers: int
    live: int
    posts: int
    post_latency: LatencySummary
    errors: int
    rows_per_post: dict[str, float]
    first_error: str = ""

    @property
    def total_rows_per_post(self) -> float:
        return sum(self.rows_per_post.values())

    @property
    def user_log_rows_per_post(self) -> float:
        return self.rows_per_post.get(USER_LOG, 0.0)


@dataclass
class Live:
    """Phase 2: delivery of the big channel's posts to the live subscribers."""

    live: int
    opened: int
    connect_failed: int
    connect_s: float
    closed_early: int
    posts: int
    complete: int  # posts every open socket received in time
    missing: int  # deliveries that never came (over the measured posts)
    time_to_last: LatencySummary  # over the complete posts
    per_subscriber: LatencySummary  # over every delivery of the measured posts
    last_ms_by_post: list[float | None]
    warmup_complete: bool
    server_cpu_ms_per_post: float | None
    loadgen_cpu_pct: float | None
    other_cpu_pct: float | None
    window_s: float
    first_error: str = ""


class Counter:
    """Post numbers, unique across the run (the workers index deliveries by them)."""

    def __init__(self) -> None:
        self.k = 0

    def next(self) -> int:
        self.k += 1
        return self.k


async def posts_block(
    poster: Poster,
    counter: Counter,
    db_path: Path,
    chat_id: int,
    label: str,
    subscribers: int,
    args: argparse.Namespace,
) -> Block:
    for _ in range(args.warmup_posts):
        await poster.post(chat_id, counter.next(), args.post_timeout)
        await asyncio.sleep(args.pause)
    before = await asyncio.to_thread(row_counts, db_path)
    lat: list[int] = []
    errors, first_error = 0, ""
    for _ in range(args.posts):
        p = await poster.post(chat_id, counter.next(), args.post_timeout)
        if p.answer_us is None:
            errors, first_error = errors + 1, first_error or p.error
        else:
            lat.append(p.answer_us)
        await asyncio.sleep(args.pause)  # each post its own commit
    after = await asyncio.to_thread(row_counts, db_path)
    return Block(
        1,
        label,
        subscribers,
        0,
        args.posts,
        summarize_us(lat),
        errors,
        rows_added(before, after, args.posts),
        first_error,
    )


async def live_block(
    poster: Poster,
    counter: Counter,
    db_path: Path,
    seeded: Seeded,
    args: argparse.Namespace,
    port: int,
    server_pid: int,
) -> tuple[Block, Live]:
    fleet = Fleet(plan(args, port, seeded.big_chat, seeded.live_tokens))
    try:
        fleet.start()
        opened, failed, connect_error, connect_s = await fleet.opened(max(120.0, args.live / 20))
        note(f"{opened:,} live subscribers connected in {connect_s:.1f} s ({failed} failed)")
        base = f"http://{LOCALHOST}:{port}"
        deadline = time.monotonic() + 60
        while await asyncio.to_thread(ws_count, base) < opened + 1:  # + the admin
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(args.settle)

        async def one() -> tuple[int, Posted, bool]:
            k = counter.next()
            p = await poster.post(seeded.big_chat, k, args.post_timeout)
            left = args.post_timeout - (time.monotonic_ns() - p.sent_ns) / 1e9
            reached = await fleet.all_got(k, left)
            return k, p, reached

        warm_ok = True
        for _ in range(args.warmup_posts):
            warm_ok = (await one())[2] and warm_ok
            await asyncio.sleep(args.gap)
        if not warm_ok:
            note("a warm-up post did not reach every live socket in time; measuring anyway")
        print(f"  load average before phase 2: {load_average()}", file=sys.stderr, flush=True)
        before = await asyncio.to_thread(row_counts, db_path)
        profiler = start_profiler(server_pid, args.py_spy)
        cpu0, machine0, t0 = (
            process_cpu_seconds(server_pid),
            machine_busy_seconds(),
            time.monotonic(),
        )
        gen0 = fleet.cpu_seconds()
        measured: list[int] = []
        lat: list[int] = []
        errors, first_error = 0, ""
        for _ in range(args.posts):
            k, p, _ = await one()
            measured.append(k)
            if p.answer_us is None:
                errors, first_error = errors + 1, first_error or p.error
            else:
                lat.append(p.answer_us)
            await asyncio.sleep(args.gap)
        cpu1, machine1, t1 = (
            process_cpu_seconds(server_pid),
            machine_busy_seconds(),
            time.monotonic(),
        )
        gen1 = fleet.cpu_seconds()
        stop_profiler(profiler)
        after = await asyncio.to_thread(row_counts, db_path)
        results = await fleet.collect(60)
    finally:
        fleet.close()
    window_s = t1 - t0
    block = Block(
        2,
        "big",
        args.subscribers,
        opened,
        args.posts,
        summarize_us(lat),
        errors,
        rows_added(before, after, args.posts),
        first_error,
    )
    lasts: list[int] = []
    last_ms: list[float | None] = []
    every: list[int] = []
    missing = 0
    for k in measured:
        got = [x for r in results for x in r.latencies_us.get(k, ())]
        every += got
        missing += max(0, opened - len(got))
        if got and len(got) >= opened:
            lasts.append(max(got))
            last_ms.append(max(got) / 1000)
        else:
            last_ms.append(None)
    server_s = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
    loadgen_s = gen1 - gen0
    other = None
    if server_s is not None and machine0 is not None and machine1 is not None:
        other = max(0.0, (machine1 - machine0) - server_s - loadgen_s)
    errors_seen = [e for e in [connect_error, *(r.first_error for r in results)] if e]
    live = Live(
        live=args.live,
        opened=opened,
        connect_failed=failed,
        connect_s=connect_s,
        closed_early=sum(r.closed_early for r in results),
        posts=args.posts,
        complete=len(lasts),
        missing=missing,
        time_to_last=summarize_us(lasts),
        per_subscriber=summarize_us(every),
        last_ms_by_post=last_ms,
        warmup_complete=warm_ok,
        server_cpu_ms_per_post=None if server_s is None else 1000 * server_s / args.posts,
        loadgen_cpu_pct=100 * loadgen_s / window_s,
        other_cpu_pct=None if other is None else 100 * other / window_s,
        window_s=window_s,
        first_error=errors_seen[0] if errors_seen else "",
    )
    return block, live


def start_profiler(pid: int, out: str) -> subprocess.Popen[bytes] | None:
    """py-spy the server (its threads apart) until stop_profiler; None without --py-spy."""
    if not out:
        return None
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    fmt = {".txt": "raw", ".json": "speedscope"}.get(Path(out).suffix, "flamegraph")
    argv = [exe, "record", "--pid", str(pid), "--rate", "250", "--nonblocking", "--threads"]
    return subprocess.Popen([*argv, "--format", fmt, "--output", out], stdout=subprocess.DEVNULL)


def stop_profiler(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None:
        return
    proc.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


async def drive(
    args: argparse.Namespace, port: int, server_pid: int, db_path: Path, seeded: Seeded
) -> tuple[list[Block], Live | None]:
    poster = Poster(args.text_bytes)
    counter = Counter()
    await poster.connect(port, seeded.admin_token)
    try:
        print(f"  load average before phase 1: {load_average()}", file=sys.stderr, flush=True)
        small = await posts_block(
            poster, counter, db_path, seeded.small_chat, "small", args.small, args
        )
        note(f"phase 1 small: post p50 {fmt_num(small.post_latency.p50_ms, 1)} ms")
        big = await posts_block(
            poster, counter, db_path, seeded.big_chat, "big", args.subscribers, args
        )
        note(f"phase 1 big:   post p50 {fmt_num(big.post_latency.p50_ms, 1)} ms")
        if args.live == 0:
            return [small, big], None
        block, live = await live_block(poster, counter, db_path, seeded, args, port, server_pid)
        note(
            f"phase 2: last live subscriber p50 {fmt_num(live.time_to_last.p50_ms, 1)} ms,"
            f" max {fmt_num(live.time_to_last.max_ms, 1)} ms"
        )
        return [small, big, block], live
    finally:
        poster.close()


@dataclass
class Outcome:
    blocks: list[Block]
    live: Live | None
    seed_accounts_s: float
    seed_memberships_s: float
    load_before: str
    load_after: str
    targets: dict[str, Any] = field(default_factory=dict)


def run(args: argparse.Namespace, workdir: Path) -> Outcome:
    nofile = raise_nofile()  # the server inherits it
    if args.live + SPARE_FDS > nofile:
        raise SystemExit(
            f"channel.py: the open-files limit is {nofile}; {args.live} live subscribers need "
            f"{args.live + SPARE_FDS} in the server. Raise it (ulimit -Hn) or pass fewer --live."
        )
    data = workdir / "data"
    data.mkdir()
    db_path = data / "chapar.sqlite3"  # where the server keeps it (Settings.sqlite_path)
    logs.configure("warning")
    note(f"seeding {args.subscribers:,} subscribers (load average {load_average()})")
    seeded = asyncio.run(seed(db_path, args))
    port = free_port()
    env = {"CHAPAR_TEST_NUMBERS": "true", "CHAPAR_SQLITE_SYNCHRONOUS": args.sync}
    env.update(item.split("=", 1) for item in args.server_env)
    argv = [sys.executable, "-m", "chapar", "serve", "--port", str(port), "--data-dir", str(data)]
    server = Child(argv, workdir / "chapar.log", env)
    server.start(f"http://{LOCALHOST}:{port}/healthz", timeout=120)
    load_before = load_average()
    try:
        blocks, live = asyncio.run(drive(args, port, server.pid, db_path, seeded))
    finally:
        if server.stop() not in (0, None):
            print(f"chapar exited uncleanly:\n{server.log_tail()}", file=sys.stderr)
    return Outcome(
        blocks, live, seeded.accounts_s, seeded.memberships_s, load_before, load_average()
    )


# -- output -----------------------------------------------------------------------------------
def judge(o: Outcome) -> dict[str, Any]:
    """The issue's two targets, from what was measured."""
    out: dict[str, Any] = {}
    if o.live is not None:
        lv = o.live
        worst = lv.time_to_last.max_ms
        all_reached = lv.opened == lv.live and lv.complete == lv.posts and lv.posts > 0
        out["reach_all_live_within_1s"] = {
            "met": bool(all_reached and worst is not None and worst <= TARGET_MS),
            "live": lv.live,
            "opened": lv.opened,
            "posts_complete": lv.complete,
            "posts": lv.posts,
            "worst_ms": worst,
            "posts_within_1s": sum(
                1 for x in lv.last_ms_by_post if x is not None and x <= TARGET_MS
            ),
        }
    p1 = {b.channel: b for b in o.blocks if b.phase == 1}
    if "small" in p1 and "big" in p1:
        small, big = p1["small"], p1["big"]
        out["one_write_per_post"] = {
            "met": small.rows_per_post == big.rows_per_post and big.user_log_rows_per_post == 0,
            "rows_per_post_small": small.rows_per_post,
            "rows_per_post_big": big.rows_per_post,
            "subscribers_small": small.subscribers,
            "subscribers_big": big.subscribers,
            "post_p50_ms_small": small.post_latency.p50_ms,
            "post_p50_ms_big": big.post_latency.p50_ms,
        }
    return out


def posts_table(blocks: list[Block]) -> str:
    header = ["phase", "channel", "subscribers", "live", "posts", "post p50 ms", "post p99 ms"]
    header += ["post max ms", "rows/post", "user-log rows/post", "errors"]
    rows = [
        [
            str(b.phase),
            b.channel,
            f"{b.subscribers:,}",
            f"{b.live:,}",
            str(b.posts),
            fmt_num(b.post_latency.p50_ms, 1),
            fmt_num(b.post_latency.p99_ms, 1),
            fmt_num(b.post_latency.max_ms, 1),
            fmt_num(b.total_rows_per_post, 2),
            fmt_num(b.user_log_rows_per_post, 2),
            str(b.errors),
        ]
        for b in blocks
    ]
    return render_table(header, rows, left=2)


def live_table(lv: Live) -> str:
    header = ["live", "opened", "posts", "complete", "last p50 ms", "last p99 ms", "last max ms"]
    header += ["sub p50 ms", "sub p99 ms", "srv CPU ms/post", "gen CPU%", "other CPU%"]
    row = [
        f"{lv.live:,}",
        f"{lv.opened:,}",
        str(lv.posts),
        str(lv.complete),
        fmt_num(lv.time_to_last.p50_ms, 1),
        fmt_num(lv.time_to_last.p99_ms, 1),
        fmt_num(lv.time_to_last.max_ms, 1),
        fmt_num(lv.per_subscriber.p50_ms, 1),
        fmt_num(lv.per_subscriber.p99_ms, 1),
        fmt_num(lv.server_cpu_ms_per_post, 1),
        fmt_num(lv.loadgen_cpu_pct),
        fmt_num(lv.other_cpu_pct),
    ]
    return render_table(header, [row], left=0)


LEGEND = """\
post: messages.sendMessage sent -> answered at the admin's socket. rows/post: rows added to
the database per post, all tables (FTS5 internals aside); user-log rows: of those, rows in
the subscribers' own update logs (fan-out on write would add one per subscriber). Besides
its rows a post updates two in place (the chat's counters, the sender's last post time).
last: per post, send -> the push reached the LAST live subscriber (over the posts every
live socket received); sub: send -> arrival, over every delivery. srv CPU ms/post: the
server's CPU over phase 2 divided by the posts (100% = one core, {nproc} here); gen: the
workers holding the sockets; other: the rest of the machine (high = a disturbed run)."""


def _rows(rows: dict[str, float]) -> str:
    return ", ".join(f"{t} {n:g}" for t, n in rows.items()) or "none"


def report(o: Outcome, info: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"\n{info['date']}  nproc={info['nproc']}  python {info['python']}  {info['cpu']}"
        f"  git {info['git']}\n"
        f"SQLite {args.sync}; seeded {args.subscribers:,} subscribers in "
        f"{o.seed_accounts_s + o.seed_memberships_s:.0f} s (accounts {o.seed_accounts_s:.0f} s,"
        f" memberships {o.seed_memberships_s:.0f} s); {args.workers} worker(s) for the live "
        f"sockets; load average {o.load_before} at start, {o.load_after} at the end\n"
    )
    print(posts_table(o.blocks))
    if o.live is not None:
        print()
        print(live_table(o.live))
    print("\n" + LEGEND.format(nproc=info["nproc"]))
    print("\nrows added per post, by table:")
    for b in o.blocks:
        print(
            f"  phase {b.phase} {b.channel:<5} ({b.subscribers:,} subscribers): {_rows(b.rows_per_post)}"
        )
    print("\ntargets (issue):")
    one = o.targets.get("one_write_per_post")
    if one is not None:
        print(
            f"  a post is one write regardless of subscribers: {'MET' if one['met'] else 'NOT MET'}"
            f" ({_rows(one['rows_per_post_big'])} per post at {one['subscribers_big']:,}"
            f" subscribers; {_rows(one['rows_per_post_small'])} at {one['subscribers_small']:,};"
            f" post p50 {fmt_num(one['post_p50_ms_big'], 1)} vs"
            f" {fmt_num(one['post_p50_ms_small'], 1)} ms)"
        )
    reach = o.targets.get("reach_all_live_within_1s")
    if reach is not None:
        print(
            f"  a post reaches all {reach['live']:,} live subscribers within 1 s: "
            f"{'MET' if reach['met'] else 'NOT MET'} ({reach['posts_within_1s']} of "
            f"{reach['posts']} posts; worst {fmt_num(reach['worst_ms'], 1)} ms; "
            f"{reach['opened']:,} sockets open)"
        )
    lv = o.live
    if lv is not None:
        if lv.missing or lv.closed_early or lv.connect_failed or not lv.warmup_complete:
            print(
                f"  missing deliveries {lv.missing}, connect failures {lv.connect_failed}, "
                f"closed by the server {lv.closed_early}, warm-up complete {lv.warmup_complete}"
            )
        if lv.first_error:
            print(f"  first error: {lv.first_error}")
    for b in o.blocks:
        if b.first_error:
            print(f"  phase {b.phase} {b.channel}: first error: {b.first_error}")
    if args.json:
        doc = {"machine": info, "args": vars(args), "result": _jsonable(o)}
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
        print(f"\nwrote {args.json}")


def _jsonable(o: Outcome) -> dict[str, Any]:
    d = asdict(o)
    for b, row in zip(o.blocks, d["blocks"], strict=True):
        row["total_rows_per_post"] = b.total_rows_per_post
        row["user_log_rows_per_post"] = b.user_log_rows_per_post
    return d


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = p.add_argument
    add("--subscribers", type=int, default=100_000, help="of the big channel (default 100,000)")
    add("--live", type=int, default=5_000, help="of them online by WebSocket (default 5,000)")
    add("--small", type=int, default=100, help="subscribers of the small channel (default 100)")
    add("--posts", type=int, default=20, help="measured posts per block (default 20)")
    add("--warmup-posts", type=int, default=2, help="unmeasured posts first (default 2)")
    add("--gap", type=float, default=0.5, help="phase 2: seconds between posts (default 0.5)")
    add("--pause", type=float, default=0.05, help="phase 1: seconds between posts")
    add("--post-timeout", type=float, default=10.0, help="longest wait for a post (default 10)")
    add("--settle", type=float, default=2.0, help="seconds after connecting before posting")
    add("--workers", type=int, default=2, help="processes holding the live sockets (default 2)")
    add("--per-source", type=int, default=20_000, help="sockets per source address 127.0.0.x")
    add("--text-bytes", type=int, default=16, help="padding after the timestamp (default 16)")
    add("--sync", type=str.upper, choices=["FULL", "NORMAL"], default="FULL", help="SQLite sync")
    add("--data-dir", help="where the temporary database goes (not tmpfs: fsync would be free)")
    add("--server-env", action="append", default=[], metavar="K=V", help="extra env for Chapar")
    add("--json", help="also write the results to this file")
    add("--py-spy", default="", metavar="OUT", help="py-spy the server over phase 2 into OUT")
    args = p.parse_args(argv)
    if any("=" not in item for item in args.server_env):
        p.error("--server-env takes KEY=VALUE")
    if min(args.subscribers, args.posts, args.workers, args.small) < 1:
        p.error("--subscribers, --posts, --workers and --small must be positive")
    if args.live < 0 or args.live > args.subscribers or args.small > args.subscribers:
        p.error("--live and --small must be between 0 and --subscribers")
    if args.subscribers >= 10_000_000:
        p.error("--subscribers: the test numbers have 7 digits")
    if not 1 <= args.per_source <= 28_000:
        p.error("--per-source: one address has about 28,000 ephemeral ports")
    if math.ceil(args.live / args.per_source) > 250:
        p.error("--live: more source addresses than 127.0.0.2-251")
    return args


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    info = machine_info()
    workdir = Path(tempfile.mkdtemp(prefix="chapar-bench-channel-", dir=args.data_dir))
    try:
        outcome = run(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    outcome.targets = judge(outcome)
    report(outcome, info, args)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; server and workers stopped", file=sys.stderr)
        sys.exit(130)
