"""Pairs benchmark: how many durable messages/s Chapar delivers, compared with a bare relay.

Each of N pairs is a sender and a receiver on their own WebSockets. Phase 1 drives the bare
relay (bench/relay.py); phase 2 starts a real Chapar server on an empty SQLite database,
signs up 2N users on reserved test numbers and has every sender call messages.sendMessage
to its receiver. Every message carries its send time; the receiver reads it back from the
push to measure delivery latency.

Two modes:
  max   every sender keeps --window sends outstanding (answer not yet received)
  rate  all senders together send --rate messages/s at a fixed pace, answered or not;
        --half runs max and then rate at half the measured max of each target

Reported per phase: acknowledged sends/s (for Chapar: committed to SQLite), deliveries/s,
delivery latency p50/p99/max, errors, CPU of the server and of the load generator
(100% = one core) and, for max mode, Chapar's throughput as a fraction of the relay's.
Only the measurement window counts (after --warmup); all traffic stays on 127.0.0.1.

    .venv/bin/python bench/pairs.py --pairs 10 --half
    .venv/bin/python bench/pairs.py --pairs 50 --sync NORMAL --workers 2 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
import urllib.parse
from array import array
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal

if __package__ in (None, ""):  # run as a script: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
from aiohttp import WSMsgType

from bench.common import (
    LOCALHOST,
    Child,
    LatencySummary,
    fmt_num,
    free_port,
    machine_busy_seconds,
    machine_info,
    process_cpu_seconds,
    render_table,
    summarize_us,
    wait_until_quiet,
)
from bench.frames import PUSH_PREFIX, Frame
from bench.frames import decode as decode_frame

Target = Literal["relay", "chapar"]
TEST_CODE = "222222"
START_DELAY_S = 0.3  # lets every worker receive the timeline before the first send
SIGNUP_CONCURRENCY = 16
QUIET_OTHER_PCT = 25.0  # above: another job took a quarter core or more from the run
TICK_S = 0.001  # the fixed-rate pacer's shortest sleep


# -- what the main process hands to a worker -------------------------------------------------
@dataclass(frozen=True)
class Pair:
    sender_url: str
    receiver_url: str
    to: int  # the receiver: its relay connection id, or its Chapar user id


@dataclass(frozen=True)
class Plan:
    """One worker process's share of a phase."""

    target: Target
    pairs: list[Pair]
    window: int
    rate: float  # msgs/s for this worker's senders together; 0 = max mode
    text_bytes: int


@dataclass(frozen=True)
class Timeline:
    """Absolute time.monotonic_ns() instants; CLOCK_MONOTONIC is shared by all processes."""

    start_ns: int
    measure_from_ns: int
    measure_to_ns: int
    drain_until_ns: int


@dataclass
class WorkerResult:
    window_s: float
    acked: int  # answered ok inside the window
    delivered: int  # pushes received inside the window
    errors: int
    latencies_us: array[int]  # of deliveries inside the window
    cpu_s: float
    undelivered: int  # acknowledged but not delivered by the end of the drain
    first_error: str = ""


Encoder = Callable[[int, int], bytes]  # (sequence number, send time ns) -> frame


def relay_encoder(to: int, pad: bytes) -> Encoder:
    def encode(seq: int, now_ns: int) -> bytes:
        return b'{"to":%d,"id":%d,"t":%d,"p":"%s"}' % (to, seq, now_ns, pad)

    return encode


def chapar_encoder(to: int, pad: bytes) -> Encoder:
    # random_id must be new for each message of a sender, across phases and runs too: the
    # server answers a repeated one as a retry, without storing or pushing anything.
    random_id_base = random.getrandbits(30) << 32

    # Formatted by hand: a generic JSON encoder per message costs the generator CPU time
    # the 2-core machine needs for the server.
    def encode(seq: int, now_ns: int) -> bytes:
        return (
            b'{"id":%d,"method":"messages.sendMessage","params":{"peer":{"user_id":%d},'
            b'"text":"%d %s","random_id":%d}}' % (seq, to, now_ns, pad, random_id_base + seq)
        )

    return encode


def sent_times(f: Frame) -> list[int]:
    """The send times carried by a frame a receiver got (relay frame or Chapar push)."""
    if f.t is not None:
        return [f.t]
    if not f.updates:
        return []
    return [
        int(u.message.text.partition(" ")[0])
        for u in f.updates
        if u.type == "updateNewMessage" and u.message is not None and not u.message.out
    ]


# -- the worker process --------------------------------------------------------------------------
class Stats:
    """Counters of one worker; only the event loop thread touches them."""

    def __init__(self) -> None:
        self.sending = True
        self.measuring = False
        self.acked = 0
        self.errors = 0
        self.delivered = 0
        self.latencies_us: array[int] = array("q")
        self.first_error = ""

    def error(self, f: Frame) -> None:
        self.errors += 1
        if f.error is not None:
            self.note(f"{f.error.type}: {f.error.message}")

    def note(self, problem: str) -> None:
        if not self.first_error:
            self.first_error = problem

    def closed_early(self, ws: WebSocket) -> None:
        """A server closing a socket mid-run (e.g. 4008, too slow) is an error, not an end."""
        if self.sending:
            self.errors += 1
            self.note(f"connection closed during the run, code {ws.close_code}")


WebSocket = aiohttp.ClientWebSocketResponse[Literal[False]]


class Sender:
    def __init__(self, ws: WebSocket, encode: Encoder, stats: Stats) -> None:
        self.ws = ws
        self.encode = encode
        self.stats = stats
        self.seq = 0
        self.outstanding = 0

    async def send(self) -> None:
        self.seq += 1
        self.outstanding += 1
        await self.ws.send_frame(self.encode(self.seq, time.monotonic_ns()), WSMsgType.TEXT)

    async def read_answers(self, window: int) -> None:
        """Count answers; with a window (max mode) each answer releases the next send."""
        stats = self.stats
        for _ in range(window):
            await self.send()
        async for msg in self.ws:
            data = msg.data
            # Chapar pushes the sender's own message to all its sessions, this one included.
            if msg.type is not WSMsgType.TEXT or data.startswith(PUSH_PREFIX):
                continue
            f = decode_frame(data)
            if f.id is None:
                continue
            self.outstanding -= 1
            if f.ok:
                stats.acked += 1
            else:
                stats.error(f)
            if window and stats.sending:
                await self.send()
        stats.closed_early(self.ws)


async def read_deliveries(ws: WebSocket, stats: Stats) -> None:
    lat = stats.latencies_us
    async for msg in ws:
        if msg.type is not WSMsgType.TEXT:
            continue
        now = time.monotonic_ns()
        for sent in sent_times(decode_frame(msg.data)):
            stats.delivered += 1
            if stats.measuring:
                lat.append((now - sent) // 1000)
    stats.closed_early(ws)


async def pace(senders: Sequence[Sender], rate: float, start_ns: int, stats: Stats) -> None:
    """Open loop: send at a fixed total rate, round-robin over the senders.

    Wakes at most once per TICK_S and sends everything due since, in a burst: a sleep
    shorter than the loop's 1 ms timer would spin and steal a core from the server.
    A server that falls behind shows as latency, not as a lower send rate.
    """
    interval_ns = 1e9 / rate
    n = i = 0
    while stats.sending:
        due = int((time.monotonic_ns() - start_ns) / interval_ns) + 1
        while n < due and stats.sending:
            await senders[i].send()
            i = (i + 1) % len(senders)
            n += 1
        await asyncio.sleep(max(TICK_S, (start_ns + n * interval_ns - time.monotonic_ns()) / 1e9))


async def sleep_until(t_ns: int) -> None:
    await asyncio.sleep(max(0.0, (t_ns - time.monotonic_ns()) / 1e9))


async def measure(tl: Timeline, stats: Stats) -> tuple[float, int, int, float]:
    """Open and close the window; returns (seconds, acked, delivered, CPU seconds) in it."""
    await sleep_until(tl.measure_from_ns)
    t0, a0, d0, c0 = time.monotonic_ns(), stats.acked, stats.delivered, time.process_time()
    stats.measuring = True
    await sleep_until(tl.measure_to_ns)
    stats.measuring = stats.sending = False
    t1, a1, d1, c1 = time.monotonic_ns(), stats.acked, stats.delivered, time.process_time()
    return (t1 - t0) / 1e9, a1 - a0, d1 - d0, c1 - c0


async def drain(senders: Sequence[Sender], stats: Stats, until_ns: int) -> None:
    """Wait for answers and deliveries still in flight, up to the deadline."""
    while time.monotonic_ns() < until_ns:
        if all(s.outstanding == 0 for s in senders) and stats.delivered >= stats.acked:
            return
        await asyncio.sleep(0.05)


async def connect(http: aiohttp.ClientSession, url: str) -> WebSocket:
    return await http.ws_connect(
        url, decode_text=False, compress=0, max_msg_size=1 << 20, autoclose=True
    )


def make_encoder(plan: Plan, pair: Pair) -> Encoder:
    pad = b"x" * plan.text_bytes
    if plan.target == "relay":
        return relay_encoder(pair.to, pad)
    return chapar_encoder(pair.to, pad)


async def run_worker(plan: Plan, conn: Connection) -> WorkerResult:
    stats = Stats()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        receivers = await asyncio.gather(*(connect(http, p.receiver_url) for p in plan.pairs))
        sender_ws = await asyncio.gather(*(connect(http, p.sender_url) for p in plan.pairs))
        senders = [
            Sender(ws, make_encoder(plan, p), stats)
            for ws, p in zip(sender_ws, plan.pairs, strict=True)
        ]
        conn.send("ready")
        tl: Timeline = await asyncio.to_thread(conn.recv)
        await sleep_until(tl.start_ns)
        window = 0 if plan.rate else plan.window
        loops: list[Coroutine[Any, Any, None]] = [read_deliveries(ws, stats) for ws in receivers]
        loops += [s.read_answers(window) for s in senders]
        if plan.rate:
            loops.append(pace(senders, plan.rate, tl.start_ns, stats))
        tasks = [asyncio.create_task(c) for c in loops]
        window_s, acked, delivered, cpu_s = await measure(tl, stats)
        await drain(senders, stats, tl.drain_until_ns)
        await asyncio.gather(*(ws.close() for ws in [*receivers, *sender_ws]))
        for t in tasks:
            t.cancel()
        for outcome in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(outcome, Exception):  # e.g. a send on a socket the server closed
                stats.errors += 1
                stats.note(repr(outcome))
    return WorkerResult(
        window_s=window_s,
        acked=acked,
        delivered=delivered,
        errors=stats.errors,
        latencies_us=stats.latencies_us,
        cpu_s=cpu_s,
        undelivered=max(0, stats.acked - stats.delivered),
        first_error=stats.first_error,
    )


def worker_main(plan: Plan, conn: Connection) -> None:
    """Entry point of a worker process; any failure goes back to the parent as text."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    result: WorkerResult | str
    try:
        result = _run_loop(run_worker(plan, conn))
    except Exception as e:
        result = f"worker failed: {e!r}"
    conn.send(result)
    conn.close()


def _run_loop(coro: Coroutine[Any, Any, WorkerResult]) -> WorkerResult:
    try:
        import uvloop
    except ImportError:  # optional, as in the server
        return asyncio.run(coro)
    return uvloop.run(coro)


# -- the main process ----------------------------------------------------------------------------
@dataclass
class PhaseResult:
    round: int
    target: str
    kind: Literal["max", "half", "rate"]
    mode: str
    pairs: int
    offered_per_s: float | None  # rate mode only
    acked_per_s: float
    delivered_per_s: float
    latency: LatencySummary
    errors: int
    undelivered: int
    server_cpu_pct: float | None
    loadgen_cpu_pct: float
    # Everything else on the machine (kernel, other jobs), % of one core; high = noisy run.
    other_cpu_pct: float | None
    first_error: str = ""
    ratio_to_relay: float | None = field(default=None)

    @property
    def server_us_per_msg(self) -> float | None:
        """Server CPU per acknowledged message: less sensitive to a noisy machine than
        throughput, since other jobs take turns on the cores rather than adding work."""
        if self.server_cpu_pct is None or not self.acked_per_s:
            return None
        return 1e4 * self.server_cpu_pct / self.acked_per_s


@dataclass(frozen=True)
class PhaseSpec:
    round: int
    target: Target
    label: str  # "relay" or "chapar FULL"
    pairs: list[Pair]
    server_pid: int
    kind: Literal["max", "half", "rate"]
    rate: float  # 0 in max mode
    py_spy_out: str = ""  # profile the server over this phase's window


def split(pairs: list[Pair], workers: int) -> list[list[Pair]]:
    """Pairs dealt round-robin; a pair's two clients always share a worker."""
    k = max(1, min(workers, len(pairs)))
    return [pairs[i::k] for i in range(k)]


def run_phase(spec: PhaseSpec, args: argparse.Namespace) -> PhaseResult:
    ctx = mp.get_context("spawn")  # a fresh interpreter: no state from this process
    shares = split(spec.pairs, args.workers)
    links: list[tuple[mp.process.BaseProcess, Connection]] = []
    try:
        for share in shares:
            rate = spec.rate * len(share) / len(spec.pairs)
            plan = Plan(spec.target, share, args.window, rate, args.text_bytes)
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(plan, child), daemon=True)
            proc.start()
            links.append((proc, parent))
        for _, parent in links:
            _receive(parent, 60.0)  # "ready": connected
        tl = timeline(args)
        for _, parent in links:
            parent.send(tl)
        cpu = sample_cpu(spec.server_pid, tl, spec.py_spy_out)
        total_s = (tl.drain_until_ns - time.monotonic_ns()) / 1e9 + 30
        results = [_expect_result(parent, total_s) for _, parent in links]
    finally:
        for worker, parent in links:
            worker.join(5)
            if worker.is_alive():
                worker.terminate()
            parent.close()
    return aggregate(spec, args, results, cpu)


def _receive(conn: Connection, timeout: float) -> object:
    """The worker's next message, failing clearly on a crash (a str) or a hang."""
    if not conn.poll(timeout):
        raise RuntimeError(f"a worker sent nothing for {timeout:.0f} s")
    got = conn.recv()
    if isinstance(got, str) and got.startswith("worker failed"):
        raise RuntimeError(got)
    return got


def _expect_result(conn: Connection, timeout: float) -> WorkerResult:
    got = _receive(conn, timeout)
    if not isinstance(got, WorkerResult):
        raise RuntimeError(f"unexpected message from a worker: {got!r}")
    return got


def timeline(args: argparse.Namespace) -> Timeline:
    start = time.monotonic_ns() + int(START_DELAY_S * 1e9)
    frm = start + int(args.warmup * 1e9)
    to = frm + int(args.duration * 1e9)
    return Timeline(start, frm, to, to + int(args.drain * 1e9))


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds over the measurement window; None where /proc is not available."""

    server_s: float | None
    machine_s: float | None


def sample_cpu(pid: int, tl: Timeline, py_spy_out: str) -> CpuSample:
    """Sample the server's and the machine's CPU time over the window, optionally
    profiling the server meanwhile."""
    time.sleep(max(0.0, (tl.measure_from_ns - time.monotonic_ns()) / 1e9))
    server0, machine0 = process_cpu_seconds(pid), machine_busy_seconds()
    profiler = start_py_spy(pid, (tl.measure_to_ns - tl.measure_from_ns) / 1e9, py_spy_out)
    time.sleep(max(0.0, (tl.measure_to_ns - time.monotonic_ns()) / 1e9))
    server1, machine1 = process_cpu_seconds(pid), machine_busy_seconds()
    if profiler is not None:
        profiler.wait()
    return CpuSample(_delta(server0, server1), _delta(machine0, machine1))


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else b - a


def start_py_spy(pid: int, seconds: float, out: str) -> Any:
    if not out:
        return None
    import subprocess

    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    fmt = {".txt": "raw", ".json": "speedscope"}.get(Path(out).suffix, "flamegraph")
    argv = [exe, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds)))]
    # --threads: the event loop and the SQLite writer thread show up apart.
    argv += ["--rate", "250", "--nonblocking", "--threads", "--format", fmt, "--output", out]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL)


def aggregate(
    spec: PhaseSpec, args: argparse.Namespace, rs: list[WorkerResult], cpu: CpuSample
) -> PhaseResult:
    window_s = sum(r.window_s for r in rs) / len(rs)
    loadgen_s = sum(r.cpu_s for r in rs)
    other_s = None
    if cpu.machine_s is not None and cpu.server_s is not None:
        other_s = max(0.0, cpu.machine_s - cpu.server_s - loadgen_s)
    latencies = [x for r in rs for x in r.latencies_us]
    errors = [r.first_error for r in rs if r.first_error]
    return PhaseResult(
        round=spec.round,
        target=spec.label,
        kind=spec.kind,
        mode=f"rate {spec.rate:,.0f}/s" if spec.rate else f"max W={args.window}",
        pairs=len(spec.pairs),
        offered_per_s=spec.rate or None,
        acked_per_s=sum(r.acked / r.window_s for r in rs),
        delivered_per_s=sum(r.delivered / r.window_s for r in rs),
        latency=summarize_us(latencies),
        errors=sum(r.errors for r in rs),
        undelivered=sum(r.undelivered for r in rs),
        server_cpu_pct=_pct(cpu.server_s, window_s),
        loadgen_cpu_pct=100 * loadgen_s / window_s,
        other_cpu_pct=_pct(other_s, window_s),
        first_error=errors[0] if errors else "",
    )


def _pct(seconds: float | None, window_s: float) -> float | None:
    return None if seconds is None else 100 * seconds / window_s


@dataclass(frozen=True)
class Running:
    """A server under test, running: what run_modes needs to drive it."""

    round: int
    target: Target
    label: str
    pairs: list[Pair]
    pid: int


def run_modes(t: Running, args: argparse.Namespace) -> list[PhaseResult]:
    """Max mode (then half its rate with --half), or the fixed --rate."""

    def phase(kind: Literal["max", "half", "rate"], rate: float) -> PhaseResult:
        if args.wait_quiet:
            busy = wait_until_quiet(args.wait_quiet, QUIET_OTHER_PCT)
            if busy is not None and busy > QUIET_OTHER_PCT:
                print(f"  the machine is still {busy:.0f}% busy; measuring anyway", file=sys.stderr)
        profile = args.py_spy if t.target == "chapar" and t.round == 0 and kind != "half" else ""
        spec = PhaseSpec(t.round, t.target, t.label, t.pairs, t.pid, kind, rate, profile)
        r = run_phase(spec, args)
        print(
            f"  round {t.round + 1}  {t.label:<12} {r.mode:<16} {r.acked_per_s:10,.0f} msgs/s"
            f"  p99 {fmt_num(r.latency.p99_ms, 1)} ms",
            file=sys.stderr,
            flush=True,
        )
        return r

    if args.rate:
        return [phase("rate", args.rate)]
    first = phase("max", 0)
    if not args.half or first.acked_per_s <= 0:
        return [first]
    return [first, phase("half", first.acked_per_s / 2)]


# -- targets -------------------------------------------------------------------------------------
def bench_relay(args: argparse.Namespace, workdir: Path, rnd: int) -> list[PhaseResult]:
    port = free_port()
    relay = Child(
        [sys.executable, str(Path(__file__).with_name("relay.py")), "--port", str(port)],
        workdir / f"relay-{rnd}.log",
    )
    relay.start(f"http://{LOCALHOST}:{port}/healthz")
    try:
        base = f"ws://{LOCALHOST}:{port}/ws?id="
        pairs = [Pair(f"{base}{2 * i}", f"{base}{2 * i + 1}", 2 * i + 1) for i in range(args.pairs)]
        return run_modes(Running(rnd, "relay", "relay", pairs, relay.pid), args)
    finally:
        relay.stop()


def bench_chapar(args: argparse.Namespace, workdir: Path, rnd: int) -> list[PhaseResult]:
    port = free_port()
    data = workdir / f"chapar-data-{rnd}"  # every round starts from an empty database
    env = {"CHAPAR_TEST_NUMBERS": "true", "CHAPAR_SQLITE_SYNCHRONOUS": args.sync}
    env.update(item.split("=", 1) for item in args.server_env)
    argv = [sys.executable, "-m", "chapar", "serve", "--port", str(port), "--data-dir", str(data)]
    server = Child(argv, workdir / f"chapar-{rnd}.log", env)
    server.start(f"http://{LOCALHOST}:{port}/healthz")
    try:
        tokens = asyncio.run(sign_up_all(f"http://{LOCALHOST}:{port}", 2 * args.pairs))
        ws = f"ws://{LOCALHOST}:{port}/api/ws?token="
        pairs = [
            Pair(ws + _q(tokens[2 * i][0]), ws + _q(tokens[2 * i + 1][0]), tokens[2 * i + 1][1])
            for i in range(args.pairs)
        ]
        return run_modes(Running(rnd, "chapar", f"chapar {args.sync}", pairs, server.pid), args)
    finally:
        if server.stop() not in (0, None):
            print(f"chapar exited uncleanly:\n{server.log_tail()}", file=sys.stderr)


def _q(token: str) -> str:
    return urllib.parse.quote(token, safe="")


async def sign_up_all(base: str, count: int) -> list[tuple[str, int]]:
    """count new accounts on reserved test numbers; returns (token, user id) each."""
    limit = asyncio.Semaphore(SIGNUP_CONCURRENCY)
    async with aiohttp.ClientSession() as http:

        async def one(i: int) -> tuple[str, int]:
            phone = f"+99966{i:07d}"
            async with limit:
                sent = await _call(http, base, "auth.sendCode", {"phone": phone})
                res = await _call(
                    http,
                    base,
                    "auth.signUp",
                    {
                        "phone": phone,
                        "phone_code_hash": sent["phone_code_hash"],
                        "code": TEST_CODE,
                        "first_name": f"Bench{i}",
                    },
                )
            return str(res["token"]), int(res["user"]["id"])

        return list(await asyncio.gather(*(one(i) for i in range(count))))


async def _call(
    http: aiohttp.ClientSession, base: str, method: str, params: dict[str, Any]
) -> dict[str, Any]:
    async with http.post(f"{base}/api/{method}", json=params) as r:
        body = await r.json(content_type=None)
    if not body.get("ok"):
        raise RuntimeError(f"{method} failed: {body}")
    result: dict[str, Any] = body["result"]
    return result


# -- output --------------------------------------------------------------------------------------
def add_ratios(results: list[PhaseResult]) -> None:
    """Chapar's max-mode throughput as a fraction of the relay's, from the same round."""
    relay = {r.round: r for r in results if r.target == "relay" and r.kind == "max"}
    for r in results:
        base = relay.get(r.round)
        if r.kind == "max" and r.target != "relay" and base is not None and base.acked_per_s:
            r.ratio_to_relay = r.acked_per_s / base.acked_per_s


def table(results: list[PhaseResult]) -> str:
    header = ["target", "mode", "round", "pairs", "acked/s", "delivered/s", "p50 ms", "p99 ms"]
    header += ["max ms", "errors", "srv CPU%", "srv us/msg", "gen CPU%", "other CPU%", "x relay"]
    rows = [
        [
            r.target,
            r.mode,
            str(r.round + 1),
            str(r.pairs),
            fmt_num(r.acked_per_s),
            fmt_num(r.delivered_per_s),
            fmt_num(r.latency.p50_ms, 1),
            fmt_num(r.latency.p99_ms, 1),
            fmt_num(r.latency.max_ms, 1),
            str(r.errors),
            fmt_num(r.server_cpu_pct),
            fmt_num(r.server_us_per_msg),
            fmt_num(r.loadgen_cpu_pct),
            fmt_num(r.other_cpu_pct),
            fmt_num(r.ratio_to_relay, 2),
        ]
        for r in results
    ]
    return render_table(header, rows, left=2)


def median_table(results: list[PhaseResult]) -> str:
    """With --repeat: medians over the rounds, per target and mode.

    Other jobs on a shared machine only ever slow a run down, so rounds they disturbed
    (other CPU% above QUIET_OTHER_PCT) are left out whenever a quiet round exists.
    """
    groups: dict[tuple[str, str], list[PhaseResult]] = {}
    for r in results:
        groups.setdefault((r.target, r.kind), []).append(r)
    kept = {key: _quiet(rs) for key, rs in groups.items()}
    relay_max = _median([r.acked_per_s for r in kept.get(("relay", "max"), [])])
    header = ["target", "mode", "rounds", "quiet", "acked/s", "p50 ms", "p99 ms", "srv us/msg"]
    header += ["x relay"]
    rows = []
    for (target, kind), rs in kept.items():
        acked = _median([r.acked_per_s for r in rs])
        ratio = None
        if kind == "max" and target != "relay" and acked is not None and relay_max:
            ratio = acked / relay_max
        rows.append(
            [
                target,
                kind,
                str(len(groups[target, kind])),
                str(sum(1 for r in rs if _is_quiet(r))),
                fmt_num(acked),
                fmt_num(_median([r.latency.p50_ms for r in rs]), 1),
                fmt_num(_median([r.latency.p99_ms for r in rs]), 1),
                fmt_num(_median([r.server_us_per_msg for r in rs])),
                fmt_num(ratio, 2),
            ]
        )
    return render_table(header, rows, left=2)


def _is_quiet(r: PhaseResult) -> bool:
    return r.other_cpu_pct is not None and r.other_cpu_pct <= QUIET_OTHER_PCT


def _quiet(rs: list[PhaseResult]) -> list[PhaseResult]:
    return [r for r in rs if _is_quiet(r)] or rs


def _median(xs: list[float | None]) -> float | None:
    known = [x for x in xs if x is not None]
    return statistics.median(known) if known else None


LEGEND = """\
acked/s: sends answered ok (Chapar: committed to SQLite) per second of the window;
delivered/s: messages received by the peer; p50/p99/max: send -> received at the peer.
CPU%: 100 = one core, the machine has {cap}; other = everything but the server and the
load generator (kernel, other jobs): when high, the run was disturbed. srv us/msg: server
CPU time per acknowledged message.
x relay: Chapar's acked/s divided by the relay's (same round; medians: of the medians).
medians: over the quiet rounds (other CPU% <= {quiet:g}) when there are any."""


def report(results: list[PhaseResult], info: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"\n{info['date']}  nproc={info['nproc']}  python {info['python']}  {info['cpu']}"
        f"  git {info['git']}\n"
        f"{args.duration:g} s windows after {args.warmup:g} s warm-up, {args.workers} "
        f"load-generator process(es), text {args.text_bytes} bytes, sqlite {args.sync}\n"
    )
    print(table(results))
    if args.repeat > 1:
        print("\nmedians\n" + median_table(results))
    print("\n" + LEGEND.format(cap=f"{100 * (info['nproc'] or 1)}%", quiet=QUIET_OTHER_PCT))
    for r in results:
        if r.first_error or r.undelivered:
            print(f"{r.target} {r.mode}: undelivered={r.undelivered} first error: {r.first_error}")
    if args.json:
        rows = [{**asdict(r), "server_us_per_msg": r.server_us_per_msg} for r in results]
        doc = {"machine": info, "args": vars(args), "results": rows}
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
        print(f"\nwrote {args.json}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = p.add_argument
    add("--pairs", type=int, default=10, help="sender/receiver pairs (default 10)")
    add("--window", type=int, default=16, help="max mode: sends in flight per sender (default 16)")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--rate", type=float, default=0.0, help="fixed total msgs/s, not max")
    rate.add_argument("--half", action="store_true", help="max, then at half the max rate")
    add("--duration", type=float, default=10.0, help="measured seconds per phase (default 10)")
    add("--warmup", type=float, default=2.0, help="unmeasured seconds first (default 2)")
    add("--drain", type=float, default=5.0, help="at most this long for in-flight messages")
    add("--repeat", type=int, default=1, help="rounds of relay then Chapar; medians printed")
    add("--workers", type=int, default=1, help="load-generator processes (default 1)")
    add("--sync", type=str.upper, choices=["FULL", "NORMAL"], default="FULL", help="SQLite sync")
    add("--only", choices=["relay", "chapar"], help="run one target only")
    add("--text-bytes", type=int, default=16, help="padding after the timestamp (default 16)")
    add("--data-dir", help="where the temporary database goes (not tmpfs: fsync would be free)")
    add(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="S",
        help="before each phase, wait up to S s for other jobs to calm down",
    )
    add("--json", help="also write the results to this file")
    add("--server-env", action="append", default=[], metavar="K=V", help="extra env for Chapar")
    add("--py-spy", default="", metavar="OUT", help="py-spy the server's first window into OUT")
    args = p.parse_args(argv)
    if any("=" not in item for item in args.server_env):
        p.error("--server-env takes KEY=VALUE")
    if min(args.pairs, args.window, args.workers, args.repeat) < 1 or args.duration <= 0:
        p.error("--pairs, --window, --workers, --repeat and --duration must be positive")
    return args


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM, and SIGINT even when started in the background (where it is inherited as
    # ignored), unwind through the finally blocks that stop the servers and workers.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    info = machine_info()
    workdir = Path(tempfile.mkdtemp(prefix="chapar-bench-", dir=args.data_dir))
    results: list[PhaseResult] = []
    try:
        for rnd in range(args.repeat):
            if args.only in (None, "relay"):
                results += bench_relay(args, workdir, rnd)
            if args.only in (None, "chapar"):
                results += bench_chapar(args, workdir, rnd)
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
