"""auth.sendCode under load: answer latency through a running server's HTTP door.

A real Chapar node (SQLite, console SMS provider, a fresh data directory) gets
``auth.sendCode`` for a new, valid Iranian mobile number on every request, at --rate
requests/s for --duration s, open loop: each request is due at its own time whether or not
the earlier ones were answered, and its latency counts from that due time, so a server
that falls behind shows it in p99 instead of slowing the generator down. The abuse limits
that would stop one address asking for thousands of codes (per address, per /24, per
number range, the global budget) are met the way a crowd of real users meets them: each
request from its own client address (X-Forwarded-For, trusted from loopback as from a
balancer) and the numbers spread over 100 number ranges; the range and global budgets are
raised as a busy operator would. Everything else is the default path: validation, limits,
code row, outbox row, answer. The SMS worker sends each code to
the console provider meanwhile.

Baseline in the same run, at the same rate: ``GET /healthz`` on the same node (what the
HTTP stack and the generator cost by themselves).

    .venv/bin/python bench/sendcode.py                # 500 requests/s for 20 s
    .venv/bin/python bench/sendcode.py --rate 1000 --duration 10 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import (
    LOCALHOST,
    Child,
    LatencySummary,
    fmt_num,
    free_port,
    load_average,
    machine_info,
    process_cpu_seconds,
    render_table,
    summarize_us,
)

# What an operator of a busy service sets: the global budget far above the default, and
# room for the ~100 codes each number range gets here. The per-address limits stay at their
# defaults: every request comes from its own /24 (X-Forwarded-For, which the node trusts
# from loopback as from a balancer), as a crowd of real users would.
LIMITS = "sms_per_range=1000/1h, sms_global=10000000/1h"


def client_address(i: int) -> str:
    return f"10.{(i >> 8) & 255}.{i & 255}.{1 + (i >> 16)}"


def phone_number(i: int) -> str:
    """+98 912 AB CDEFG: AB spreads the numbers over 100 ranges (the first 7 digits)."""
    return f"+98912{i % 100:02d}{(i // 100) % 100_000:05d}"


@dataclass
class Row:
    what: str
    sent: int
    ok: int
    errors: int
    per_s: float
    latency: LatencySummary
    server_cpu_pct: float | None


async def drive(
    http: aiohttp.ClientSession, what: str, make: Any, rate: float, duration: float, pid: int
) -> Row:
    """``make(i)`` is a coroutine factory for request i; returns the row of its results."""
    n = int(rate * duration)
    latencies: list[int] = []
    errors = 0

    async def one(i: int, due: float) -> None:
        nonlocal errors
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        try:
            ok = await make(i)
        except (aiohttp.ClientError, TimeoutError):
            ok = False
        if ok:
            latencies.append(int((time.monotonic() - due) * 1_000_000))
        else:
            errors += 1

    cpu0 = process_cpu_seconds(pid)
    t0 = time.monotonic() + 0.2
    await asyncio.gather(*(one(i, t0 + i / rate) for i in range(n)))
    wall = time.monotonic() - t0
    cpu1 = process_cpu_seconds(pid)
    cpu = None if cpu0 is None or cpu1 is None else 100 * (cpu1 - cpu0) / wall
    return Row(what, n, len(latencies), errors, len(latencies) / wall, summarize_us(latencies), cpu)


async def run(args: argparse.Namespace, base: str, pid: int) -> list[Row]:
    timeout = aiohttp.ClientTimeout(total=10)
    conn = aiohttp.TCPConnector(limit=args.connections)
    async with aiohttp.ClientSession(timeout=timeout, connector=conn) as http:
        # The code path warmed up (imports, first statements) before anything is timed.
        first = args.first_number

        async def healthz(_: int) -> bool:
            async with http.get(f"{base}/healthz") as r:
                await r.read()
                return r.status == 200

        async def send_code(i: int) -> bool:
            body = {"phone": phone_number(first + i)}
            xff = {"X-Forwarded-For": client_address(first + i)}
            async with http.post(f"{base}/api/auth.sendCode", json=body, headers=xff) as r:
                body = await r.json(content_type=None)
                if r.status != 200 and args.verbose:
                    print(r.status, body, file=sys.stderr)
                return r.status == 200 and body["result"]["type"] == "sms"

        await drive(http, "warm-up", lambda i: send_code(i - 1000), 50, 1, pid)
        rows = [await drive(http, "GET /healthz", healthz, args.rate, args.duration, pid)]
        rows.append(await drive(http, "auth.sendCode", send_code, args.rate, args.duration, pid))
        return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=500, help="requests per second")
    ap.add_argument("--duration", type=float, default=20, help="seconds per row")
    ap.add_argument("--connections", type=int, default=64, help="client connection pool")
    ap.add_argument("--sync", default="FULL", help="SQLite synchronous (FULL or NORMAL)")
    ap.add_argument("--first-number", type=int, default=1000, help="index of the first number")
    ap.add_argument(
        "--redis-url",
        help="run the node's event bus and rate limits on this Redis (a fresh key prefix)",
    )
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--verbose", action="store_true", help="print refused requests")
    args = ap.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    info = machine_info()
    with tempfile.TemporaryDirectory(prefix="chapar-sendcode-") as tmp:
        work = Path(tmp)
        port = free_port()
        env = {"CHAPAR_LIMITS": LIMITS, "CHAPAR_SQLITE_SYNCHRONOUS": args.sync}
        if args.redis_url:
            env |= {"CHAPAR_REDIS_URL": args.redis_url, "CHAPAR_REDIS_PREFIX": f"{work.name}:"}
        argv = [sys.executable, "-m", "chapar", "serve", "--port", str(port)]
        server = Child([*argv, "--data-dir", str(work / "data")], work / "server.log", env)
        base = f"http://{LOCALHOST}:{port}"
        server.start(f"{base}/healthz")
        try:
            load = load_average()
            rows = asyncio.run(run(args, base, server.pid))
            outbox = work / "data" / "sms-outbox.jsonl"
            time.sleep(1)  # the last codes reach the console provider
            sent = len(outbox.read_text().splitlines()) if outbox.exists() else 0
        finally:
            server.stop()
    print(f"{info['date']}  {info['cpu']} x{info['nproc']}  python {info['python']}  {info['git']}")
    limiter = "Redis" if args.redis_url else "in-process"
    print(f"load average before: {load}; SQLite synchronous={args.sync}; limits {limiter}\n")
    table = [
        [
            r.what,
            fmt_num(r.sent),
            fmt_num(r.ok),
            fmt_num(r.errors),
            fmt_num(r.per_s),
            fmt_num(r.latency.p50_ms, 2),
            fmt_num(r.latency.p99_ms, 2),
            fmt_num(r.latency.max_ms, 2),
            fmt_num(r.server_cpu_pct),
        ]
        for r in rows
    ]
    head = ["", "requests", "ok", "errors", "ok/s", "p50 ms", "p99 ms", "max ms", "server CPU %"]
    print(render_table(head, table))
    print(f"codes the console provider accepted (warm-up included): {sent:,}")
    code_row = rows[-1]
    p99 = code_row.latency.p99_ms
    met = p99 is not None and p99 < 20 and code_row.errors == 0
    print(f"target: auth.sendCode p99 < 20 ms at {args.rate:g}/s: {'met' if met else 'NOT met'}")
    if args.json:
        out = {"machine": info, "load": load, "rows": [asdict(r) for r in rows], "sent": sent}
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
