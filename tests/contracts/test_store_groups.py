"""Grouped writes (adapters/group_commit.py): neighbouring operations of a batchable kind
are written together, and must leave exactly what running them one by one would, on
every engine. The kind the server has: plain private sends (services.messages)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from chapar.db import log
from chapar.errors import BadRequest
from chapar.ports.store import Store, Tx
from chapar.protocol import methods as m
from chapar.services.messages import PrivateSend
from tests.contracts.test_store import store  # noqa: F401  (the fixture, on each engine)

USERS = (101, 102, 103, 104)
DELETED = 105
NOW = 1_700_000_000


def _add_users(tx: Tx) -> None:
    for uid in (*USERS, DELETED):
        kind = "deleted" if uid == DELETED else "user"
        tx.execute(
            "INSERT INTO users (id, phone, first_name, created_at, kind) VALUES (?, ?, ?, ?, ?)",
            (uid, f"+98912000{uid}", f"u{uid}", NOW, kind),
        )


def _snapshot(tx: Tx) -> dict[str, list[Any]]:
    if tx.dialect == "sqlite":
        search = "SELECT rowid, scope, body FROM search_fts ORDER BY rowid"
    else:
        search = "SELECT scope, doc_id, tsv::text FROM search_docs ORDER BY scope, doc_id"
    return {
        "users": tx.fetchall("SELECT id, pts, last_msg_id FROM users ORDER BY id"),
        "messages": tx.fetchall(
            "SELECT owner_id, id, peer_id, from_id, out, text, date, reply_to_id, random_id,"
            " peer_msg_id, pts FROM messages ORDER BY owner_id, id"
        ),
        "dialogs": tx.fetchall(
            "SELECT user_id, peer_id, top_message, top_date, unread_count, read_inbox_max_id"
            " FROM dialogs ORDER BY user_id, peer_id"
        ),
        "updates": tx.fetchall("SELECT user_id, pts, data FROM updates ORDER BY user_id, pts"),
        "search": [tuple(r) for r in tx.fetchall(search)],
    }


# (from, to, text, random_id): repeats of a random_id within the group and of one sent
# before it, a chat with oneself, another sender reusing a random_id, text that leaves
# nothing to index.
SENDS = [
    (101, 102, "سلام دنیا", 1),
    (102, 101, "hello back", 1),
    (101, 102, "the same random_id again", 1),
    (101, 101, "a note to myself", 2),
    (103, 101, "ي ك ۱۲۳", 3),
    (101, 102, "sent before the group", 5),
    (102, 101, "\u064e", 4),
    (101, 102, "after the repeats", 6),
    (104, 102, "x" * 300, 7),
    (102, 101, "the last one", 8),
]


def _ops() -> list[PrivateSend]:
    return [PrivateSend(f, t, text, rid, NOW + i) for i, (f, t, text, rid) in enumerate(SENDS)]


async def test_a_group_of_sends_writes_what_one_by_one_would(store: Store) -> None:  # noqa: F811
    await store.write(_add_users)
    await store.write(PrivateSend(101, 102, "sent before the group", 5, NOW - 1))

    def compare(tx: Tx) -> tuple[Any, ...]:
        tx.execute("SAVEPOINT cmp")
        grouped_ops = _ops()
        grouped = PrivateSend.run_many(tx, grouped_ops)
        after_group = _snapshot(tx)
        tx.execute("ROLLBACK TO SAVEPOINT cmp")
        single_ops = _ops()
        single = [op(tx) for op in single_ops]
        after_single = _snapshot(tx)
        tx.execute("RELEASE SAVEPOINT cmp")
        return (
            (grouped, [op.pushes for op in grouped_ops], after_group),
            (single, [op.pushes for op in single_ops], after_single),
        )

    (g_res, g_push, g_rows), (s_res, s_push, s_rows) = await store.write(compare)
    assert g_rows == s_rows
    assert g_res == s_res
    assert g_push == s_push
    # One new message per new (sender, random_id): 8, one of them to oneself; and the 2
    # updates of the message sent before.
    assert len(s_rows["updates"]) == 2 + 2 * 8 - 1
    assert g_res[0] == g_res[2] and g_push[2] == []  # a repeat changes and pushes nothing


async def test_a_send_that_must_fail_fails_alone_in_its_group(
    store: Store,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await store.write(_add_users)
    groups: list[int] = []
    run_many = PrivateSend.run_many

    def counting(tx: Tx, ops: list[PrivateSend]) -> list[m.SentMessage]:
        groups.append(len(ops))
        return run_many(tx, ops)

    monkeypatch.setattr(PrivateSend, "run_many", staticmethod(counting))
    started, release = threading.Event(), threading.Event()

    def hold_the_writer(tx: Tx) -> None:
        started.set()
        release.wait(10)

    blocker = asyncio.ensure_future(store.write(hold_the_writer))
    await asyncio.to_thread(started.wait, 10)
    # Queued while the writer is busy, so the next batch takes all of them at once.
    ops = [PrivateSend(101, 102, f"m{i}", 100 + i, NOW) for i in range(5)]
    ops.insert(2, PrivateSend(101, DELETED, "to nobody", 99, NOW))
    tasks = [asyncio.ensure_future(store.write(op)) for op in ops]
    await asyncio.sleep(0)
    release.set()
    await blocker
    results = await asyncio.gather(*tasks, return_exceptions=True)

    assert groups == [6]  # one group, then each alone
    failed = results.pop(2)
    assert isinstance(failed, BadRequest) and failed.type == "PEER_ID_INVALID"
    assert ops[2].pushes == []
    sent = [r for r in results if isinstance(r, m.SentMessage)]
    assert [r.pts for r in sent] == [1, 2, 3, 4, 5]  # gapless, in queue order
    assert [r.message.id for r in sent] == [1, 2, 3, 4, 5]

    def heads(tx: Tx) -> list[Any]:
        return tx.fetchall("SELECT id, pts, last_msg_id FROM users ORDER BY id")

    rows = {int(r[0]): (int(r[1]), int(r[2])) for r in await store.read(heads)}
    assert rows[101] == rows[102] == (5, 5) and rows[DELETED] == (0, 0)
    updates = await store.read(lambda tx: log.read_after(tx, 102, 0, 100))
    assert [p for p, _ in updates] == [1, 2, 3, 4, 5]


async def test_a_group_publishes_its_pushes_once(store: Store) -> None:  # noqa: F811
    await store.write(_add_users)
    started, release = threading.Event(), threading.Event()

    def hold_the_writer(tx: Tx) -> None:
        started.set()
        release.wait(10)

    blocker = asyncio.ensure_future(store.write(hold_the_writer))
    await asyncio.to_thread(started.wait, 10)
    ops = [PrivateSend(101 + i % 2, 102 - i % 2, f"m{i}", 200 + i, NOW) for i in range(4)]
    tasks = [asyncio.ensure_future(store.write(op)) for op in ops]
    await asyncio.sleep(0)
    release.set()
    await blocker
    await asyncio.gather(*tasks)

    group = ops[0].group
    assert group is not None and all(op.group is group for op in ops)
    everything = group.take()
    assert everything == [p for op in ops for p in op.pushes] and len(everything) == 8
    assert group.take() is None  # the others' callers publish nothing more


@pytest.mark.parametrize("size", [1, 2, 3, 127, 128, 129, 300])
def test_bulk_pieces_cover_every_row_once(size: int) -> None:
    from chapar.db.bulk import MAX_ROWS, pieces

    rows = list(range(size))
    parts = list(pieces(rows))
    assert [x for p in parts for x in p] == rows
    assert all(len(p) <= MAX_ROWS and len(p) & (len(p) - 1) == 0 for p in parts)
