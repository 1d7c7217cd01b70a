"""Private chats over the real doors: send, history, dialogs, reads, edits, deletes, typing,
and the update log (getDifference) that carries them."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from tests.server import TEST_CODE, Api, ServerProcess

_random_ids = itertools.count(1_000)

# Persian with ZWNJ (U+200C), RTL/LTR marks, an embedding, emoji with skin tone and ZWJ.
PERSIAN = (
    "می\u200cخواهم \u200fسلام\u200e دنیا! 👋🏽 👨\u200d👩\u200d👧 "
    "«کتاب\u200cها» \u202bRTL\u202c ۱۲۳ ك ي \u064e"
)


@dataclass(frozen=True)
class Who:
    token: str
    id: int
    phone: str


async def user(api: Api, name: str) -> Who:
    token, u = await api.sign_up(name)
    return Who(token, int(u["id"]), str(u["phone"]))


async def second_session(api: Api, who: Who) -> str:
    sent = await api.ok("auth.sendCode", {"phone": who.phone})
    params = {"phone": who.phone, "phone_code_hash": sent["phone_code_hash"], "code": TEST_CODE}
    return str((await api.ok("auth.signIn", params))["token"])


def peer(who: Who) -> dict[str, int]:
    return {"user_id": who.id}


async def send(
    api: Api, frm: Who, to: Who, text: str, random_id: int | None = None, **extra: Any
) -> dict[str, Any]:
    rid = next(_random_ids) if random_id is None else random_id
    params = {"peer": peer(to), "text": text, "random_id": rid, **extra}
    result: dict[str, Any] = await api.ok("messages.sendMessage", params, frm.token)
    return result


async def history(api: Api, who: Who, other: Who, **kw: int) -> dict[str, Any]:
    result: dict[str, Any] = await api.ok(
        "messages.getHistory", {"peer": peer(other), **kw}, who.token
    )
    return result


async def ids(api: Api, who: Who, other: Who, **kw: int) -> list[int]:
    return [msg["id"] for msg in (await history(api, who, other, **kw))["messages"]]


async def pts(api: Api, who: Who) -> int:
    return int((await api.ok("updates.getState", {}, who.token))["pts"])


async def updates_after(api: Api, who: Who, after: int) -> list[dict[str, Any]]:
    diff = await api.ok("updates.getDifference", {"pts": after}, who.token)
    assert diff["slice"] is False
    found: list[dict[str, Any]] = diff["updates"]
    return found


async def dialogs(api: Api, who: Who) -> dict[str, Any]:
    result: dict[str, Any] = await api.ok("messages.getDialogs", {}, who.token)
    return result


def dialog_with(ds: dict[str, Any], other: Who) -> dict[str, Any]:
    found: list[dict[str, Any]] = [d for d in ds["dialogs"] if d["peer"] == peer(other)]
    assert len(found) == 1, ds
    return found[0]


async def next_update(
    ws: aiohttp.ClientWebSocketResponse,
    want: Callable[[dict[str, Any]], bool],
    max_frames: int = 20,
) -> dict[str, Any]:
    """The first pushed update that `want` accepts (others are skipped), within a bound."""
    for _ in range(max_frames):
        msg = await ws.receive(timeout=10)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        frame = json.loads(msg.data)
        for upd in frame.get("updates", []):
            if want(upd):
                return dict(upd)
    raise AssertionError("the expected update was not pushed")


def incoming(u: dict[str, Any]) -> bool:
    return u.get("type") == "updateNewMessage" and u["message"].get("out", False) is False


def of_type(type_: str) -> Callable[[dict[str, Any]], bool]:
    return lambda u: u.get("type") == type_


def assert_error(status: int, body: Any, code: int, type_: str) -> None:
    assert status == code, (status, body)
    assert body["ok"] is False and body["error"]["type"] == type_, body


# -- sending ------------------------------------------------------------------------------
async def test_persian_text_is_kept_exactly_both_ways(
    server: ServerProcess, api: Api, http: aiohttp.ClientSession
) -> None:
    a, b = await user(api, "علی"), await user(api, "بیتا")
    async with (
        http.ws_connect(server.ws_url + f"?token={a.token}") as wa,
        http.ws_connect(server.ws_url + f"?token={b.token}") as wb,
    ):
        for frm, to, ws_to, text in [(a, b, wb, PERSIAN), (b, a, wa, PERSIAN[::-1])]:
            before = await pts(api, to)
            sent = await send(api, frm, to, text)
            assert sent["message"]["text"] == text and sent["message"]["out"] is True
            pushed = await next_update(ws_to, incoming)
            assert pushed["message"]["text"].encode() == text.encode()
            assert (
                pushed["message"].get("out", False) is False
                and pushed["message"]["from_id"] == frm.id
            )
            logged = await updates_after(api, to, before)
            assert [u["message"]["text"] for u in logged] == [text]
            theirs = (await history(api, to, frm))["messages"][0]
            mine = (await history(api, frm, to))["messages"][0]
            assert theirs["text"].encode() == mine["text"].encode() == text.encode()
    # The raw HTTP body carries the UTF-8 bytes themselves.
    async with http.post(
        f"{server.url}/api/messages.getHistory",
        json={"peer": peer(b)},
        headers={"Authorization": f"Bearer {a.token}"},
    ) as r:
        raw = await r.read()
    assert PERSIAN.encode() in raw


async def test_random_id_makes_sending_idempotent(api: Api) -> None:
    a, b = await user(api, "Retry"), await user(api, "Peer")
    first = await send(api, a, b, "once", random_id=42)
    a_pts, b_pts = await pts(api, a), await pts(api, b)
    again = await send(api, a, b, "once", random_id=42)
    changed = await send(api, a, b, "a different text", random_id=42)
    assert again == first and changed == first
    assert (await pts(api, a), await pts(api, b)) == (a_pts, b_pts)
    assert (await history(api, a, b))["count"] == 1
    assert await ids(api, b, a) == [1]
    # The same random_id from another sender is another message.
    other = await send(api, b, a, "mine", random_id=42)
    assert other["message"]["text"] == "mine" and other["message"]["from_id"] == b.id
    assert [m["text"] for m in (await history(api, a, b))["messages"]] == ["mine", "once"]


async def test_concurrent_retries_make_one_message(api: Api) -> None:
    a, b = await user(api, "Hasty"), await user(api, "Patient")
    params = {"peer": peer(b), "text": "just once", "random_id": 7}
    results = await asyncio.gather(
        *(api.ok("messages.sendMessage", params, a.token) for _ in range(8))
    )
    assert all(r == results[0] for r in results)
    assert (await history(api, a, b))["count"] == 1
    assert (await history(api, b, a))["count"] == 1
    assert await pts(api, a) == results[0]["pts"] == 1


async def test_message_length_limit(api: Api) -> None:
    a, b = await user(api, "Long"), await user(api, "Reader")
    longest = "ش" * 4096
    sent = await send(api, a, b, longest)
    assert sent["message"]["text"] == longest
    for text, error in [
        ("ش" * 4097, "MESSAGE_TOO_LONG"),
        ("", "MESSAGE_EMPTY"),
        (" \n\t", "MESSAGE_EMPTY"),
    ]:
        status, body = await api.call(
            "messages.sendMessage",
            {"peer": peer(b), "text": text, "random_id": next(_random_ids)},
            a.token,
        )
        assert_error(status, body, 400, error)
    assert (await history(api, b, a))["count"] == 1


async def test_reply_points_at_each_side_own_copy(api: Api) -> None:
    a, b = await user(api, "Asker"), await user(api, "Answerer")
    await send(api, a, a, "note to self")  # A's ids now run one ahead of B's
    question = await send(api, a, b, "چطوری؟")
    a_q = question["message"]["id"]
    b_q = (await history(api, b, a))["messages"][0]["id"]
    assert a_q != b_q
    before = await pts(api, a)
    reply = await send(api, b, a, "خوبم", reply_to=b_q)
    assert reply["message"]["reply_to"] == b_q
    got = await updates_after(api, a, before)
    assert got[0]["message"]["reply_to"] == a_q and got[0]["message"]["text"] == "خوبم"
    assert (await history(api, a, b))["messages"][0]["reply_to"] == a_q
    # Replying to a message of another chat, or to none, is refused.
    c = await user(api, "Third")
    for bad in [a_q + 100, 1]:
        status, body = await api.call(
            "messages.sendMessage",
            {"peer": peer(c), "text": "x", "random_id": next(_random_ids), "reply_to": bad},
            b.token,
        )
        assert_error(status, body, 400, "REPLY_MESSAGE_ID_INVALID")


# -- history and dialogs ----------------------------------------------------------------
async def test_history_pages_both_ways(api: Api) -> None:
    a, b = await user(api, "Pager"), await user(api, "Paged")
    for i in range(10):
        await send(api, a, b, f"m{i}")
    assert await ids(api, a, b) == list(range(10, 0, -1))
    page = await history(api, a, b, limit=3)
    assert [m["id"] for m in page["messages"]] == [10, 9, 8] and page["count"] == 10
    assert {u["id"] for u in page["users"]} == {a.id, b.id}
    # Older: offset_id is exclusive.
    assert await ids(api, a, b, offset_id=8, limit=3) == [7, 6, 5]
    assert await ids(api, a, b, offset_id=0, add_offset=2, limit=3) == [8, 7, 6]
    assert await ids(api, a, b, offset_id=8, add_offset=1, limit=3) == [6, 5, 4]
    assert await ids(api, a, b, offset_id=2, limit=5) == [1]
    # Around and newer: a negative add_offset reaches ids at or above offset_id.
    assert await ids(api, a, b, offset_id=5, add_offset=-2, limit=4) == [6, 5, 4, 3]
    assert await ids(api, a, b, offset_id=5, add_offset=-3, limit=3) == [7, 6, 5]
    # Near the newest end the window is cut short (Telegram: offset + add_offset < 0).
    assert await ids(api, a, b, offset_id=9, add_offset=-3, limit=3) == [10, 9]
    assert await ids(api, a, b, offset_id=11, add_offset=-3, limit=3) == []
    status, body = await api.call(
        "messages.getHistory", {"peer": peer(b), "add_offset": -4, "limit": 3}, a.token
    )
    assert_error(status, body, 400, "ADD_OFFSET_INVALID")
    # Walking down from the newest and up from the oldest each see every message once.
    down: list[int] = []
    offset = 0
    for _ in range(10):
        page_ids = await ids(api, a, b, offset_id=offset, limit=3)
        if not page_ids:
            break
        down += page_ids
        offset = page_ids[-1]
    assert down == list(range(10, 0, -1))
    up: list[int] = []
    offset = 1
    for _ in range(10):
        page_ids = await ids(api, a, b, offset_id=offset, add_offset=-3, limit=3)
        if not page_ids:
            break
        up += reversed(page_ids)
        offset = page_ids[0] + 1
    assert up == list(range(1, 11))


async def test_dialogs_are_ordered_by_last_message_with_unread_counts(api: Api) -> None:
    me, x, y, z = [await user(api, n) for n in ["Me", "X", "Y", "Z"]]
    await send(api, x, me, "from x 1")
    await send(api, y, me, "from y")
    await send(api, x, me, "from x 2")
    await send(api, me, z, "to z")
    ds = await dialogs(api, me)
    assert [d["peer"] for d in ds["dialogs"]] == [peer(z), peer(x), peer(y)]
    assert [dialog_with(ds, o)["unread_count"] for o in (z, x, y)] == [0, 2, 1]
    tops = {m["id"] for m in ds["messages"]}
    assert tops == {d["top_message"] for d in ds["dialogs"]}
    assert {u["id"] for u in ds["users"]} == {me.id, x.id, y.id, z.id}
    assert ds["state"]["pts"] == await pts(api, me)
    # A new message moves its chat to the top; paging by offset_id continues below.
    await send(api, y, me, "from y again")
    ds = await dialogs(api, me)
    assert [d["peer"] for d in ds["dialogs"]] == [peer(y), peer(z), peer(x)]
    assert dialog_with(ds, y)["unread_count"] == 2
    first = await api.ok("messages.getDialogs", {"limit": 1}, me.token)
    assert [d["peer"] for d in first["dialogs"]] == [peer(y)]
    rest = await api.ok(
        "messages.getDialogs", {"offset_id": first["dialogs"][0]["top_message"]}, me.token
    )
    assert [d["peer"] for d in rest["dialogs"]] == [peer(z), peer(x)]


async def test_read_history_sends_receipts_and_syncs_other_sessions(
    server: ServerProcess, api: Api, http: aiohttp.ClientSession
) -> None:
    a, b = await user(api, "Writer"), await user(api, "Reader")
    await send(api, a, a, "saved")  # A's ids run one ahead of B's copies
    sent = [(await send(api, a, b, f"m{i}"))["message"]["id"] for i in range(3)]
    b_ids = sorted(await ids(api, b, a))
    assert dialog_with(await dialogs(api, b), a)["unread_count"] == 3
    b_other = await second_session(api, b)
    async with (
        http.ws_connect(server.ws_url + f"?token={a.token}") as wa,
        http.ws_connect(server.ws_url + f"?token={b_other}") as wb,
    ):
        res = await api.ok("messages.readHistory", {"peer": peer(a), "max_id": b_ids[1]}, b.token)
        assert res["pts_count"] == 1
        inbox = await next_update(wb, of_type("updateReadHistoryInbox"))
        assert inbox["peer"] == peer(a) and inbox["max_id"] == b_ids[1]
        assert inbox["still_unread_count"] == 1 and inbox["pts"] == res["pts"]
        outbox = await next_update(wa, of_type("updateReadHistoryOutbox"))
        assert outbox["peer"] == peer(b) and outbox["max_id"] == sent[1]
    bd = dialog_with(await dialogs(api, b), a)
    assert bd["unread_count"] == 1 and bd["read_inbox_max_id"] == b_ids[1]
    assert dialog_with(await dialogs(api, a), b)["read_outbox_max_id"] == sent[1]
    # max_id 0 reads everything; the receipt names A's newest message.
    a_before = await pts(api, a)
    await api.ok("messages.readHistory", {"peer": peer(a), "max_id": 0}, b.token)
    assert dialog_with(await dialogs(api, b), a)["unread_count"] == 0
    receipts = await updates_after(api, a, a_before)
    assert [(u["type"], u["max_id"]) for u in receipts] == [("updateReadHistoryOutbox", sent[2])]
    # Reading again changes nothing and logs nothing.
    b_before, a_before = await pts(api, b), await pts(api, a)
    again = await api.ok("messages.readHistory", {"peer": peer(a), "max_id": 0}, b.token)
    assert again["pts_count"] == 0 and again["pts"] == b_before
    assert (await pts(api, b), await pts(api, a)) == (b_before, a_before)


# -- edit and delete ---------------------------------------------------------------------
async def test_edit_by_sender_updates_both_copies_and_logs(api: Api) -> None:
    a, b = await user(api, "Editor"), await user(api, "Viewer")
    await send(api, b, b, "B's own note")  # B's ids run one ahead of A's
    a_id = (await send(api, a, b, "سلام"))["message"]["id"]
    b_id = (await history(api, b, a))["messages"][0]["id"]
    a_before, b_before = await pts(api, a), await pts(api, b)
    status, body = await api.call(
        "messages.editMessage", {"peer": peer(a), "id": b_id, "text": "hijack"}, b.token
    )
    assert_error(status, body, 403, "MESSAGE_AUTHOR_REQUIRED")
    status, body = await api.call(
        "messages.editMessage", {"peer": peer(b), "id": a_id, "text": "سلام"}, a.token
    )
    assert_error(status, body, 400, "MESSAGE_NOT_MODIFIED")
    status, body = await api.call(
        "messages.editMessage", {"peer": peer(a), "id": a_id, "text": "x"}, a.token
    )  # the right id in the wrong chat
    assert_error(status, body, 400, "MESSAGE_ID_INVALID")
    assert (await pts(api, a), await pts(api, b)) == (a_before, b_before)
    edited = await api.ok(
        "messages.editMessage", {"peer": peer(b), "id": a_id, "text": "سلام، دوباره"}, a.token
    )
    assert edited["message"]["text"] == "سلام، دوباره" and edited["message"]["edit_date"]
    mine, theirs = await updates_after(api, a, a_before), await updates_after(api, b, b_before)
    assert [(u["type"], u["message"]["id"]) for u in mine] == [("updateEditMessage", a_id)]
    assert [(u["type"], u["message"]["id"]) for u in theirs] == [("updateEditMessage", b_id)]
    assert (
        theirs[0]["message"]["text"] == "سلام، دوباره"
        and theirs[0]["message"].get("out", False) is False
    )
    assert (await history(api, b, a))["messages"][0]["text"] == "سلام، دوباره"
    assert (await history(api, a, b))["messages"][0]["edit_date"] == edited["message"]["edit_date"]


async def test_delete_for_me_keeps_the_peer_copy(api: Api) -> None:
    a, b = await user(api, "Deleter"), await user(api, "Keeper")
    a_id = (await send(api, a, b, "oops"))["message"]["id"]
    await send(api, a, b, "stays")
    a_before, b_before = await pts(api, a), await pts(api, b)
    res = await api.ok("messages.deleteMessages", {"id": [a_id]}, a.token)
    assert res["pts"] == a_before + 1
    assert await ids(api, a, b) == [a_id + 1]
    assert [m["text"] for m in (await history(api, b, a))["messages"]] == ["stays", "oops"]
    assert await updates_after(api, a, a_before) == [
        {"type": "updateDeleteMessages", "messages": [a_id], "pts": a_before + 1}
    ]
    assert await pts(api, b) == b_before
    # Deleting it again: it is no longer in the box.
    status, body = await api.call("messages.deleteMessages", {"id": [a_id]}, a.token)
    assert_error(status, body, 400, "MESSAGE_ID_INVALID")


async def test_revoke_deletes_both_copies(api: Api) -> None:
    a, b = await user(api, "Revoker"), await user(api, "Other")
    await send(api, b, b, "B note")
    await send(api, a, b, "first")
    a_id = (await send(api, a, b, "secret"))["message"]["id"]
    b_id = (await history(api, b, a))["messages"][0]["id"]
    assert a_id != b_id
    a_before, b_before = await pts(api, a), await pts(api, b)
    await api.ok("messages.deleteMessages", {"id": [a_id], "revoke": True}, a.token)
    assert [m["text"] for m in (await history(api, a, b))["messages"]] == ["first"]
    assert [m["text"] for m in (await history(api, b, a))["messages"]] == ["first"]
    mine, theirs = await updates_after(api, a, a_before), await updates_after(api, b, b_before)
    assert [(u["type"], u["messages"]) for u in mine] == [("updateDeleteMessages", [a_id])]
    assert [(u["type"], u["messages"]) for u in theirs] == [("updateDeleteMessages", [b_id])]
    # The dialog now tops at the remaining message, and disappears when the chat is empty.
    assert dialog_with(await dialogs(api, b), a)["top_message"] == b_id - 1
    rest = await ids(api, a, b)
    await api.ok("messages.deleteMessages", {"id": rest, "revoke": True}, a.token)
    assert [d for d in (await dialogs(api, a))["dialogs"] if d["peer"] == peer(b)] == []
    assert [d for d in (await dialogs(api, b))["dialogs"] if d["peer"] == peer(a)] == []


async def test_deleting_unread_messages_fixes_the_unread_count(api: Api) -> None:
    a, b = await user(api, "Noisy"), await user(api, "Quiet")
    a_ids = [(await send(api, a, b, f"n{i}"))["message"]["id"] for i in range(3)]
    await api.ok("messages.deleteMessages", {"id": a_ids[:2], "revoke": True}, a.token)
    assert dialog_with(await dialogs(api, b), a)["unread_count"] == 1


# -- ephemeral and the log ----------------------------------------------------------------
async def test_typing_is_pushed_but_never_logged(
    server: ServerProcess, api: Api, http: aiohttp.ClientSession
) -> None:
    a, b = await user(api, "Typer"), await user(api, "Watcher")
    b_before = await pts(api, b)
    async with http.ws_connect(server.ws_url + f"?token={b.token}") as wb:
        # One answered call first: the socket is then bound and subscribed (a typing push
        # is not logged, so one sent before that would be gone for good).
        await wb.send_json({"id": 1, "method": "updates.getState", "params": {}})
        assert json.loads((await wb.receive(timeout=10)).data)["ok"] is True
        assert await api.ok("messages.setTyping", {"peer": peer(b)}, a.token) is True
        frame = json.loads((await wb.receive(timeout=10)).data)
        assert set(frame) == {"updates"} and len(frame["updates"]) == 1, frame
        typing = frame["updates"][0]
        assert typing["type"] == "updateUserTyping" and typing["user_id"] == a.id
        assert typing["action"] == "typing" and "pts" not in typing
        await api.ok("messages.setTyping", {"peer": peer(b), "action": "cancel"}, a.token)
        cancel = await next_update(wb, of_type("updateUserTyping"))
        assert cancel["action"] == "cancel" and "pts" not in cancel
    assert await pts(api, b) == b_before
    assert await updates_after(api, b, b_before) == []
    status, body = await api.call(
        "messages.setTyping", {"peer": peer(b), "action": "dancing"}, a.token
    )
    assert status == 400 and body["error"]["type"] == "INPUT_INVALID"


async def test_get_difference_comes_in_slices(api: Api) -> None:
    a, b = await user(api, "Flood"), await user(api, "Catcher")
    texts = [f"s{i}" for i in range(5)]
    for t in texts:
        await send(api, a, b, t)
    head = await pts(api, b)
    seen: list[str] = []
    cursor = 0
    for _ in range(10):
        diff = await api.ok("updates.getDifference", {"pts": cursor, "limit": 2}, b.token)
        assert len(diff["updates"]) <= 2
        assert [u["pts"] for u in diff["updates"]] == list(
            range(cursor + 1, cursor + 1 + len(diff["updates"]))
        )
        seen += [u["message"]["text"] for u in diff["updates"]]
        cursor = diff["state"]["pts"]
        if not diff["slice"]:
            break
    assert seen == texts and cursor == head
    status, body = await api.call("updates.getDifference", {"pts": head + 1}, b.token)
    assert_error(status, body, 400, "PERSISTENT_TIMESTAMP_INVALID")


async def test_long_poll_returns_when_a_message_arrives(api: Api) -> None:
    a, b = await user(api, "Late"), await user(api, "Waiter")
    head = await pts(api, b)
    poll = asyncio.ensure_future(
        api.ok("updates.getDifference", {"pts": head, "timeout": 30}, b.token)
    )
    await asyncio.sleep(0.2)  # let the poll start waiting (correct either way)
    await send(api, a, b, "ding")
    diff = await asyncio.wait_for(poll, 30)
    assert [u["message"]["text"] for u in diff["updates"]] == ["ding"]
    assert diff["state"]["pts"] == head + 1
    # With nothing new, a short poll ends empty at the same pts.
    empty = await api.ok("updates.getDifference", {"pts": head + 1, "timeout": 0.2}, b.token)
    assert empty["updates"] == [] and empty["state"]["pts"] == head + 1


async def test_saved_messages_keep_one_copy(api: Api) -> None:
    a = await user(api, "Self")
    before = await pts(api, a)
    first = await send(api, a, a, "یادداشت")
    reply = await send(api, a, a, "پاسخ", reply_to=first["message"]["id"])
    assert reply["message"]["reply_to"] == first["message"]["id"]
    h = await history(api, a, a)
    assert h["count"] == 2 and all(m["out"] for m in h["messages"])
    assert [u["type"] for u in await updates_after(api, a, before)] == ["updateNewMessage"] * 2
    d = dialog_with(await dialogs(api, a), a)
    assert d["unread_count"] == 0 and d["top_message"] == reply["message"]["id"]
    await api.ok("messages.readHistory", {"peer": peer(a), "max_id": 0}, a.token)
    edited = await api.ok(
        "messages.editMessage",
        {"peer": peer(a), "id": first["message"]["id"], "text": "ویرایش"},
        a.token,
    )
    assert edited["message"]["text"] == "ویرایش"
    await api.ok(
        "messages.deleteMessages", {"id": [first["message"]["id"]], "revoke": True}, a.token
    )
    assert await ids(api, a, a) == [reply["message"]["id"]]


@pytest.mark.parametrize("bad_peer", [{"user_id": 10**15}, {"chat_id": 10**15}, {}])
async def test_sending_to_an_invalid_peer_is_refused(api: Api, bad_peer: dict[str, int]) -> None:
    a = await user(api, "Lost")
    before = await pts(api, a)
    status, body = await api.call(
        "messages.sendMessage",
        {"peer": bad_peer, "text": "anyone?", "random_id": next(_random_ids)},
        a.token,
    )
    assert status == 400 and body["ok"] is False, body
    # A chat id names a group or channel (which has its own error for "no such chat").
    assert body["error"]["type"] in {"PEER_ID_INVALID", "CHANNEL_INVALID", "CHAT_ID_INVALID"}
    assert await pts(api, a) == before
    assert (await dialogs(api, a))["dialogs"] == []
