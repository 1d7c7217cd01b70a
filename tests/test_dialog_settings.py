"""Pinned and muted chats through the running server, on SQLite and PostgreSQL:
messages.toggleDialogPin and account.updateNotifySettings, what messages.getDialogs says
about them, and the updates the user's other sessions get (pushed, and in the log)."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

import aiohttp
import pytest

from tests.server import TEST_CODE, Api, ServerProcess, next_test_phone
from tests.test_chats import U, chat, create, post

Json = dict[str, Any]
FOREVER = 2**31 - 1
_rid = itertools.count(40_000_000)


class Who(U):
    """A user, with their number (to sign in again: another session)."""

    def __init__(self, token: str, user: Json, phone: str) -> None:
        super().__init__(token, user)
        self.phone = phone


async def person(api: Api, name: str) -> Who:
    phone = next_test_phone()
    token, user = await api.sign_up(name, phone)
    return Who(token, user, phone)


async def other_session(api: Api, who: Who) -> str:
    sent = await api.ok("auth.sendCode", {"phone": who.phone})
    params = {"phone": who.phone, "phone_code_hash": sent["phone_code_hash"], "code": TEST_CODE}
    return str((await api.ok("auth.signIn", params))["token"])


async def say(api: Api, frm: Who, to: Who, text: str) -> None:
    params = {"peer": {"user_id": to.id}, "text": text, "random_id": next(_rid)}
    await api.ok("messages.sendMessage", params, frm.token)


def u(who: Who) -> Json:
    return {"user_id": who.id}


async def dialogs(api: Api, who: Who, **params: Any) -> list[Json]:
    return list((await api.ok("messages.getDialogs", params, who.token))["dialogs"])


def peers(ds: list[Json]) -> list[Json]:
    return [d["peer"] for d in ds]


def private(ds: list[Json]) -> list[Json]:
    """The private dialogs' peers in order (where a group falls among chats whose last
    messages share one second depends on ids, not on the order they were written)."""
    return [d["peer"] for d in ds if "user_id" in d["peer"]]


async def pin(api: Api, who: Who, peer: Json, pinned: bool = True) -> None:
    assert await api.ok("messages.toggleDialogPin", {"peer": peer, "pinned": pinned}, who.token)


async def mute(api: Api, who: Who, peer: Json, until: int) -> None:
    params = {"peer": peer, "mute_until": until}
    assert await api.ok("account.updateNotifySettings", params, who.token) is True


async def pts(api: Api, who: Who) -> int:
    return int((await api.ok("updates.getState", {}, who.token))["pts"])


async def world(api: Api) -> tuple[Who, list[Who], int]:
    """Ana with private chats with six people (the first one's is the oldest) and a group."""
    ana = await person(api, "Ana")
    friends = [await person(api, f"Friend {i}") for i in range(6)]
    for f in friends:
        await say(api, f, ana, f"hello from {f.id}")
    group = (await create(api, ana, broadcast=False, title="Pinned group"))["id"]
    return ana, friends, group


@pytest.fixture
def api_any(any_server: ServerProcess, http: aiohttp.ClientSession) -> Api:
    return Api(http, any_server.url)


async def test_pins_come_first_most_recent_on_top_up_to_five(api_any: Api) -> None:
    api = api_any
    ana, f, group = await world(api)
    by_date = [u(x) for x in reversed(f)]
    assert private(await dialogs(api, ana)) == by_date
    assert all("pinned" not in d and "mute_until" not in d for d in await dialogs(api, ana))

    await pin(api, ana, u(f[0]))
    await pin(api, ana, u(f[2]))
    await pin(api, ana, chat(group))
    ds = await dialogs(api, ana)
    assert peers(ds) == [chat(group), u(f[2]), u(f[0]), u(f[5]), u(f[4]), u(f[3]), u(f[1])]
    assert [d.get("pinned", False) for d in ds] == [True] * 3 + [False] * 4
    # A pinned group's dialog is whole: its pts and top message stay.
    assert ds[0]["pts"] >= 1 and ds[0]["top_message"] >= 1

    # A new message does not move a pinned chat; it moves the others as before.
    await say(api, f[0], ana, "news")
    await say(api, f[1], ana, "news too")
    assert peers(await dialogs(api, ana)) == [
        chat(group),
        u(f[2]),
        u(f[0]),
        u(f[1]),
        u(f[5]),
        u(f[4]),
        u(f[3]),
    ]

    # Pinning again changes nothing (no update); unpinning puts it back among the dated.
    before = await pts(api, ana)
    await pin(api, ana, u(f[2]))
    assert await pts(api, ana) == before
    await pin(api, ana, u(f[2]), False)
    assert await pts(api, ana) == before + 1
    await pin(api, ana, u(f[2]), False)
    assert await pts(api, ana) == before + 1
    assert peers(await dialogs(api, ana)) == [
        chat(group),
        u(f[0]),
        u(f[1]),
        u(f[5]),
        u(f[4]),
        u(f[3]),
        u(f[2]),
    ]

    # Five at most: the sixth is refused and changes nothing.
    for x in (f[3], f[4], f[5]):
        await pin(api, ana, u(x))
    before_pts, listed = await pts(api, ana), await dialogs(api, ana)
    assert sum(1 for d in listed if d.get("pinned")) == 5
    status, body = await api.call(
        "messages.toggleDialogPin", {"peer": u(f[1]), "pinned": True}, ana.token
    )
    assert (status, body["error"]["type"]) == (400, "PINNED_DIALOGS_TOO_MUCH")
    assert await dialogs(api, ana) == listed and await pts(api, ana) == before_pts
    # Unpinning one makes room again.
    await pin(api, ana, u(f[0]), False)
    await pin(api, ana, u(f[1]))
    assert peers(await dialogs(api, ana))[:5] == [u(f[1]), u(f[5]), u(f[4]), u(f[3]), chat(group)]


async def test_paging_gives_pinned_dialogs_once_on_the_first_page(api_any: Api) -> None:
    api = api_any
    ana, f, group = await world(api)
    await pin(api, ana, u(f[1]))
    await pin(api, ana, chat(group))
    await pin(api, ana, u(f[4]))
    seen: list[Json] = []
    params: Json = {"limit": 2}
    for _ in range(10):
        page = await api.ok("messages.getDialogs", params, ana.token)
        if not page["dialogs"]:
            break
        seen += page["dialogs"]
        last = page["dialogs"][-1]
        top = next(m for m in page["messages"] if m["peer"] == last["peer"])
        params = {
            "limit": 2,
            "offset_date": top["date"],
            "offset_id": last["top_message"],
            "offset_peer": last["peer"],
        }
    # The first page: the three pinned (not counted in its limit) and the two newest.
    assert peers(seen) == [u(f[4]), chat(group), u(f[1]), u(f[5]), u(f[3]), u(f[2]), u(f[0])]


async def test_mute_until_a_time_forever_and_unmute(api_any: Api) -> None:
    api = api_any
    ana, f, group = await world(api)
    soon = int(time.time()) + 3600
    await mute(api, ana, u(f[0]), soon)
    await mute(api, ana, chat(group), FOREVER)
    ds = {json.dumps(d["peer"]): d for d in await dialogs(api, ana)}
    assert ds[json.dumps(u(f[0]))]["mute_until"] == soon
    assert ds[json.dumps(chat(group))]["mute_until"] == FOREVER
    assert "mute_until" not in ds[json.dumps(u(f[1]))]
    # Muting does not pin or reorder; a muted chat still counts its unread messages.
    await say(api, f[0], ana, "while muted")
    first = (await dialogs(api, ana))[0]
    assert first["peer"] == u(f[0]) and first["unread_count"] == 2 and "pinned" not in first

    # The same mute again changes nothing; a time already past means unmuted.
    before = await pts(api, ana)
    await mute(api, ana, chat(group), FOREVER)
    assert await pts(api, ana) == before
    await mute(api, ana, u(f[0]), 1000)
    await mute(api, ana, chat(group), 0)
    assert await pts(api, ana) == before + 2
    assert all("mute_until" not in d for d in await dialogs(api, ana))

    # Pin and mute are independent: unpinning keeps the mute and the other way round.
    await mute(api, ana, u(f[3]), FOREVER)
    await pin(api, ana, u(f[3]))
    await mute(api, ana, u(f[3]), 0)
    d = (await dialogs(api, ana))[0]
    assert d["peer"] == u(f[3]) and d["pinned"] is True and "mute_until" not in d
    await mute(api, ana, u(f[3]), FOREVER)
    await pin(api, ana, u(f[3]), False)
    d = next(d for d in await dialogs(api, ana) if d["peer"] == u(f[3]))
    assert "pinned" not in d and d["mute_until"] == FOREVER


async def test_other_sessions_learn_it_from_the_log_and_live(
    any_server: ServerProcess, http: aiohttp.ClientSession
) -> None:
    api = Api(http, any_server.url)
    ana, f, group = await world(api)
    laptop = await other_session(api, ana)
    start = (await api.ok("updates.getState", {}, laptop))["pts"]
    async with http.ws_connect(f"{any_server.ws_url}?token={laptop}") as ws:
        await ws.send_str(json.dumps({"id": 1, "method": "updates.getState", "params": {}}))
        assert json.loads((await ws.receive(timeout=5)).data)["id"] == 1
        await pin(api, ana, chat(group))
        await mute(api, ana, u(f[2]), FOREVER)
        pushed: list[Json] = []
        while len(pushed) < 2:
            frame = json.loads((await ws.receive(timeout=5)).data)
            pushed += frame.get("updates", [])
    await pin(api, ana, chat(group), False)
    diff = await api.ok("updates.getDifference", {"pts": start}, laptop)
    got = diff["updates"]
    assert got == [
        {"type": "updateDialogPinned", "peer": chat(group), "pinned": True, "pts": start + 1},
        {"type": "updateNotifySettings", "peer": u(f[2]), "mute_until": FOREVER, "pts": start + 2},
        {"type": "updateDialogPinned", "peer": chat(group), "pinned": False, "pts": start + 3},
    ]
    assert pushed == got[:2]
    assert diff["state"]["pts"] == start + 3 and diff["slice"] is False


async def test_refusals_change_nothing(api_any: Api) -> None:
    api = api_any
    ana, f, group = await world(api)
    stranger = await person(api, "Stranger")  # no chat with Ana yet
    owner = await person(api, "Owner")
    private = (await create(api, owner, broadcast=False, title="Closed"))["id"]
    public = (await create(api, owner, broadcast=True, title="Open"))["id"]
    await api.ok(
        "channels.updateUsername",
        {"channel": chat(public), "username": f"open{public}x{owner.id}"},
        owner.token,
    )
    await post(api, owner, public, "a post")
    cases: list[tuple[str, Json, tuple[int, str]]] = []
    for method, extra in (
        ("messages.toggleDialogPin", {"pinned": True}),
        ("account.updateNotifySettings", {"mute_until": FOREVER}),
    ):
        cases += [
            (method, {"peer": {"user_id": 2**62}, **extra}, (400, "PEER_ID_INVALID")),
            (method, {"peer": {"chat_id": 2**62}, **extra}, (400, "CHANNEL_INVALID")),
            (method, {"peer": chat(private), **extra}, (403, "CHANNEL_PRIVATE")),
            (method, {"peer": chat(public), **extra}, (403, "USER_NOT_PARTICIPANT")),
            (method, {"peer": {}, **extra}, (400, "PEER_ID_INVALID")),
            (
                method,
                {"peer": {"user_id": f[0].id, "chat_id": group}, **extra},
                (400, "PEER_ID_INVALID"),
            ),
            (method, {"peer": {"user_id": 0}, **extra}, (400, "INPUT_INVALID")),
            (method, {"peer": "me", **extra}, (400, "INPUT_INVALID")),
            (method, {"peer": u(f[0])}, (400, "INPUT_INVALID")),
            (method, {"peer": u(f[0]), **extra, "folder": 1}, (400, "INPUT_INVALID")),
        ]
    cases += [
        # Nothing to pin yet: there is no chat with this person.
        (
            "messages.toggleDialogPin",
            {"peer": u(stranger), "pinned": True},
            (400, "PEER_ID_INVALID"),
        ),
        ("messages.toggleDialogPin", {"peer": u(f[0]), "pinned": "yes"}, (400, "INPUT_INVALID")),
        ("messages.toggleDialogPin", {"peer": u(f[0]), "pinned": 1}, (400, "INPUT_INVALID")),
        (
            "account.updateNotifySettings",
            {"peer": u(f[0]), "mute_until": -1},
            (400, "INPUT_INVALID"),
        ),
        (
            "account.updateNotifySettings",
            {"peer": u(f[0]), "mute_until": 2**31},
            (400, "INPUT_INVALID"),
        ),
        (
            "account.updateNotifySettings",
            {"peer": u(f[0]), "mute_until": "1h"},
            (400, "INPUT_INVALID"),
        ),
        (
            "account.updateNotifySettings",
            {"peer": u(f[0]), "mute_until": 1.5},
            (400, "INPUT_INVALID"),
        ),
    ]
    before = (await pts(api, ana), await dialogs(api, ana))
    for method, params, expected in cases:
        status, body = await api.call(method, params, ana.token)
        assert body["ok"] is False, (method, params, body)
        assert (status, body["error"]["type"]) == expected, (method, params, body)
        assert body["error"]["message"]
    assert (await pts(api, ana), await dialogs(api, ana)) == before
    # Without a session: 401, and nothing of anyone changes.
    status, body = await api.call("messages.toggleDialogPin", {"peer": u(f[0]), "pinned": True})
    assert (status, body["error"]["type"]) == (401, "AUTH_KEY_UNREGISTERED")
    assert (await pts(api, ana), await dialogs(api, ana)) == before


async def test_a_chat_left_loses_its_pin_when_room_is_needed(api_any: Api) -> None:
    api = api_any
    ana, f, group = await world(api)
    owner = await person(api, "Owner")
    other = (await create(api, owner, broadcast=False, title="Other group"))["id"]
    await api.ok(
        "channels.inviteToChannel", {"channel": chat(other), "users": [ana.id]}, owner.token
    )
    await pin(api, ana, chat(other))
    for x in f[:4]:
        await pin(api, ana, u(x))
    await api.ok("channels.leaveChannel", {"channel": chat(other)}, ana.token)
    assert sum(1 for d in await dialogs(api, ana) if d.get("pinned")) == 4
    # The pin of a chat no longer in the list does not count: a fifth fits...
    start = await pts(api, ana)
    await pin(api, ana, u(f[4]))
    diff = await api.ok("updates.getDifference", {"pts": start}, ana.token)
    assert [(x["type"], x["peer"], x["pinned"]) for x in diff["updates"]] == [
        ("updateDialogPinned", chat(other), False),  # the stale pin goes, and the log says so
        ("updateDialogPinned", u(f[4]), True),
    ]
    status, body = await api.call(
        "messages.toggleDialogPin", {"peer": chat(group), "pinned": True}, ana.token
    )
    assert (status, body["error"]["type"]) == (400, "PINNED_DIALOGS_TOO_MUCH")
    # ...a sixth does not, and coming back to the chat, it is not pinned.
    await api.ok(
        "channels.inviteToChannel", {"channel": chat(other), "users": [ana.id]}, owner.token
    )
    d = next(d for d in await dialogs(api, ana) if d["peer"] == chat(other))
    assert "pinned" not in d


async def test_concurrent_pins_never_pass_the_limit(api_any: Api) -> None:
    api = api_any
    ana, f, group = await world(api)
    peers = [chat(group), *(u(x) for x in f)]
    results = await asyncio.gather(
        *(
            api.call("messages.toggleDialogPin", {"peer": p, "pinned": True}, ana.token)
            for p in peers
        )
    )
    assert sorted(s for s, _ in results) == [200] * 5 + [400] * 2
    assert sum(1 for d in await dialogs(api, ana) if d.get("pinned")) == 5
