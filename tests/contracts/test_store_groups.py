"""Grouped writes (adapters/group_commit.py): neighbouring operations of a batchable kind
are written together, and must leave exactly what running them one by one would, on
every engine. The kinds the server has: plain private sends (services.messages) and plain
posts to groups and channels (services.chat_messages)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from chapar.db import bulk, log
from chapar.db import chats as chats_db
from chapar.domain.rights import ALL
from chapar.errors import BadRequest, Conflict, FloodWait, Forbidden
from chapar.ports.store import Store, Tx
from chapar.protocol import methods as m
from chapar.services.chat_messages import ChatMessagesService, ChatPost
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


def grouped_and_alone(
    make: Callable[[], Sequence[PrivateSend | ChatPost]],
    run_many: Callable[[Tx, Any], list[Any]],
    snapshot: Callable[[Tx], Any],
) -> Callable[[Tx], tuple[Any, ...]]:
    """A write that runs the operations ``make`` builds as one group, notes the results,
    pushes and rows, rolls back, and does the same with each operation alone: both
    outcomes, to be compared."""

    def compare(tx: Tx) -> tuple[Any, ...]:
        tx.execute("SAVEPOINT cmp")
        grouped_ops = make()
        grouped = run_many(tx, grouped_ops)
        after_group = snapshot(tx)
        tx.execute("ROLLBACK TO SAVEPOINT cmp")
        single_ops = make()
        single = [op(tx) for op in single_ops]
        after_single = snapshot(tx)
        tx.execute("RELEASE SAVEPOINT cmp")
        return (
            (grouped, [op.pushes for op in grouped_ops], after_group),
            (single, [op.pushes for op in single_ops], after_single),
        )

    return compare


def _ops() -> list[PrivateSend]:
    return [PrivateSend(f, t, text, rid, NOW + i) for i, (f, t, text, rid) in enumerate(SENDS)]


async def test_a_group_of_sends_writes_what_one_by_one_would(store: Store) -> None:  # noqa: F811
    await store.write(_add_users)
    await store.write(PrivateSend(101, 102, "sent before the group", 5, NOW - 1))

    compare = grouped_and_alone(_ops, PrivateSend.run_many, _snapshot)
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


# -- posts to groups and channels -------------------------------------------------------
GROUP, CHANNEL, SLOW = 1, 2, 3
# post and _mentions use nothing of the service's dependencies.
SVC = ChatMessagesService.__new__(ChatMessagesService)


def _add_chats(tx: Tx) -> None:
    """A group (101 creates; 102, 103 join), a channel with signatures (104 creates, 101
    subscribes) and a group in slow mode (101 creates, 102 joins); 102 is @bobby."""
    _add_users(tx)
    tx.execute("UPDATE users SET username = 'Bobby', username_key = 'bobby' WHERE id = 102")
    for broadcast, creator, members in ((0, 101, (102, 103)), (1, 104, (101,)), (0, 101, (102,))):
        chat_id = chats_db.create(tx, bool(broadcast), f"chat by {creator}", "", creator, NOW)
        chats_db.put_member(tx, chat_id, creator, "creator", NOW, rights=int(ALL))
        for uid in members:
            chats_db.put_member(tx, chat_id, uid, "member", NOW)
    chats_db.set_fields(tx, CHANNEL, signatures=1)
    chats_db.set_fields(tx, SLOW, slow_mode_seconds=30)


def _chat_snapshot(tx: Tx) -> dict[str, list[Any]]:
    rows = _snapshot(tx)
    rows["chats"] = tx.fetchall("SELECT id, pts, last_msg_id, last_msg_date FROM chats ORDER BY id")
    rows["chat_messages"] = tx.fetchall(
        "SELECT chat_id, id, from_id, text, date, random_id, post_author, views, pts"
        " FROM chat_messages ORDER BY chat_id, id"
    )
    rows["chat_updates"] = tx.fetchall(
        "SELECT chat_id, pts, data FROM chat_updates ORDER BY chat_id, pts"
    )
    rows["members"] = tx.fetchall(
        "SELECT chat_id, user_id, last_post_at FROM chat_members ORDER BY chat_id, user_id"
    )
    return rows


# (from, chat, text, random_id): repeats of a random_id within the group and of one posted
# before it, another member reusing a random_id, mentions (of a member, of oneself, of no
# one), a channel with signatures, text that leaves nothing to index, the slow-mode group's
# creator (exempt) posting twice.
POSTS = [
    (101, GROUP, "سلام گروه", 1),
    (102, GROUP, "hello @BOBBY and @nobody", 1),
    (101, GROUP, "the same random_id again", 1),
    (104, CHANNEL, "on the channel", 1),
    (101, GROUP, "posted before the group", 5),
    (103, GROUP, "\u064e", 2),
    (101, SLOW, "slow 1", 1),
    (101, GROUP, "hi @bobby", 6),
    (104, CHANNEL, "again on the channel", 2),
    (101, SLOW, "slow 2", 2),
    (102, SLOW, "a member, once", 1),
    (103, GROUP, "the last one", 3),
]


def _posts() -> list[ChatPost]:
    return [ChatPost(SVC, f, c, text, rid, NOW + i) for i, (f, c, text, rid) in enumerate(POSTS)]


async def test_a_group_of_chat_posts_writes_what_one_by_one_would(store: Store) -> None:  # noqa: F811
    await store.write(_add_chats)
    await store.write(ChatPost(SVC, 101, GROUP, "posted before the group", 5, NOW - 1))

    compare = grouped_and_alone(_posts, ChatPost.run_many, _chat_snapshot)
    (g_res, g_push, g_rows), (s_res, s_push, s_rows) = await store.write(compare)
    assert g_rows == s_rows
    assert g_res == s_res
    assert g_push == s_push
    # 10 new posts (two answers repeat earlier ones); 102 is mentioned once by 101 (their
    # own mention and the unknown @nobody log nothing).
    assert len(s_rows["chat_messages"]) == 1 + 10
    assert [u for u, *_ in s_rows["updates"]] == [102]
    assert g_res[0] == g_res[2] and g_push[2] == []  # a repeat changes and pushes nothing
    signed = [r[6] for r in g_rows["chat_messages"] if r[0] == CHANNEL]
    assert signed == ["u104", "u104"]  # the channel's signatures


async def test_a_chat_post_that_must_fail_fails_alone_in_its_group(
    store: Store,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await store.write(_add_chats)
    await store.write(ChatPost(SVC, 102, SLOW, "a member in slow mode", 1, NOW))
    groups: list[int] = []
    run_many = ChatPost.run_many

    def counting(tx: Tx, ops: list[ChatPost]) -> list[m.SentMessage]:
        groups.append(len(ops))
        return run_many(tx, ops)

    monkeypatch.setattr(ChatPost, "run_many", staticmethod(counting))
    started, release = threading.Event(), threading.Event()

    def hold_the_writer(tx: Tx) -> None:
        started.set()
        release.wait(10)

    blocker = asyncio.ensure_future(store.write(hold_the_writer))
    await asyncio.to_thread(started.wait, 10)
    # Queued while the writer is busy, so the next batch takes all of them at once.
    ops = [ChatPost(SVC, 101 + i % 3, GROUP, f"m{i}", 100 + i, NOW) for i in range(5)]
    ops.insert(2, ChatPost(SVC, 104, GROUP, "not a member", 99, NOW))
    ops.insert(4, ChatPost(SVC, 102, SLOW, "too soon", 98, NOW + 5))
    tasks = [asyncio.ensure_future(store.write(op)) for op in ops]
    await asyncio.sleep(0)
    release.set()
    await blocker
    results = await asyncio.gather(*tasks, return_exceptions=True)

    assert groups == [7]  # one group, then each alone
    slow, outsider = results.pop(4), results.pop(2)
    assert isinstance(outsider, Forbidden) and outsider.type == "CHANNEL_PRIVATE"
    assert isinstance(slow, FloodWait)
    assert ops[2].pushes == [] and ops[4].pushes == []
    sent = [r for r in results if isinstance(r, m.SentMessage)]
    assert [r.pts for r in sent] == [1, 2, 3, 4, 5]  # gapless, in queue order
    assert [r.message.id for r in sent] == [1, 2, 3, 4, 5]
    updates = await store.read(lambda tx: chats_db.read_after(tx, GROUP, 0, 100))
    assert [p for p, _ in updates] == [1, 2, 3, 4, 5]


async def test_a_statement_that_did_not_wait_fails_only_its_own_operation(
    store: Store,  # noqa: F811
) -> None:
    """bulk.send does not wait for the server on PostgreSQL (pipeline mode): its error
    must still reach its own operation, and the batch's other operations stand."""
    await store.write(_add_users)
    started, release = threading.Event(), threading.Event()

    def hold_the_writer(tx: Tx) -> None:
        started.set()
        release.wait(10)

    def put(pts: int, fail: bool = False) -> Any:
        def op(tx: Tx) -> int:
            bulk.send(
                tx, "INSERT INTO updates (user_id, pts, data) VALUES (?, ?, ?)", (101, pts, "{}")
            )
            if fail:
                raise BadRequest("TEST", "fails after sending")
            return pts

        return op

    blocker = asyncio.ensure_future(store.write(hold_the_writer))
    await asyncio.to_thread(started.wait, 10)
    ops = [put(1), put(1), put(2, fail=True), put(3), put(3), put(4)]
    tasks = [asyncio.ensure_future(store.write(op)) for op in ops]
    await asyncio.sleep(0)
    release.set()
    await blocker
    results = await asyncio.gather(*tasks, return_exceptions=True)

    assert results[0] == 1 and results[3] == 3 and results[5] == 4
    assert isinstance(results[1], Conflict) and isinstance(results[4], Conflict)
    assert isinstance(results[2], BadRequest)
    rows = await store.read(lambda tx: log.read_after(tx, 101, 0, 100))
    assert [p for p, _ in rows] == [1, 3, 4]
