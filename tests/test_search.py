"""Search through the running server, on SQLite and PostgreSQL: Persian normalisation on
write and query, scoping to what the user may read."""

from __future__ import annotations

import itertools
from typing import Any

import aiohttp
import pytest

from chapar.domain.persian import normalize, words
from tests.server import Api, ServerProcess

_rid = itertools.count(10_000)


@pytest.mark.parametrize(
    ("written", "typed"),
    [
        ("كتاب", "کتاب"),  # Arabic kaf and yeh vs Persian
        ("مي‌روم", "میروم"),  # ZWNJ inside a word
        ("مَدرِسه", "مدرسه"),  # harakat
        ("ســـلام", "سلام"),  # tatweel
        ("۱۲۳ تومان", "123 تومان"),  # Persian digits
        ("٤٥٦", "456"),  # Arabic-Indic digits
        ("Hello", "hello"),
    ],
)
def test_normalisation_makes_variants_equal(written: str, typed: str) -> None:
    assert normalize(written) == normalize(typed)
    assert words(written) == words(typed)


async def test_search_finds_persian_variants_only_where_the_user_may_read(
    any_server: ServerProcess, http: aiohttp.ClientSession
) -> None:
    api = Api(http, any_server.url)
    ta, _a = await api.sign_up("Sara")
    tb, b = await api.sign_up("Omid")
    tc, _ = await api.sign_up("Outsider")

    async def send(token: str, peer: dict[str, int], text: str) -> dict[str, Any]:
        body = {"peer": peer, "text": text, "random_id": next(_rid)}
        return dict(await api.ok("messages.sendMessage", body, token))

    await send(ta, {"user_id": b["id"]}, "كتابِ خوبي مي‌خوانم")
    g = (await api.ok("channels.createChannel", {"title": "کتابخوان‌ها", "broadcast": False}, ta))[
        "chat"
    ]
    await send(ta, {"chat_id": g["id"]}, "جلسه‌ی كتاب ساعت ۱۸")
    await send(ta, {"user_id": b["id"]}, "nothing relevant")

    found = await api.ok("messages.search", {"q": "کتاب"}, ta)
    assert sorted(m["text"] for m in found["messages"]) == sorted(
        ["كتابِ خوبي مي‌خوانم", "جلسه‌ی كتاب ساعت ۱۸"]
    )
    # prefix of the last word, Latin digits for Persian ones, ZWNJ-free typing
    assert [
        m["text"] for m in (await api.ok("messages.search", {"q": "ساعت 18"}, ta))["messages"]
    ] == ["جلسه‌ی كتاب ساعت ۱۸"]
    assert len((await api.ok("messages.search", {"q": "میخوا"}, tb))["messages"]) == 1
    in_group = await api.ok("messages.search", {"q": "کتاب", "peer": {"chat_id": g["id"]}}, ta)
    assert [m["peer"] for m in in_group["messages"]] == [{"chat_id": g["id"]}]
    # b is not in the group; c sees nothing of anyone's
    assert len((await api.ok("messages.search", {"q": "کتاب"}, tb))["messages"]) == 1
    assert (await api.ok("messages.search", {"q": "کتاب"}, tc))["messages"] == []
    status, body = await api.call(
        "messages.search", {"q": "کتاب", "peer": {"chat_id": g["id"]}}, tc
    )
    assert status == 403 and body["error"]["type"] == "CHANNEL_PRIVATE"
    # FTS syntax in a query is just text
    assert (await api.ok("messages.search", {"q": '"کتاب"*:('}, ta))["messages"]
    status, body = await api.call("messages.search", {"q": "  ‌ "}, ta)
    assert status == 400 and body["error"]["type"] == "SEARCH_QUERY_EMPTY"


async def test_people_and_public_chats_by_name(
    any_server: ServerProcess, http: aiohttp.ClientSession
) -> None:
    api = Api(http, any_server.url)
    ta, _a = await api.sign_up("Searcher")
    tb, b = await api.sign_up("علي")
    uname = f"ali{b['id']}"
    await api.ok("account.updateUsername", {"username": uname}, tb)
    ch = (await api.ok("channels.createChannel", {"title": "اخبار كتاب", "broadcast": True}, tb))[
        "chat"
    ]
    await api.ok(
        "channels.updateUsername",
        {"channel": {"chat_id": ch["id"]}, "username": f"books{ch['id']}"},
        tb,
    )
    private = (
        await api.ok("channels.createChannel", {"title": "کتاب مخفی", "broadcast": True}, tb)
    )["chat"]

    by_username = await api.ok("contacts.search", {"q": "@" + uname.upper()}, ta)
    assert [u["id"] for u in by_username["users"]] == [b["id"]]
    assert "phone" not in by_username["users"][0]
    chats = await api.ok("contacts.search", {"q": "اخبار کتاب"}, ta)
    ids = [c["id"] for c in chats["chats"]]
    assert ch["id"] in ids and private["id"] not in ids
    # by name only once they are a contact (names are not a public directory), with ي/ی unified
    assert b["id"] not in [
        u["id"] for u in (await api.ok("contacts.search", {"q": "علی"}, ta))["users"]
    ]
    await api.ok("contacts.importContacts", {"contacts": [{"phone": b["phone"]}]}, ta)
    assert b["id"] in [
        u["id"] for u in (await api.ok("contacts.search", {"q": "علی"}, ta))["users"]
    ]
    assert (await api.ok("contacts.search", {"q": "zzzz-nobody"}, ta)) == {"users": [], "chats": []}


async def test_private_search_follows_each_sides_copy(
    any_server: ServerProcess, http: aiohttp.ClientSession
) -> None:
    api = Api(http, any_server.url)
    ta, _a = await api.sign_up("A")
    tb, b = await api.sign_up("B")
    tc, c = await api.sign_up("C")
    body = {"peer": {"user_id": b["id"]}, "text": "پرتقال شیرین", "random_id": next(_rid)}
    sent = await api.ok("messages.sendMessage", body, ta)
    other = {"peer": {"user_id": c["id"]}, "text": "پرتقال ترش", "random_id": next(_rid)}
    await api.ok("messages.sendMessage", other, ta)

    async def texts(token: str, peer: dict[str, int] | None = None) -> list[str]:
        q: dict[str, Any] = {"q": "پرتقال"} | ({"peer": peer} if peer else {})
        return sorted(m["text"] for m in (await api.ok("messages.search", q, token))["messages"])

    assert await texts(ta) == ["پرتقال ترش", "پرتقال شیرین"]
    assert await texts(ta, {"user_id": b["id"]}) == ["پرتقال شیرین"]
    assert await texts(tb) == ["پرتقال شیرین"]
    # the sender deletes their copy only: the receiver still finds theirs
    await api.ok("messages.deleteMessages", {"id": [sent["message"]["id"]]}, ta)
    assert await texts(ta) == ["پرتقال ترش"]
    found = (await api.ok("messages.search", {"q": "پرتقال"}, tb))["messages"]
    assert [m["text"] for m in found] == ["پرتقال شیرین"]
    # once both copies are gone, so is the entry
    await api.ok("messages.deleteMessages", {"id": [found[0]["id"]]}, tb)
    assert await texts(tb) == []
    # an edit is found by its new words, not its old ones
    to_c = next(m for m in (await api.ok("messages.search", {"q": "ترش"}, ta))["messages"])
    edit = {"peer": {"user_id": c["id"]}, "id": to_c["id"], "text": "انار ترش"}
    await api.ok("messages.editMessage", edit, ta)
    assert await texts(tc) == []
    assert [
        m["text"] for m in (await api.ok("messages.search", {"q": "انار"}, tc))["messages"]
    ] == ["انار ترش"]
