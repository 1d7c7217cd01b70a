"""SMS delivery benchmark: what queueing a code costs ``auth.sendCode``, and how fast codes
flow again through the next provider when one fails.

Part 1, enqueue: ``SmsDelivery.enqueue`` (one durable write to the outbox, as sendCode
does) on SQLite, with the worker sending through the console provider at the same time.
Closed loop (--concurrency callers as fast as they can) for throughput, then open loop at
--rate requests/s for latency p50/p99; the baseline in the same run is the cheapest
durable write (one row updated), so the ratio says what the outbox row adds.

Part 2, failover: a steady --stream of codes/s through a local fake provider (the test
fakes' HTTP server) with a second one behind it; after 2 s the first starts failing (answers
500, or hangs past --timeout). Reported: time from the failure to the first code accepted
by the second provider, when the circuit opened, and request-to-acceptance latency of the
codes requested after the failure.

Everything runs in one process on 127.0.0.1 (the load generator shares the loop, so the
figures are a floor for the server's own cost), bounded in count and time.

    .venv/bin/python bench/sms.py
    .venv/bin/python bench/sms.py --count 20000 --rate 500 --sync NORMAL
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.http_providers import KAVENEGAR_KEY, FakeProviders

from bench.common import LatencySummary, fmt_num, machine_info, render_table, summarize_us
from chapar import logs
from chapar.adapters.sms.console import ConsoleSms
from chapar.adapters.sms.generic_http import GenericHttpSms
from chapar.adapters.sms.kavenegar import KavenegarSms
from chapar.adapters.sqlite.store import SqliteStore
from chapar.ports.clock import SystemClock
from chapar.ports.sms_provider import SmsProvider
from chapar.ports.store import Tx
from chapar.services.sms_delivery import DeliveryOptions, ProviderPolicy, SmsDelivery
from chapar.services.sms_health import Circuit, CircuitBreaker
from chapar.services.sms_router import Route, SmsRouter, Target
from chapar.sms_settings import HttpProvider, KavenegarProvider

TO = "+989121234567"
Call = Callable[[], Awaitable[None]]


def node(store: SqliteStore, providers: list[SmsProvider], timeout: float) -> SmsDelivery:
    clock = SystemClock()
    health = {
        p.name: CircuitBreaker(p.name, clock, failure_threshold=3, open_seconds=30)
        for p in providers
    }
    route = Route("*", tuple(Target(p.name, i) for i, p in enumerate(providers)))
    router = SmsRouter([route], {p.name: p.kinds for p in providers}, health)
    policies = {p.name: ProviderPolicy(timeout=timeout) for p in providers}
    return SmsDelivery(store, providers, router, clock, policies, DeliveryOptions())


def row(name: str, ops: int, seconds: float, lat: LatencySummary) -> list[str]:
    return [
        name,
        fmt_num(ops),
        fmt_num(ops / seconds),
        fmt_num(lat.p50_ms, 2),
        fmt_num(lat.p99_ms, 2),
        fmt_num(lat.max_ms, 2),
    ]


async def closed_loop(call: Call, count: int, concurrency: int) -> tuple[float, LatencySummary]:
    lat: list[int] = []
    left = count

    async def caller() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            t0 = time.perf_counter_ns()
            await call()
            lat.append((time.perf_counter_ns() - t0) // 1000)

    t0 = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return time.perf_counter() - t0, summarize_us(lat)


async def open_loop(call: Call, rate: float, seconds: float) -> tuple[float, LatencySummary]:
    lat: list[int] = []
    tasks: list[asyncio.Task[None]] = []

    async def one() -> None:
        t0 = time.perf_counter_ns()
        await call()
        lat.append((time.perf_counter_ns() - t0) // 1000)

    start = time.perf_counter()
    n = int(rate * seconds)
    for i in range(n):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    return time.perf_counter() - start, summarize_us(lat)


async def bench_enqueue(args: argparse.Namespace, tmp: Path) -> None:
    store = SqliteStore(tmp / "enqueue.sqlite3", synchronous=args.sync)
    await store.open()
    d = node(store, [ConsoleSms(tmp / "sms-outbox.jsonl")], 5.0)
    n = 0

    async def enqueue() -> None:
        nonlocal n
        n += 1
        await d.enqueue(TO, f"Chapar code: {n % 1_000_000:06d}", code=f"{n % 1_000_000:06d}")

    async def one_row_write() -> None:
        # The cheapest durable write: one row changed, so the commit has something to sync.
        await store.write(
            lambda tx: tx.execute("UPDATE counters SET value = value WHERE name = 'sms_id'")
        )

    async def measure(name: str, call: Call, closed: bool) -> tuple[list[str], float]:
        if closed:
            secs, lat = await closed_loop(call, args.count, args.concurrency)
            return row(f"{name}, {args.concurrency} callers", args.count, secs, lat), secs
        secs, lat = await open_loop(call, args.rate, args.seconds)
        return row(f"{name}, {args.rate:g}/s", int(args.rate * args.seconds), secs, lat), secs

    rows = []
    base_row, base_secs = await measure("baseline: 1-row update", one_row_write, True)
    enq_row, enq_secs = await measure("enqueue, worker off", enqueue, True)
    rows += [base_row, enq_row]
    rows.append((await measure("baseline: 1-row update", one_row_write, False))[0])
    rows.append((await measure("enqueue, worker off", enqueue, False))[0])
    await d.run_once(limit=1_000_000)  # send the backlog before the worker starts
    await d.start()
    started = int(time.time() * 1000)
    rows.append((await measure("enqueue, worker sending", enqueue, False))[0])
    await asyncio.sleep(1.0)
    # End to end, at the open-loop rate: from the request to the console's acceptance.
    e2e = await store.read(
        lambda tx: tx.fetchall(
            "SELECT accepted_at - created_at FROM sms_outbox"
            " WHERE created_at >= ? AND accepted_at IS NOT NULL",
            (started,),
        )
    )
    await d.close()
    await store.close()
    print(f"\nenqueue (SQLite synchronous={args.sync})")
    print(render_table(["", "calls", "calls/s", "p50 ms", "p99 ms", "max ms"], rows))
    print(f"closed-loop enqueue throughput / 1-row-update baseline = {base_secs / enq_secs:.2f}")
    acc = summarize_us([int(r[0]) * 1000 for r in e2e])
    print(
        f"request -> console provider accepted at {args.rate:g}/s: {acc.count} messages,"
        f" p50 {fmt_num(acc.p50_ms, 0)} ms, p99 {fmt_num(acc.p99_ms, 0)} ms,"
        f" max {fmt_num(acc.max_ms, 0)} ms"
    )


async def bench_failover(args: argparse.Namespace, tmp: Path, mode: str) -> list[str]:
    fake = FakeProviders()
    await fake.start()
    store = SqliteStore(tmp / f"failover-{mode}.sqlite3", synchronous=args.sync)
    await store.open()
    primary = GenericHttpSms(
        HttpProvider(
            name="gw",
            url=f"{fake.url}/generic/send",
            headers={"Authorization": "Bearer generic-token"},
            body='{"to": {to}, "text": {text}}',
            id_path="data.id",
        )
    )
    backup = KavenegarSms(KavenegarProvider(name="kn", api_key=KAVENEGAR_KEY, base_url=fake.url))
    fake.mode["generic"], fake.mode["kavenegar"] = "silent", "silent"
    d = node(store, [primary, backup], args.timeout)
    await d.start()
    failed_at = 0.0
    opened_at: float | None = None
    stop = time.perf_counter() + 2.0 + args.after
    i = 0
    while (now := time.perf_counter()) < stop:
        if not failed_at and now >= stop - args.after:
            fake.mode["generic"] = mode
            failed_at = time.time()
        if failed_at and opened_at is None and d.health("gw").state is Circuit.OPEN:
            opened_at = time.time()
        i += 1
        await d.enqueue(TO, f"code {i}")
        await asyncio.sleep(1 / args.stream)
    await asyncio.sleep(args.timeout + 1)  # let the last ones finish
    failed_ms = int(failed_at * 1000)

    def after_failure(tx: Tx) -> tuple[list[int], int | None, int]:
        lat = tx.fetchall(
            "SELECT accepted_at - created_at FROM sms_outbox"
            " WHERE created_at >= ? AND accepted_at IS NOT NULL",
            (failed_ms,),
        )
        first = tx.fetchone(
            "SELECT MIN(finished_at) FROM sms_attempts WHERE provider = 'kn'"
            " AND outcome = 'accepted'"
        )
        lost = tx.fetchone(
            "SELECT COUNT(*) FROM sms_outbox WHERE created_at >= ? AND accepted_at IS NULL",
            (failed_ms,),
        )
        return (
            [int(r[0]) for r in lat],
            None if first is None or first[0] is None else int(first[0]),
            int(lost[0]) if lost else 0,
        )

    lat, first_backup, unsent = await store.read(after_failure)
    await d.close()
    await store.close()
    await fake.stop()
    s = summarize_us([x * 1000 for x in lat])
    first = None if first_backup is None else (first_backup - failed_ms) / 1000
    opened = None if opened_at is None else opened_at - failed_at
    return [
        f"primary {'answers 500' if mode == 'error' else 'hangs'}",
        fmt_num(first, 2),
        fmt_num(opened, 2),
        str(s.count),
        str(unsent),
        fmt_num(s.p50_ms, 0),
        fmt_num(s.p99_ms, 0),
        fmt_num(s.max_ms, 0),
    ]


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--count", type=int, default=5000, help="closed-loop calls per case")
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--rate", type=float, default=500.0, help="open-loop requests/s")
    p.add_argument("--seconds", type=float, default=5.0, help="open-loop duration")
    p.add_argument("--sync", default="FULL", help="SQLite synchronous mode")
    p.add_argument("--stream", type=float, default=50.0, help="codes/s during failover")
    p.add_argument("--after", type=float, default=5.0, help="seconds measured after failure")
    p.add_argument("--timeout", type=float, default=2.0, help="provider timeout_seconds")
    args = p.parse_args()
    logs.configure("error")  # a line per send would cost more than the send
    info = machine_info()
    print(f"{info['date']}  {info['cpu']} x{info['nproc']}  python {info['python']}  {info['git']}")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        await bench_enqueue(args, tmp)
        rows = [await bench_failover(args, tmp, mode) for mode in ("error", "hang")]
    print(
        f"\nfailover ({args.stream:g} codes/s, provider timeout {args.timeout:g} s,"
        " circuit opens after 3 failures)"
    )
    header = [
        "",
        "1st via backup s",
        "circuit open s",
        "sent",
        "unsent",
        "p50 ms",
        "p99 ms",
        "max ms",
    ]
    print(render_table(header, rows))
    print("(times from the failure; latency = request -> acceptance, codes requested after it)")


if __name__ == "__main__":
    asyncio.run(main())
