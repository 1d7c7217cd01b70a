"""Group benchmark: a --members group (default 50) in which --senders members post without
pause while every member is online and receives every post.

--deployments picks what serves it, each started on empty stores by bench/cluster.py's
code, one after another in the same run so their ratios hold on a noisy machine:

  sqlite      one node, SQLite (--sync, FULL by default): the baseline (the default)
  pg          one node on PostgreSQL + Redis (private instances, fsync on)
  cluster     --nodes nodes (default 3) on PostgreSQL + Redis behind nginx running
              deploy/nginx.conf; every member connects through nginx (least_conn), so the
              members are spread over the nodes and each post reaches the other nodes'
              members through Redis

PostgreSQL and Redis are started once (tests/cluster.py: initdb in a temporary directory,
redis-server on a free port), with a fresh schema and Redis prefix per deployment and
round. --private-pg is --deployments pg. With --database-url (and --redis-url) instead,
one node uses that PostgreSQL (a fresh schema, dropped afterwards) and Redis (a fresh
prefix). The members sign up through the API on reserved test numbers; the first creates
the group (channels.createChannel, broadcast false) and adds the others
(channels.inviteToChannel).

Every member then holds a signed-in WebSocket (worker processes of RawWebSocket clients,
the members dealt round-robin). The first --senders members each keep --window
messages.sendMessage calls in flight (answer not yet received), as bench/pairs.py's max
mode does, for --warmup and then --duration seconds. Each post carries its send time; a
member reading the push of someone else's post measures the delivery latency.

Reported per deployment over the measured window: posts/s acknowledged (committed),
deliveries/s (pushes of new posts received by the members other than their sender, summed
over the members; the sender's own copy is counted apart as echoes), delivery latency
p50/p99/max, errors, posts never delivered after --drain, the CPU of the server side
(nodes, PostgreSQL, Redis, nginx; 100% = one core) and per delivery, the load generator's
CPU, the machine's load average, the members' sockets per node, and posts/s as a fraction
of the SQLite node's in the same round. The issue's target is reported, not asserted: at
least 20,000 deliveries/s on a 2-core machine. All traffic stays on 127.0.0.1.

    .venv/bin/python bench/group.py --duration 10
    .venv/bin/python bench/group.py --members 50 --senders 5 --window 8 --duration 30 --json g.json
    .venv/bin/python bench/group.py --deployments sqlite,pg,cluster --duration 20 --repeat 2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import multiprocessing as mp
import random
import shutil
import signal
import sys
import tempfile
import time
import uuid
from array import array
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
import psycopg
from tests.cluster import missing_tools

from bench.cluster import (
    TARGETS,
    Backends,
    Deployment,
    _parts_cpu,
    deploy,
    settle,
    sockets_per_node,
)
from bench.common import (
    LOCALHOST,
    LatencySummary,
    RawWebSocket,
    fmt_num,
    load_average,
    machine_busy_seconds,
    machine_info,
    open_websocket,
    render_table,
    summarize_us,
)
from bench.frames import PUSH_PREFIX
from bench.frames import Error as FrameError
from bench.frames import decode as decode_frame
from bench.pairs import (
    Timeline,
    _interrupt,
    _median,
    _q,
    _receive,
    sign_up_all,
    sleep_until,
    start_py_spy,
    timeline,
)

DEPLOYMENTS = TARGETS  # sqlite, pg, cluster: bench/cluster.py's, started by its code
INVITE_SLICE = 200  # channels.inviteToChannel takes at most 200 users per call
TARGET_PER_S = 20_000.0  # the issue: deliveries/s on a 2-core machine
QUIET_S = 0.5  # the drain ends when nothing arrived for this long


# -- what the main process hands to a worker --------------------------------------------------
@dataclass(frozen=True)
class Member:
    path: str  # /api/ws?token=...
    user_id: int
    sender: bool


@dataclass(frozen=True)
class Plan:
    port: int
    chat_id: int
    members: list[Member]
    window: int
    text_bytes: int


@dataclass
class WorkerResult:
    window_s: float
    acked: int  # answered ok inside the window
    delivered: int  # others' posts received inside the window
    echoes: int  # own posts received back inside the window
    errors: int
    latencies_us: array[int]  # of the deliveries inside the window
    cpu_s: float  # the worker's CPU inside the window
    acked_total: int  # over the whole run, for the undelivered count
    delivered_total: int
    closed_early: int
    first_error: str = ""


# -- the worker process ------------------------------------------------------------------------
class Stats:
    """Counters of one worker; only its event loop thread touches them."""

    def __init__(self) -> None:
        self.sending = True
        self.measuring = False
        self.acked = 0
        self.errors = 0
        self.delivered = 0
        self.echoes = 0
        self.last_arrival_ns = 0
        self.latencies_us: array[int] = array("q")
        self.first_error = ""

    def note(self, problem: str) -> None:
        self.errors += 1
        if not self.first_error:
            self.first_error = problem


class Client:
    """One member's socket: counts what arrives and, for a sender, keeps the window full."""

    def __init__(self, m: Member, plan: Plan, stats: Stats) -> None:
        self.m = m
        self.stats = stats
        self.window = plan.window
        self.ws: RawWebSocket | None = None
        self.seq = 0
        self.outstanding = 0
        # random_id must be new for each post, across runs too: a repeated one is a retry.
        base = random.getrandbits(30) << 32
        pad = b"x" * plan.text_bytes
        head = b'{"id":%d,"method":"messages.sendMessage","params":{"peer":{"chat_id":%d},'

        # Formatted by hand: a generic JSON encoder per post costs the generator CPU time
        # the 2-core machine needs for the server.
        def encode(seq: int, now_ns: int) -> bytes:
            return (head + b'"text":"%d %s","random_id":%d}}') % (
                seq,
                plan.chat_id,
                now_ns,
                pad,
                base + seq,
            )

        self.encode = encode

    def send(self) -> None:
        assert self.ws is not None
        self.seq += 1
        self.outstanding += 1
        self.ws.send_text(self.encode(self.seq, time.monotonic_ns()))

    def start(self) -> None:
        if self.m.sender:
            for _ in range(self.window):
                self.send()

    def on_text(self, payload: bytes, now_ns: int) -> None:
        stats = self.stats
        f = decode_frame(payload)
        if not payload.startswith(PUSH_PREFIX):
            if f.id is None:
                return
            self.outstanding -= 1
            if f.ok:
                stats.acked += 1
            else:
                err = f.error or FrameError()
                stats.note(f"{err.type}: {err.message}")
            if stats.sending:
                self.send()
            return
        for u in f.updates or ():
            msg = u.message
            if u.type != "updateNewChannelMessage" or msg is None:
                continue
            sent = msg.text.partition(" ")[0]
            if not sent.isdigit():  # a service message (joined, added...)
                continue
            stats.last_arrival_ns = now_ns
            if msg.from_id == self.m.user_id:
                stats.echoes += 1
                continue
            stats.delivered += 1
            if stats.measuring:
                stats.latencies_us.append((now_ns - int(sent)) // 1000)


async def measure(tl: Timeline, stats: Stats) -> tuple[float, int, int, int, float]:
    """Open and close the window; (seconds, acked, delivered, echoes, CPU s) inside it."""
    await sleep_until(tl.measure_from_ns)
    t0, c0 = time.monotonic_ns(), time.process_time()
    a0, d0, e0 = stats.acked, stats.delivered, stats.echoes
    stats.measuring = True
    await sleep_until(tl.measure_to_ns)
    stats.measuring = stats.sending = False
    t1, c1 = time.monotonic_ns(), time.process_time()
    return (t1 - t0) / 1e9, stats.acked - a0, stats.delivered - d0, stats.echoes - e0, c1 - c0


async def drain(clients: list[Client], stats: Stats, until_ns: int) -> None:
    """Wait for answers still due, then until nothing has arrived for QUIET_S."""
    while time.monotonic_ns() < until_ns:
        answered = all(c.outstanding == 0 for c in clients)
        quiet = time.monotonic_ns() - stats.last_arrival_ns > QUIET_S * 1e9
        if answered and quiet:
            return
        await asyncio.sleep(0.05)


async def run_worker(plan: Plan, conn: Connection) -> WorkerResult:
    stats = Stats()
    clients = [Client(m, plan, stats) for m in plan.members]
    for c in clients:
        c.ws = await open_websocket(LOCALHOST, plan.port, c.m.path, c.on_text)
    conn.send("ready")
    tl: Timeline = await asyncio.to_thread(conn.recv)
    await sleep_until(tl.start_ns)
    for c in clients:
        c.start()
    window_s, acked, delivered, echoes, cpu_s = await measure(tl, stats)
    await drain(clients, stats, tl.drain_until_ns)
    closed_early = 0
    for c in clients:
        assert c.ws is not None
        closed_early += c.ws.closed.done()
        c.ws.close()
    return WorkerResult(
        window_s=window_s,
        acked=acked,
        delivered=delivered,
        echoes=echoes,
        errors=stats.errors,
        latencies_us=stats.latencies_us,
        cpu_s=cpu_s,
        acked_total=stats.acked,
        delivered_total=stats.delivered,
        closed_early=closed_early,
        first_error=stats.first_error,
    )


def worker_main(plan: Plan, conn: Connection) -> None:
    """Entry point of a worker process; any failure goes back to the parent as text."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    result: WorkerResult | str
    try:
        # The standard event loop, not uvloop: bench.common.RawWebSocket asserts an
        # asyncio.Transport, which uvloop's transports are not.
        result = asyncio.run(run_worker(plan, conn))
    except Exception as e:
        result = f"worker failed: {e!r}"
    conn.send(result)
    conn.close()


# -- the server side ---------------------------------------------------------------------------
def _backend_env(args: argparse.Namespace, cleanup: contextlib.ExitStack) -> dict[str, str]:
    """The node's settings for --database-url / --redis-url: a fresh PostgreSQL schema
    (dropped afterwards) and a fresh Redis prefix, so nothing of another run is reused."""
    env: dict[str, str] = {}
    tag = f"bench_group_{uuid.uuid4().hex[:10]}"
    url = given = args.database_url
    if given.startswith(("postgresql://", "postgres://")) and "schema=" not in given:
        with psycopg.connect(given, autocommit=True) as admin:
            admin.execute(f"CREATE SCHEMA {tag}")

        def drop() -> None:
            with psycopg.connect(given, autocommit=True) as admin:
                admin.execute(f"DROP SCHEMA {tag} CASCADE")

        cleanup.callback(drop)
        url = given + ("&" if "?" in given else "?") + f"schema={tag}"
    if url:
        env["CHAPAR_DATABASE_URL"] = url
    if args.redis_url:
        env["CHAPAR_REDIS_URL"] = args.redis_url
        env["CHAPAR_REDIS_PREFIX"] = f"{tag}:"
    return env


@contextlib.contextmanager
def external_node(
    args: argparse.Namespace, workdir: Path, rnd: int, env: dict[str, str]
) -> Iterator[Deployment]:
    """One node on the services of --database-url / --redis-url (not started here)."""
    with contextlib.ExitStack() as stack:
        store = _backend_env(args, stack)  # made first, so dropped after the node stopped
        # The "sqlite" deployment is one node with only the settings given: with
        # CHAPAR_DATABASE_URL among them, it runs on that PostgreSQL instead.
        d = stack.enter_context(deploy("sqlite", 1, workdir, None, rnd, {**store, **env}))
        label = "pg" if args.database_url else f"sqlite {args.sync}"
        yield dataclasses.replace(d, label=label + ("+redis" if args.redis_url else ""))


def server_env(args: argparse.Namespace) -> dict[str, str]:
    """What every node gets on top of its store's settings: --sync and --server-env."""
    env = {"CHAPAR_SQLITE_SYNCHRONOUS": args.sync}
    env.update(item.split("=", 1) for item in args.server_env)
    return env


async def make_group(base: str, members: int) -> tuple[int, list[tuple[str, int]]]:
    """Sign the members up, have the first create the group and add the others."""
    users = await sign_up_all(base, members)
    creator = users[0][0]
    async with aiohttp.ClientSession() as http:
        params: dict[str, Any] = {"title": "Bench group", "broadcast": False}
        made = await _api(http, base, "channels.createChannel", params, creator)
        chat_id = int(made["chat"]["id"])
        others = [uid for _, uid in users[1:]]
        for i in range(0, len(others), INVITE_SLICE):
            params = {"channel": {"chat_id": chat_id}, "users": others[i : i + INVITE_SLICE]}
            await _api(http, base, "channels.inviteToChannel", params, creator)
    return chat_id, users


async def _api(
    http: aiohttp.ClientSession, base: str, method: str, params: dict[str, Any], token: str
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with http.post(f"{base}/api/{method}", json=params, headers=headers) as r:
        body = await r.json(content_type=None)
    if not body.get("ok"):
        raise RuntimeError(f"{method} failed: {body}")
    result: dict[str, Any] = body["result"]
    return result


# -- one measured run ------------------------------------------------------------------------
@dataclass
class Result:
    round: int
    target: str  # one of DEPLOYMENTS, or "external"
    label: str
    members: int
    senders: int
    window: int
    workers: int
    window_s: float
    posts_per_s: float
    deliveries_per_s: float
    echoes_per_s: float
    latency: LatencySummary
    errors: int
    undelivered: int  # acknowledged posts x (members - 1) minus deliveries, after the drain
    closed_early: int
    server_cpu_pct: float | None  # every server-side process, 100 = one core
    server_parts_pct: dict[str, float]
    loadgen_cpu_pct: float
    other_cpu_pct: float | None  # the rest of the machine: high = a disturbed run
    load_before: str
    load_after: str
    spread: str  # members' sockets per node
    first_error: str = ""
    ratio_to_sqlite: float | None = None  # posts/s over the SQLite node's, same round

    @property
    def server_us_per_delivery(self) -> float | None:
        if self.server_cpu_pct is None or not self.deliveries_per_s:
            return None
        return 1e4 * self.server_cpu_pct / self.deliveries_per_s


def _profile_path(args: argparse.Namespace, target: str, rnd: int) -> str:
    """--py-spy's file for this deployment: the first round only, and with several
    deployments one file each (out-pg.svg, out-cluster.svg ...)."""
    if not args.py_spy or rnd > 0:
        return ""
    if len(args.deployments) == 1:
        return str(args.py_spy)
    out = Path(args.py_spy)
    return str(out.with_name(f"{out.stem}-{target}{out.suffix}"))


def run_phase(
    d: Deployment,
    chat_id: int,
    users: list[tuple[str, int]],
    args: argparse.Namespace,
    target: str,
    rnd: int,
) -> Result:
    members = [
        Member(f"/api/ws?token={_q(token)}", uid, i < args.senders)
        for i, (token, uid) in enumerate(users)
    ]
    k = max(1, min(args.workers, len(members)))
    shares = [members[i::k] for i in range(k)]  # round-robin: the senders spread too
    ctx = mp.get_context("spawn")  # a fresh interpreter: no state from this process
    links: list[tuple[mp.process.BaseProcess, Connection]] = []
    try:
        for share in shares:
            parent, child = ctx.Pipe()
            plan = Plan(d.port, chat_id, share, args.window, args.text_bytes)
            proc = ctx.Process(target=worker_main, args=(plan, child), daemon=True)
            proc.start()
            links.append((proc, parent))
        for _, parent in links:
            _receive(parent, 60.0)  # "ready": every socket is open
        spread = sockets_per_node(d, len(members))
        load_before = load_average()
        tl = timeline(args)
        for _, parent in links:
            parent.send(tl)
        time.sleep(max(0.0, (tl.measure_from_ns - time.monotonic_ns()) / 1e9))
        cpu0, machine0 = _parts_cpu(d), machine_busy_seconds()
        window_s = (tl.measure_to_ns - tl.measure_from_ns) / 1e9
        out = _profile_path(args, target, rnd)
        profiler = start_py_spy(d.parts["nodes"][0], window_s, out)
        time.sleep(max(0.0, (tl.measure_to_ns - time.monotonic_ns()) / 1e9))
        cpu1, machine1 = _parts_cpu(d), machine_busy_seconds()
        if profiler is not None:
            profiler.wait()
        load_after = load_average()
        total_s = (tl.drain_until_ns - time.monotonic_ns()) / 1e9 + 30
        results = []
        for _, parent in links:
            got = _receive(parent, total_s)
            if not isinstance(got, WorkerResult):
                raise RuntimeError(f"unexpected message from a worker: {got!r}")
            results.append(got)
    finally:
        for worker, parent in links:
            worker.join(5)
            if worker.is_alive():
                worker.terminate()
            parent.close()
    window_s = sum(r.window_s for r in results) / len(results)
    parts = {part: cpu1[part] - cpu0[part] for part in cpu0}
    server_s = sum(parts.values())
    loadgen_s = sum(r.cpu_s for r in results)
    other = None
    if machine0 is not None and machine1 is not None:
        other = max(0.0, machine1 - machine0 - server_s - loadgen_s)
    expected = sum(r.acked_total for r in results) * (len(members) - 1)
    errors = [r.first_error for r in results if r.first_error]
    return Result(
        round=rnd,
        target=target,
        label=d.label,
        members=len(members),
        senders=args.senders,
        window=args.window,
        workers=k,
        window_s=window_s,
        posts_per_s=sum(r.acked for r in results) / window_s,
        deliveries_per_s=sum(r.delivered for r in results) / window_s,
        echoes_per_s=sum(r.echoes for r in results) / window_s,
        latency=summarize_us([x for r in results for x in r.latencies_us]),
        errors=sum(r.errors for r in results),
        undelivered=max(0, expected - sum(r.delivered_total for r in results)),
        closed_early=sum(r.closed_early for r in results),
        server_cpu_pct=100 * server_s / window_s,
        server_parts_pct={part: 100 * s / window_s for part, s in parts.items()},
        loadgen_cpu_pct=100 * loadgen_s / window_s,
        other_cpu_pct=None if other is None else 100 * other / window_s,
        load_before=load_before,
        load_after=load_after,
        spread=spread,
        first_error=errors[0] if errors else "",
    )


def bench_deployment(
    target: str, args: argparse.Namespace, workdir: Path, backends: Backends | None, rnd: int
) -> Result:
    """Start the deployment on empty stores, make the group, measure, stop it."""
    env = server_env(args)
    if target == "external":
        running = external_node(args, workdir, rnd, env)
    else:
        running = deploy(target, args.nodes, workdir, backends, rnd, env)
    with running as d:
        chat_id, users = asyncio.run(make_group(d.base_url, args.members))
        print(f"  {d.label}: group {chat_id} of {len(users)} members", file=sys.stderr)
        settle(args.wait_quiet)
        r = run_phase(d, chat_id, users, args, target, rnd)
    print(
        f"  round {rnd + 1}  {r.label:<12} {r.posts_per_s:8,.0f} posts/s"
        f" {r.deliveries_per_s:10,.0f} deliveries/s  p99 {fmt_num(r.latency.p99_ms, 1)} ms"
        f"  errors {r.errors}  sockets per node {r.spread}",
        file=sys.stderr,
        flush=True,
    )
    return r


# -- output ----------------------------------------------------------------------------------
def add_ratios(results: list[Result]) -> None:
    """Posts/s as a fraction of the SQLite node's in the same round."""
    base = {r.round: r.posts_per_s for r in results if r.target == "sqlite"}
    for r in results:
        if base.get(r.round):
            r.ratio_to_sqlite = r.posts_per_s / base[r.round]


def table(results: list[Result]) -> str:
    header = ["deployment", "round", "members", "senders", "window", "posts/s", "deliveries/s"]
    header += ["echoes/s", "p50 ms", "p99 ms", "max ms", "errors", "undeliv.", "srv CPU%"]
    header += ["srv us/deliv.", "gen CPU%", "other CPU%", "x sqlite"]
    rows = [
        [
            r.label,
            str(r.round + 1),
            str(r.members),
            str(r.senders),
            str(r.window),
            fmt_num(r.posts_per_s),
            fmt_num(r.deliveries_per_s),
            fmt_num(r.echoes_per_s),
            fmt_num(r.latency.p50_ms, 1),
            fmt_num(r.latency.p99_ms, 1),
            fmt_num(r.latency.max_ms, 1),
            str(r.errors),
            str(r.undelivered),
            fmt_num(r.server_cpu_pct),
            fmt_num(r.server_us_per_delivery, 1),
            fmt_num(r.loadgen_cpu_pct),
            fmt_num(r.other_cpu_pct),
            fmt_num(r.ratio_to_sqlite, 2),
        ]
        for r in results
    ]
    return render_table(header, rows)


def medians(results: list[Result]) -> str:
    """Per deployment over the rounds: medians, the ratio being the median of the
    per-round ratios (each measured under one load)."""
    header = ["deployment", "rounds", "posts/s", "deliveries/s", "p99 ms", "srv us/deliv."]
    header += ["x sqlite"]
    rows = []
    for label in dict.fromkeys(r.label for r in results):
        rs = [r for r in results if r.label == label]
        rows.append(
            [
                label,
                str(len(rs)),
                fmt_num(_median([r.posts_per_s for r in rs])),
                fmt_num(_median([r.deliveries_per_s for r in rs])),
                fmt_num(_median([r.latency.p99_ms for r in rs]), 1),
                fmt_num(_median([r.server_us_per_delivery for r in rs]), 1),
                fmt_num(_median([r.ratio_to_sqlite for r in rs]), 2),
            ]
        )
    return render_table(header, rows)


LEGEND = """\
posts/s: sends answered ok (committed) per second of the window; deliveries/s: pushes of
new posts received by members other than the sender, summed over all members (each post
should make members - 1); echoes/s: the sender's own copy. p50/p99/max: send -> received,
over the deliveries. undeliv.: acknowledged posts x (members - 1) minus deliveries, after
the drain. srv CPU%: every server-side process (nodes, PostgreSQL, Redis, nginx), 100 = one
core of {nproc}; srv us/deliv.: that CPU per delivery; gen: the load generator; other: the
rest of the machine (high = a disturbed run). x sqlite: posts/s divided by the SQLite
node's in the same round."""


def report(results: list[Result], info: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"\n{info['date']}  nproc={info['nproc']}  python {info['python']}  {info['cpu']}"
        f"  git {info['git']}\n{args.duration:g} s windows after {args.warmup:g} s warm-up,"
        f" {args.workers} load-generator process(es), text {args.text_bytes} bytes,"
        f" sqlite {args.sync}\n"
    )
    print(table(results))
    if args.repeat > 1:
        print("\nmedians\n" + medians(results))
    print("\n" + LEGEND.format(nproc=info["nproc"]))
    for r in results:
        parts = ", ".join(f"{p} {v:.0f}%" for p, v in r.server_parts_pct.items())
        print(f"\n{r.label} (round {r.round + 1}): server CPU by part: {parts}")
        print(f"  members' sockets per node: {r.spread}")
        print(f"  load average {r.load_before} before the run, {r.load_after} after the window")
        met = r.deliveries_per_s >= TARGET_PER_S
        print(
            f"  target (issue) >= {TARGET_PER_S:,.0f} deliveries/s on a 2-core machine: "
            f"{'MET' if met else 'NOT MET'} ({r.deliveries_per_s:,.0f}/s, nproc={info['nproc']})"
        )
        if r.closed_early:
            print(f"  {r.closed_early} sockets were closed by the server during the run")
        if r.first_error:
            print(f"  first error: {r.first_error}")
    if args.json:
        rows = [{**asdict(r), "server_us_per_delivery": r.server_us_per_delivery} for r in results]
        doc = {"machine": info, "args": vars(args), "results": rows}
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
        print(f"\nwrote {args.json}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = p.add_argument
    add("--members", type=int, default=50, help="members of the group (default 50)")
    add("--senders", type=int, default=5, help="of them posting without pause (default 5)")
    add("--window", type=int, default=16, help="sends in flight per sender (default 16)")
    add("--deployments", default="sqlite", help=f"comma-separated, of {', '.join(DEPLOYMENTS)}")
    add("--nodes", type=int, default=3, help="nodes of the cluster deployment (default 3)")
    add("--repeat", type=int, default=1, help="rounds over every deployment; medians printed")
    add("--duration", type=float, default=10.0, help="measured seconds (default 10)")
    add("--warmup", type=float, default=2.0, help="unmeasured seconds first (default 2)")
    add("--drain", type=float, default=5.0, help="at most this long for posts in flight")
    add("--workers", type=int, default=1, help="load-generator processes (default 1)")
    add("--text-bytes", type=int, default=16, help="padding after the timestamp (default 16)")
    add("--sync", type=str.upper, choices=["FULL", "NORMAL"], default="FULL", help="SQLite sync")
    add("--database-url", default="", help="one node on this PostgreSQL (a fresh schema in it)")
    add("--redis-url", default="", help="one node on this Redis for the event bus (a fresh prefix)")
    add("--private-pg", action="store_true", help="the same as --deployments pg")
    add("--data-dir", help="where the temporary databases go (not tmpfs: fsync would be free)")
    add("--server-env", action="append", default=[], metavar="K=V", help="extra env for Chapar")
    add("--wait-quiet", type=float, default=0.0, metavar="S", help="wait up to S s for calm")
    add("--json", help="also write the results to this file")
    add("--py-spy", default="", metavar="OUT", help="py-spy the (first) node's window into OUT")
    args = p.parse_args(argv)
    if any("=" not in item for item in args.server_env):
        p.error("--server-env takes KEY=VALUE")
    if min(args.members, args.senders, args.window, args.workers) < 1 or args.duration <= 0:
        p.error("--members, --senders, --window, --workers and --duration must be positive")
    if min(args.nodes, args.repeat) < 1:
        p.error("--nodes and --repeat must be positive")
    if args.senders > args.members or args.members < 2:
        p.error("--senders must be at most --members, and a group needs 2 members or more")
    given = [t.strip() for t in args.deployments.split(",") if t.strip()]
    if not given or any(t not in DEPLOYMENTS for t in given):
        p.error(f"--deployments takes some of {', '.join(DEPLOYMENTS)}")
    if args.private_pg:
        if given != ["sqlite"]:
            p.error("--private-pg is --deployments pg: give one of the two")
        given = ["pg"]
    if args.database_url or args.redis_url:
        if args.private_pg or given != ["sqlite"]:
            p.error("--database-url/--redis-url run one node: no --private-pg or --deployments")
        given = ["external"]
    args.deployments = given
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM, and SIGINT even when started in the background (where it is inherited as
    # ignored), unwind through the finally blocks that stop the servers and workers.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    private = set(args.deployments) & {"pg", "cluster"}
    missing = missing_tools() if private else []
    if missing:
        print(f"group.py: missing {', '.join(missing)}", file=sys.stderr)
        return 2
    info = machine_info()
    workdir = Path(tempfile.mkdtemp(prefix="chapar-bench-group-", dir=args.data_dir))
    workdir.chmod(0o755)
    results: list[Result] = []
    try:
        with contextlib.ExitStack() as stack:
            backends = None
            if private:
                backends = Backends(workdir)
                stack.callback(backends.stop)
                backends.start()
            for rnd in range(args.repeat):
                for target in args.deployments:
                    results.append(bench_deployment(target, args, workdir, backends, rnd))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    add_ratios(results)
    report(results, info, args)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; servers and workers stopped", file=sys.stderr)
        sys.exit(130)
