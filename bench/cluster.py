"""Cluster benchmark: the 1:1 pairs scenario of bench/pairs.py on three deployments, side
by side in one run, so the ratios hold even on a shared, noisy machine:

  sqlite      one node, SQLite (synchronous=FULL): the baseline
  pg          one node on PostgreSQL + Redis (fsync on: as durable as the baseline)
  cluster     --nodes nodes (default 3) on PostgreSQL + Redis, behind nginx running
              deploy/nginx.conf; every client connects through nginx (least_conn), so a
              sender and its receiver usually sit on different nodes and each message
              crosses Redis

PostgreSQL and Redis are private instances this script starts (tests/cluster.py: initdb
into a temporary directory, redis-server on a free port), one fresh schema and Redis prefix
per deployment and round; all traffic stays on 127.0.0.1. The load generator is
bench/pairs.py's (worker processes, each sender keeping --window sends in flight).

Reported per deployment: acknowledged sends/s, deliveries/s, delivery latency, errors,
the CPU of everything on the server side (nodes, nginx, PostgreSQL, Redis: 100% = one
core) and per message, and the throughput as a fraction of the SQLite node's in the same
round. On a machine with few cores the load generator and the servers share them: the
cluster's figure then shows the cost of the extra hops, not the capacity of three
machines.

    .venv/bin/python bench/cluster.py --pairs 20
    .venv/bin/python bench/cluster.py --pairs 50 --workers 2 --repeat 3 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` and `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
from tests.cluster import Nginx, PrivatePostgres, PrivateRedis, metric, missing_tools

from bench.common import (
    LOCALHOST,
    Child,
    fmt_num,
    free_port,
    machine_busy_seconds,
    machine_info,
    render_table,
    wait_until_quiet,
)
from bench.pairs import (
    QUIET_OTHER_PCT,
    CpuSample,
    Pair,
    PhaseResult,
    PhaseSpec,
    Plan,
    _expect_result,
    _interrupt,
    _q,
    _receive,
    aggregate,
    sign_up_all,
    split,
    timeline,
    worker_main,
)

TARGETS = ("sqlite", "pg", "cluster")


# -- CPU of a set of process trees --------------------------------------------------------
def _proc_table() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, user + system CPU seconds) for every process (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    table: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # it exited meanwhile
        fields = stat[stat.rindex(")") + 2 :].split()
        table[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    return table


def tree_cpu_seconds(roots: Sequence[int]) -> float:
    """CPU time of the given processes and all their descendants: PostgreSQL and nginx
    do their work in child processes (backends, workers)."""
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    seen: set[int] = set()
    stack = [p for p in roots if p in table]
    while stack:
        pid = stack.pop()
        if pid not in seen:
            seen.add(pid)
            stack.extend(children.get(pid, []))
    return sum(table[p][1] for p in seen)


# -- deployments --------------------------------------------------------------------------
@dataclass
class Deployment:
    """One running target: where clients connect, and the processes doing server work."""

    label: str
    port: int  # on LOCALHOST: the node's, or nginx's in front of the nodes
    parts: dict[str, list[int]]  # "nodes", "postgres", "redis", "nginx" -> their processes
    node_ports: list[int]  # each node's own port (for /metrics)

    @property
    def base_url(self) -> str:  # HTTP base for sign-ups
        return f"http://{LOCALHOST}:{self.port}"

    @property
    def ws_base(self) -> str:
        return f"ws://{LOCALHOST}:{self.port}/api/ws"

    @property
    def pids(self) -> list[int]:
        return [p for pids in self.parts.values() for p in pids]


class Backends:
    """The private PostgreSQL and Redis, started once and shared by the rounds (each
    deployment and round gets its own schema and Redis prefix, so nothing is reused)."""

    def __init__(self, where: Path | None = None) -> None:
        # PostgreSQL's data directory goes where the SQLite node's does (--data-dir), so
        # both engines fsync to the same disk: tests.cluster makes it with tempfile.
        before, tempfile.tempdir = tempfile.tempdir, None if where is None else str(where)
        try:
            self.pg = PrivatePostgres(settings={"fsync": "on", "shared_buffers": "256MB"})
            self.redis = PrivateRedis()
        finally:
            tempfile.tempdir = before

    def start(self) -> None:
        self.pg.start()
        self.redis.start()

    def stop(self) -> None:
        self.redis.destroy()
        self.pg.destroy()

    def parts(self) -> dict[str, list[int]]:
        pg = self.pg.postmaster_pid()
        redis = self.redis.proc.pid if self.redis.proc is not None else None
        return {"postgres": [pg] if pg else [], "redis": [redis] if redis else []}

    def node_env(self) -> dict[str, str]:
        schema = f"b_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.pg.url, autocommit=True) as admin:
            admin.execute(f"CREATE SCHEMA {schema}")
        return {
            "CHAPAR_DATABASE_URL": f"{self.pg.url}?schema={schema}",
            "CHAPAR_REDIS_URL": self.redis.url,
            "CHAPAR_REDIS_PREFIX": f"{schema}:",
        }


def _node(workdir: Path, name: str, env: Mapping[str, str]) -> tuple[Child, int]:
    port = free_port()
    argv = [sys.executable, "-m", "chapar", "serve", "--port", str(port)]
    argv += ["--data-dir", str(workdir / name)]
    env = {"CHAPAR_TEST_NUMBERS": "true", "CHAPAR_SQLITE_SYNCHRONOUS": "FULL", **env}
    node = Child(argv, workdir / f"{name}.log", env)
    node.start(f"http://{LOCALHOST}:{port}/healthz", timeout=60)  # the first migrates
    return node, port


@contextlib.contextmanager
def deploy(
    target: str,
    nodes: int,
    workdir: Path,
    backends: Backends | None,
    rnd: int,
    env: Mapping[str, str] | None = None,
) -> Iterator[Deployment]:
    """Start one of TARGETS on empty stores (``env``: extra settings for every node, e.g.
    CHAPAR_SQLITE_SYNCHRONOUS) and stop it on the way out."""
    children: list[Child] = []
    nginx: Nginx | None = None
    extra = dict(env or {})
    try:
        if target == "sqlite":
            node, port = _node(workdir, f"sqlite-{rnd}", extra)
            children.append(node)
            parts, node_ports = {"nodes": [node.pid]}, [port]
        elif backends is None:
            raise ValueError(f"{target} needs PostgreSQL and Redis")
        elif target == "pg":
            node, port = _node(workdir, f"pg-{rnd}", {**backends.node_env(), **extra})
            children.append(node)
            parts, node_ports = {"nodes": [node.pid], **backends.parts()}, [port]
        else:
            shared = {**backends.node_env(), **extra}
            node_ports = []
            for i in range(nodes):  # one at a time: the first applies the migrations
                node, node_port = _node(workdir, f"cluster-{rnd}-{i}", shared)
                children.append(node)
                node_ports.append(node_port)
            nginx = Nginx([f"{LOCALHOST}:{p}" for p in node_ports], workdir / f"nginx-{rnd}")
            nginx.start()
            assert nginx.proc is not None
            port = nginx.port
            parts = {"nodes": [c.pid for c in children], **backends.parts()}
            parts["nginx"] = [nginx.proc.pid]
        label = target if target != "cluster" else f"cluster x{nodes}"
        yield Deployment(label, port, parts, node_ports)
    finally:
        if nginx is not None:
            nginx.stop()
        for c in children:
            if c.stop() not in (0, None):
                print(f"a node exited uncleanly:\n{c.log_tail()}", file=sys.stderr)


# -- one measured phase -------------------------------------------------------------------
@dataclass
class Measured:
    """One deployment's phase, and the CPU seconds each part of it used in the window."""

    result: PhaseResult
    parts_cpu_s: dict[str, float]
    window_s: float
    spread: str = ""  # open WebSockets per node once every client was connected

    def us_per_msg(self, part: str) -> float | None:
        cpu = self.parts_cpu_s.get(part)
        msgs = self.result.acked_per_s * self.window_s
        return None if cpu is None or msgs <= 0 else 1e6 * cpu / msgs


def sockets_per_node(d: Deployment, expect: int, wait_s: float = 5.0) -> str:
    """Open WebSockets on each node, e.g. "34/33/33": how nginx spread the clients. A node
    counts a socket a moment after the client saw the upgrade, so this waits (at most
    wait_s) for the total to reach ``expect``."""
    deadline = time.monotonic() + wait_s
    while True:
        counts = [_node_sockets(port) for port in d.node_ports]
        if sum(c or 0 for c in counts) >= expect or time.monotonic() > deadline:
            return "/".join("?" if c is None else str(c) for c in counts)
        time.sleep(0.05)


def _node_sockets(port: int) -> int | None:
    try:
        with urllib.request.urlopen(f"http://{LOCALHOST}:{port}/metrics", timeout=5) as r:
            value = metric(r.read().decode(), "chapar_ws_connections")
    except OSError:
        return None
    return None if value is None else int(value)


def _parts_cpu(d: Deployment) -> dict[str, float]:
    return {part: tree_cpu_seconds(pids) for part, pids in d.parts.items()}


def run_phase(d: Deployment, pairs: list[Pair], args: argparse.Namespace, rnd: int) -> Measured:
    """bench/pairs.py's phase, with the server's CPU summed over every process tree of the
    deployment (nodes, PostgreSQL, Redis, nginx) instead of one process."""
    ctx = mp.get_context("spawn")
    links: list[tuple[mp.process.BaseProcess, Connection]] = []
    try:
        for share in split(pairs, args.workers):
            parent, child = ctx.Pipe()
            plan = Plan("chapar", share, args.window, 0.0, args.text_bytes)
            proc = ctx.Process(target=worker_main, args=(plan, child), daemon=True)
            proc.start()
            links.append((proc, parent))
        for _, parent in links:
            _receive(parent, 60.0)  # "ready": every socket is open
        spread = sockets_per_node(d, 2 * len(pairs))
        tl = timeline(args)
        for _, parent in links:
            parent.send(tl)
        time.sleep(max(0.0, (tl.measure_from_ns - time.monotonic_ns()) / 1e9))
        parts0, machine0, t0 = _parts_cpu(d), machine_busy_seconds(), time.monotonic()
        time.sleep(max(0.0, (tl.measure_to_ns - time.monotonic_ns()) / 1e9))
        parts1, machine1, t1 = _parts_cpu(d), machine_busy_seconds(), time.monotonic()
        total_s = (tl.drain_until_ns - time.monotonic_ns()) / 1e9 + 30
        results = [_expect_result(parent, total_s) for _, parent in links]
    finally:
        for worker, parent in links:
            worker.join(5)
            if worker.is_alive():
                worker.terminate()
            parent.close()
    machine = None if machine0 is None or machine1 is None else machine1 - machine0
    used = {part: parts1[part] - parts0[part] for part in parts0}
    spec = PhaseSpec(rnd, "chapar", d.label, pairs, d.pids[0], "max", 0.0)
    result = aggregate(spec, args, results, CpuSample(sum(used.values()), machine))
    return Measured(result, used, t1 - t0, spread)


def settle(wait_s: float) -> None:
    """With --wait-quiet: wait up to wait_s for other jobs on the machine to calm down."""
    if wait_s:
        busy = wait_until_quiet(wait_s, QUIET_OTHER_PCT)
        if busy is not None and busy > QUIET_OTHER_PCT:
            print(f"  the machine is still {busy:.0f}% busy; measuring anyway", file=sys.stderr)


def bench_target(
    target: str, args: argparse.Namespace, workdir: Path, backends: Backends | None, rnd: int
) -> Measured:
    with deploy(target, args.nodes, workdir, backends, rnd) as d:
        users = asyncio.run(sign_up_all(d.base_url, 2 * args.pairs))
        ws = d.ws_base + "?token="
        pairs = [
            Pair(ws + _q(users[2 * i][0]), ws + _q(users[2 * i + 1][0]), users[2 * i + 1][1])
            for i in range(args.pairs)
        ]
        settle(args.wait_quiet)
        m = run_phase(d, pairs, args, rnd)
        r = m.result
        print(
            f"  round {rnd + 1}  {d.label:<12} {r.acked_per_s:10,.0f} msgs/s"
            f"  p99 {fmt_num(r.latency.p99_ms, 1)} ms  errors {r.errors}"
            f"  sockets per node {m.spread}",
            file=sys.stderr,
            flush=True,
        )
        return m


# -- output -------------------------------------------------------------------------------
PARTS = ("nodes", "postgres", "redis", "nginx")


def add_ratios(ms: list[Measured]) -> None:
    """Throughput as a fraction of the SQLite node's in the same round (kept in the
    ratio_to_relay field of bench/pairs.py's result)."""
    base = {m.result.round: m.result.acked_per_s for m in ms if m.result.target == "sqlite"}
    for m in ms:
        if base.get(m.result.round):
            m.result.ratio_to_relay = m.result.acked_per_s / base[m.result.round]


def table(ms: list[Measured]) -> str:
    header = ["target", "round", "pairs", "acked/s", "delivered/s", "p50 ms", "p99 ms"]
    header += ["errors", "undeliv.", "srv CPU%", "srv us/msg"]
    header += [f"{p} us/msg" for p in PARTS] + ["gen CPU%", "other CPU%", "x sqlite"]
    rows = []
    for m in ms:
        r = m.result
        rows.append(
            [
                r.target,
                str(r.round + 1),
                str(r.pairs),
                fmt_num(r.acked_per_s),
                fmt_num(r.delivered_per_s),
                fmt_num(r.latency.p50_ms, 1),
                fmt_num(r.latency.p99_ms, 1),
                str(r.errors),
                str(r.undelivered),
                fmt_num(r.server_cpu_pct),
                fmt_num(r.server_us_per_msg),
                *(fmt_num(m.us_per_msg(p)) for p in PARTS),
                fmt_num(r.loadgen_cpu_pct),
                fmt_num(r.other_cpu_pct),
                fmt_num(r.ratio_to_relay, 2),
            ]
        )
    return render_table(header, rows)


def _median(xs: list[float | None]) -> float | None:
    known = [x for x in xs if x is not None]
    return statistics.median(known) if known else None


def medians(ms: list[Measured]) -> str:
    """Per target over the rounds: the median throughput and the median of the per-round
    ratios (each ratio comes from one round, so it is measured under one load)."""
    header = ["target", "rounds", "acked/s", "p99 ms", "srv us/msg"]
    header += [f"{p} us/msg" for p in PARTS] + ["x sqlite"]
    rows = []
    for target in dict.fromkeys(m.result.target for m in ms):
        group = [m for m in ms if m.result.target == target]
        rs = [m.result for m in group]
        rows.append(
            [
                target,
                str(len(rs)),
                fmt_num(_median([r.acked_per_s for r in rs])),
                fmt_num(_median([r.latency.p99_ms for r in rs]), 1),
                fmt_num(_median([r.server_us_per_msg for r in rs])),
                *(fmt_num(_median([m.us_per_msg(p) for m in group])) for p in PARTS),
                fmt_num(_median([r.ratio_to_relay for r in rs]), 2),
            ]
        )
    return render_table(header, rows)


LEGEND = """\
acked/s: sends answered ok (committed) per second of the window; delivered/s: pushes received
by the peers; p50/p99: send -> received at the peer. srv CPU%: every server-side process
(nodes, PostgreSQL, Redis, nginx), 100 = one core of {nproc}; srv us/msg: that CPU per
acknowledged message, then split by part; gen: the load generator; other: the rest of the
machine (high = a disturbed run). x sqlite: acked/s divided by the SQLite node's in the same
round. Server CPU per message is the steadier figure on a shared machine: other jobs take
turns on the cores rather than adding work to each message."""


def report(ms: list[Measured], info: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"\n{info['date']}  nproc={info['nproc']}  python {info['python']}  {info['cpu']}"
        f"  git {info['git']}\n{args.duration:g} s windows after {args.warmup:g} s warm-up, "
        f"{args.pairs} pairs, window {args.window}, {args.workers} load-generator process(es)\n"
    )
    print(table(ms))
    if args.repeat > 1:
        print("\nmedians\n" + medians(ms))
    print("\n" + LEGEND.format(nproc=info["nproc"]))
    for m in ms:
        if m.result.first_error:
            print(f"{m.result.target}: first error: {m.result.first_error}")
    if args.json:
        rows = [
            {
                **asdict(m.result),
                "server_us_per_msg": m.result.server_us_per_msg,
                "parts_us_per_msg": {p: m.us_per_msg(p) for p in PARTS},
            }
            for m in ms
        ]
        doc = {"machine": info, "args": vars(args), "results": rows}
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
        print(f"\nwrote {args.json}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = p.add_argument
    add("--pairs", type=int, default=20, help="sender/receiver pairs (default 20)")
    add("--window", type=int, default=16, help="sends in flight per sender (default 16)")
    add("--nodes", type=int, default=3, help="nodes of the cluster target (default 3)")
    add("--targets", default=",".join(TARGETS), help=f"comma-separated, of {', '.join(TARGETS)}")
    add("--duration", type=float, default=10.0, help="measured seconds per target (default 10)")
    add("--warmup", type=float, default=2.0, help="unmeasured seconds first (default 2)")
    add("--drain", type=float, default=5.0, help="at most this long for in-flight messages")
    add("--repeat", type=int, default=1, help="rounds over every target; medians printed")
    add("--workers", type=int, default=1, help="load-generator processes (default 1)")
    add("--text-bytes", type=int, default=16, help="padding after the timestamp (default 16)")
    add("--data-dir", help="where the temporary databases go (not tmpfs: fsync would be free)")
    add("--wait-quiet", type=float, default=0.0, metavar="S", help="wait up to S s for calm")
    add("--json", help="also write the results to this file")
    args = p.parse_args(argv)
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if not args.targets or any(t not in TARGETS for t in args.targets):
        p.error(f"--targets takes some of {', '.join(TARGETS)}")
    if min(args.pairs, args.window, args.workers, args.repeat, args.nodes) < 1:
        p.error("--pairs, --window, --workers, --repeat and --nodes must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM (e.g. from `timeout`), and SIGINT even when started in the background, unwind
    # through the finally blocks: PostgreSQL, Redis, nginx and the nodes would outlive us.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    missing = missing_tools() if set(args.targets) - {"sqlite"} else []
    if missing:
        print(f"cluster.py: missing {', '.join(missing)}", file=sys.stderr)
        return 2
    info = machine_info()
    workdir = Path(tempfile.mkdtemp(prefix="chapar-bench-cluster-", dir=args.data_dir))
    workdir.chmod(0o755)
    backends = Backends(workdir) if set(args.targets) - {"sqlite"} else None
    results: list[Measured] = []
    try:
        if backends is not None:
            backends.start()
        for rnd in range(args.repeat):
            for target in args.targets:
                results.append(bench_target(target, args, workdir, backends, rnd))
    finally:
        if backends is not None:
            backends.stop()
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
