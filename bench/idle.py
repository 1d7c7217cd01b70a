"""Idle connections benchmark: how much memory one node needs per open WebSocket.

One Chapar node (SQLite by default; --database-url for PostgreSQL) signs up --users
accounts on reserved test numbers; then worker processes open --connections signed-in
WebSockets to it and hold them, reading (so the node's pings are answered) but sending
nothing. Reported: the node's resident memory before and after, the difference per
connection, and the node's CPU while it merely holds them (its heartbeats).

A client address has about 28,000 ephemeral ports toward one server port, so the
connections come from several source addresses of 127.0.0.0/8 (127.0.0.2, 127.0.0.3, ...;
Linux routes the whole block to loopback), at most --per-source each. Every process here
raises its open-files limit to the hard limit; the node needs one descriptor per
connection, so --connections beyond that hard limit fails early with the figure to raise
(ulimit -Hn as root, or LimitNOFILE= in deploy/systemd/chapar@.service).

    .venv/bin/python bench/idle.py                       # 10,000 connections
    .venv/bin/python bench/idle.py --connections 50000   # where the limits allow it
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing as mp
import resource
import shutil
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp

from bench.common import (
    LOCALHOST,
    Child,
    fmt_num,
    free_port,
    machine_info,
    process_cpu_seconds,
    render_table,
)
from bench.pairs import _q, sign_up_all

CONNECT_CONCURRENCY = 200  # per worker: handshakes in flight
SPARE_FDS = 500  # descriptors a process needs besides its connections


def raise_nofile() -> int:
    """Lift this process's soft open-files limit to its hard limit (children inherit it);
    returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_bytes(pid: int) -> int:
    """Resident memory of a process (Linux /proc): what the machine must really have."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def ws_count(base: str) -> int:
    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("chapar_ws_connections "):
                return int(float(line.split()[1]))
    return -1


# -- the worker processes that hold the connections ---------------------------------------
@dataclass(frozen=True)
class Share:
    """One worker's connections: (source address, ws URL) each."""

    targets: list[tuple[str, str]]


async def hold(share: Share, conn: Connection) -> None:
    raise_nofile()
    sessions: dict[str, aiohttp.ClientSession] = {}
    sockets: list[aiohttp.ClientWebSocketResponse] = []
    readers: list[asyncio.Task[None]] = []
    failed = 0
    first_error = ""
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def read(ws: aiohttp.ClientWebSocketResponse) -> None:
        async for _ in ws:  # answers the node's pings; nothing else arrives
            pass

    async def open_one(source: str, url: str) -> None:
        nonlocal failed, first_error
        session = sessions.get(source)
        if session is None:
            connector = aiohttp.TCPConnector(limit=0, local_addr=(source, 0))
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=60)
            session = aiohttp.ClientSession(connector=connector, timeout=timeout)
            sessions[source] = session
        async with limit:
            try:
                ws = await session.ws_connect(url, heartbeat=None, compress=0)
            except (aiohttp.ClientError, OSError, TimeoutError) as e:
                failed += 1
                first_error = first_error or repr(e)
                return
        sockets.append(ws)
        readers.append(asyncio.create_task(read(ws)))

    started = time.monotonic()
    await asyncio.gather(*(open_one(s, u) for s, u in share.targets))
    conn.send(("open", len(sockets), failed, first_error, time.monotonic() - started))
    await asyncio.to_thread(conn.recv)  # "close"
    closed_early = sum(ws.closed for ws in sockets)
    for t in readers:
        t.cancel()
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    for session in sessions.values():
        await session.close()
    conn.send(("closed", closed_early))


def worker_main(share: Share, conn: Connection) -> None:
    try:
        asyncio.run(hold(share, conn))
    except Exception as e:  # the parent reports it
        conn.send(("failed", repr(e)))


# -- the run ------------------------------------------------------------------------------
@dataclass
class Result:
    connections: int
    opened: int
    failed: int
    sources: int
    workers: int
    users: int
    rss_before_mib: float
    rss_after_mib: float
    kib_per_connection: float
    idle_cpu_pct: float | None
    connect_s: float
    closed_early: int
    first_error: str


def plan(args: argparse.Namespace, urls: list[str], per_worker: int) -> list[Share]:
    """Deal the connections over source addresses, then over workers."""
    targets = []
    for i in range(args.connections):
        source = f"127.0.0.{2 + i // args.per_source}"
        targets.append((source, urls[i % len(urls)]))
    workers = max(1, math.ceil(args.connections / per_worker))
    return [Share(targets[w::workers]) for w in range(workers)]


def run(args: argparse.Namespace, workdir: Path) -> Result:
    nofile = raise_nofile()
    if args.connections + SPARE_FDS > nofile:
        raise SystemExit(
            f"idle.py: the open-files limit is {nofile}; {args.connections} connections need "
            f"{args.connections + SPARE_FDS} in the node. Raise the hard limit (as root: "
            f"ulimit -Hn {args.connections + 10_000}) or pass fewer --connections."
        )
    per_worker = min(args.per_worker, nofile - SPARE_FDS)
    port = free_port()
    env = {"CHAPAR_TEST_NUMBERS": "true", "CHAPAR_SQLITE_SYNCHRONOUS": "NORMAL"}
    if args.database_url:
        env["CHAPAR_DATABASE_URL"] = args.database_url
    argv = [sys.executable, "-m", "chapar", "serve", "--port", str(port)]
    node = Child([*argv, "--data-dir", str(workdir / "data")], workdir / "node.log", env)
    base = f"http://{LOCALHOST}:{port}"
    node.start(base + "/healthz")
    links: list[tuple[mp.process.BaseProcess, Connection]] = []
    try:
        users = min(args.users or args.connections, args.connections)
        t0 = time.monotonic()
        tokens = asyncio.run(sign_up_all(base, users))
        print(f"  {users} sign-ups in {time.monotonic() - t0:.0f} s", file=sys.stderr)
        urls = [f"ws://{LOCALHOST}:{port}/api/ws?token={_q(t)}" for t, _ in tokens]
        shares = plan(args, urls, per_worker)
        # Warm the node's code paths and allocator with a few connections first, so the
        # baseline is a running node, not a cold one.
        warm = [Share(share.targets[:20]) for share in shares[:1]]
        _open_and_close(warm)
        time.sleep(1)
        before = rss_bytes(node.pid)
        ctx = mp.get_context("spawn")
        for share in shares:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(share, child), daemon=True)
            proc.start()
            links.append((proc, parent))
        opened = failed = 0
        first_error = ""
        connect_s = 0.0
        for _, parent in links:
            msg = parent.recv()
            if msg[0] == "failed":
                raise RuntimeError(f"a worker failed: {msg[1]}")
            opened, failed = opened + msg[1], failed + msg[2]
            first_error = first_error or msg[3]
            connect_s = max(connect_s, msg[4])
        deadline = time.monotonic() + 60
        while ws_count(base) < opened and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(args.settle)
        cpu0 = process_cpu_seconds(node.pid)
        time.sleep(args.hold)
        cpu1 = process_cpu_seconds(node.pid)
        after = rss_bytes(node.pid)
        closed_early = 0
        for _, parent in links:
            parent.send("close")
        for _, parent in links:
            msg = parent.recv()
            closed_early += msg[1] if msg[0] == "closed" else 0
    finally:
        for worker, parent in links:
            worker.join(30)
            if worker.is_alive():
                worker.terminate()
            parent.close()
        node.stop()
    idle = None if cpu0 is None or cpu1 is None else 100 * (cpu1 - cpu0) / args.hold
    mib = 1024 * 1024
    return Result(
        connections=args.connections,
        opened=opened,
        failed=failed,
        sources=len({s for share in shares for s, _ in share.targets}),
        workers=len(shares),
        users=users,
        rss_before_mib=before / mib,
        rss_after_mib=after / mib,
        kib_per_connection=(after - before) / 1024 / max(1, opened),
        idle_cpu_pct=idle,
        connect_s=connect_s,
        closed_early=closed_early,
        first_error=first_error,
    )


def _open_and_close(shares: list[Share]) -> None:
    ctx = mp.get_context("spawn")
    for share in shares:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=worker_main, args=(share, child), daemon=True)
        proc.start()
        parent.recv()
        parent.send("close")
        parent.recv()
        proc.join(30)


def report(r: Result, info: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"\n{info['date']}  nproc={info['nproc']}  python {info['python']}  {info['cpu']}"
        f"  git {info['git']}\nstore: {'PostgreSQL' if args.database_url else 'SQLite'}, "
        f"held {args.hold:g} s after {args.settle:g} s settling\n"
    )
    header = ["connections", "opened", "failed", "users", "sources", "workers"]
    header += ["RSS before MiB", "RSS after MiB", "KiB/conn", "idle CPU%", "connect s"]
    row = [
        f"{r.connections:,}",
        f"{r.opened:,}",
        str(r.failed),
        f"{r.users:,}",
        str(r.sources),
        str(r.workers),
        fmt_num(r.rss_before_mib, 1),
        fmt_num(r.rss_after_mib, 1),
        fmt_num(r.kib_per_connection, 1),
        fmt_num(r.idle_cpu_pct, 1),
        fmt_num(r.connect_s, 1),
    ]
    print(render_table(header, [row], left=0))
    per_50k = r.kib_per_connection * 50_000 / 1024 / 1024 + r.rss_before_mib / 1024
    print(
        f"\nKiB/conn: (RSS after - RSS before) / opened; at that rate 50,000 connections need"
        f"\nabout {per_50k:.2f} GiB in one node. idle CPU%: the node's CPU while it only holds"
        f"\nthem (100 = one core)."
    )
    if r.first_error:
        print(f"first connect error: {r.first_error}")
    if r.closed_early:
        print(f"{r.closed_early} connections were closed by the node while held")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"machine": info, "args": vars(args), "result": asdict(r)}, indent=2)
        )
        print(f"wrote {args.json}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = p.add_argument
    add("--connections", type=int, default=10_000, help="WebSockets to hold (default 10,000)")
    add("--users", type=int, default=0, help="accounts they belong to (default: one each)")
    add("--per-source", type=int, default=5_000, help="connections per source address")
    add("--per-worker", type=int, default=10_000, help="connections per client process")
    # Longer than the node's 30 s heartbeat, so the CPU figure includes a round of pings.
    add("--hold", type=float, default=35.0, help="seconds to hold them while measuring CPU")
    add("--settle", type=float, default=3.0, help="seconds to wait before measuring")
    add("--database-url", default="", help="PostgreSQL URL instead of SQLite")
    add("--data-dir", help="where the temporary database goes")
    add("--json", help="also write the result to this file")
    args = p.parse_args(argv)
    if min(args.connections, args.per_source, args.per_worker) < 1 or args.hold <= 0:
        p.error("--connections, --per-source, --per-worker and --hold must be positive")
    if args.per_source > 28_000:
        p.error("--per-source: one address has about 28,000 ephemeral ports")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    info = machine_info()
    workdir = Path(tempfile.mkdtemp(prefix="chapar-bench-idle-", dir=args.data_dir))
    try:
        result = run(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report(result, info, args)
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
