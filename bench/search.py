"""Search on a million messages: builds a store with N indexed messages spread over
chats, then times db.search for one-word, two-word and prefix queries, in one chat and
across 500 chats.

    .venv/bin/python bench/search.py --messages 1000000
    .venv/bin/python bench/search.py --messages 200000 --postgres postgresql://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from chapar.adapters.postgres.store import PostgresStore
from chapar.adapters.sqlite.store import SqliteStore
from chapar.db import search
from chapar.ports.store import Tx

# Persian and Arabic spellings mixed on purpose: the index must unify them.
VOCAB = [
    "سلام",
    "کتاب",
    "كتاب",
    "مدرسه",
    "دانشگاه",
    "تهران",
    "اصفهان",
    "شیراز",
    "خبر",
    "اخبار",
    "قیمت",
    "دلار",
    "طلا",
    "خودرو",
    "بازار",
    "هوا",
    "باران",
    "برف",
    "فوتبال",
    "استقلال",
    "پرسپولیس",
    "فیلم",
    "سینما",
    "موسیقی",
    "کنسرت",
    "جلسه",
    "قرار",
    "فردا",
    "امروز",
    "دیروز",
    "ساعت",
    "مي‌روم",
    "می‌روم",
    "رفتم",
    "آمدم",
    "خانه",
    "کار",
    "شرکت",
    "پروژه",
    "برنامه",
    "نرم‌افزار",
    "سرور",
    "پیام",
    "hello",
    "world",
    "meeting",
    "project",
    "release",
]


def _query(tx: Tx, *, scopes: list[str], q: str) -> list[int]:
    return search.search(tx, scopes, q, 20)


def _fill(tx: Tx, *, start: int, count: int, chats: int, rng: random.Random) -> None:
    for i in range(start, start + count):
        chat_id = 1 + i % chats
        text = " ".join(rng.choices(VOCAB, k=rng.randint(3, 12)))
        search.index(tx, [f"c{chat_id}"], search.chat_doc(chat_id, i // chats + 1), text)


async def run(store: SqliteStore | PostgresStore, n: int, chats: int, queries: int) -> None:
    rng = random.Random(7)
    t0 = time.perf_counter()
    batch = 20_000
    for start in range(0, n, batch):
        count = min(batch, n - start)
        await store.write(functools.partial(_fill, start=start, count=count, chats=chats, rng=rng))
    print(f"indexed {n:,} messages in {time.perf_counter() - t0:.1f} s")
    cases = {
        "one word, one chat": (["c1"], "بازار"),
        "two words, one chat": (["c1"], "قیمت دلار"),
        "prefix, one chat": (["c1"], "دانش"),
        "one word, 500 chats": ([f"c{c}" for c in range(1, 501)], "كتاب"),
        "two words, 500 chats": ([f"c{c}" for c in range(1, 501)], "جلسه فردا"),
        "rare word, all": ([f"c{c}" for c in range(1, min(chats, 500) + 1)], "release"),
    }
    print(f"{'query':<24} {'p50 ms':>8} {'p99 ms':>8} {'hits':>6}")
    for name, (scopes, q) in cases.items():
        times: list[float] = []
        hits = 0
        for _ in range(queries):
            t = time.perf_counter()
            found = await store.read(functools.partial(_query, scopes=scopes, q=q))
            times.append((time.perf_counter() - t) * 1000)
            hits = len(found)
        times.sort()
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        print(f"{name:<24} {statistics.median(times):8.2f} {p99:8.2f} {hits:6d}")


async def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--chats", type=int, default=1000)
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--postgres", help="PostgreSQL URL (a temporary schema is used and dropped)")
    args = ap.parse_args()
    if args.postgres:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(args.postgres, autocommit=True) as admin:
            admin.execute(f"CREATE SCHEMA {schema}")
        store: SqliteStore | PostgresStore = PostgresStore(f"{args.postgres}?schema={schema}")
        try:
            await store.open()
            await run(store, args.messages, args.chats, args.queries)
        finally:
            await store.close()
            with psycopg.connect(args.postgres, autocommit=True) as admin:
                admin.execute(f"DROP SCHEMA {schema} CASCADE")
    else:
        with tempfile.TemporaryDirectory() as d:
            store = SqliteStore(Path(d) / "bench.sqlite3", synchronous="NORMAL")
            await store.open()
            await run(store, args.messages, args.chats, args.queries)
            await store.close()


if __name__ == "__main__":
    asyncio.run(main())
