"""Groups and channels through the running server: rights, sync, live fan-out."""

from __future__ import annotations

import itertools
import json
from typing import Any

import aiohttp

from tests.server import Api, ServerProcess

_rid = itertools.count(1)


class U:
    def __init__(self, token: str, user: dict[str, Any]) -> None:
        self.token, self.id = token, int(user["id"])


async def new(api: Api, name: str) -> U:
    token, user = await api.sign_up(name)
    return U(token, user)


def chat(cid: int) -> dict[str, int]:
    return {"chat_id": cid}


async def create(api: Api, owner: U, broadcast: bool, title: str = "Chat") -> dict[str, Any]:
    res = await api.ok(
        "channels.createChannel", {"title": title, "broadcast": broadcast}, owner.token
    )
    return dict(res["chat"])


async def post(api: Api, who: U, cid: int, text: str) -> dict[str, Any]:
    body = {"peer": chat(cid), "text": text, "random_id": next(_rid)}
    return dict(await api.ok("messages.sendMessage", body, who.token))


async def err(api: Api, method: str, params: dict[str, Any], who: U) -> tuple[int, str]:
    status, body = await api.call(method, params, who.token)
    assert body["ok"] is False, body
    return status, str(body["error"]["type"])


async def test_group_members_post_and_everyone_sees_it_live(
    server: ServerProcess, api: Api, http: aiohttp.ClientSession
) -> None:
    a, b, c = await new(api, "A"), await new(api, "B"), await new(api, "C")
    g = await create(api, a, broadcast=False, title="گروه")
    assert g["type"] == "group" and g["role"] == "creator" and g["members_count"] == 1
    await api.ok("channels.inviteToChannel", {"channel": chat(g["id"]), "users": [b.id]}, a.token)
    async with http.ws_connect(f"{server.ws_url}?token={b.token}") as ws:
        # An answer on the socket means the session is bound (and attached to its chats).
        await ws.send_str(json.dumps({"id": 1, "method": "updates.getState", "params": {}}))
        assert json.loads((await ws.receive(timeout=5)).data)["id"] == 1
        sent = await post(api, a, g["id"], "سلام به همه")
        frame = json.loads((await ws.receive(timeout=5)).data)
        upd = frame["updates"][0]
        assert upd["type"] == "updateNewChannelMessage" and upd["chat_id"] == g["id"]
        assert upd["message"]["text"] == "سلام به همه" and upd["pts"] == sent["pts"]
    # b posts too; c (not a member) can neither post nor read the private group
    await post(api, b, g["id"], "hi")
    assert await err(
        api, "messages.sendMessage", {"peer": chat(g["id"]), "text": "x", "random_id": 1}, c
    ) == (403, "CHANNEL_PRIVATE")
    assert (await err(api, "messages.getHistory", {"peer": chat(g["id"])}, c))[
        1
    ] == "CHANNEL_PRIVATE"
    hist = await api.ok("messages.getHistory", {"peer": chat(g["id"])}, b.token)
    texts = [m["text"] for m in hist["messages"] if "action" not in m]
    assert texts == ["hi", "سلام به همه"]
    ds = await api.ok("messages.getDialogs", {}, b.token)
    d = next(d for d in ds["dialogs"] if d["peer"] == chat(g["id"]))
    assert d["pts"] >= 3 and d["unread_count"] == 1  # a's post; b's own is not unread
    assert any(ch["id"] == g["id"] for ch in ds["chats"])


async def test_channel_rights_are_enforced(api: Api) -> None:
    owner, sub, other = await new(api, "Owner"), await new(api, "Sub"), await new(api, "Other")
    ch = await create(api, owner, broadcast=True, title="News")
    cid = ch["id"]
    await api.ok(
        "channels.updateUsername", {"channel": chat(cid), "username": f"news{cid}x"}, owner.token
    )
    await api.ok("channels.joinChannel", {"channel": chat(cid)}, sub.token)
    assert await err(
        api, "messages.sendMessage", {"peer": chat(cid), "text": "x", "random_id": 5}, sub
    ) == (403, "CHAT_WRITE_FORBIDDEN")
    ban = {"channel": chat(cid), "user_id": other.id, "banned_rights": {"view_messages": True}}
    assert (await err(api, "channels.editBanned", ban, sub))[1] == "CHAT_ADMIN_REQUIRED"
    await api.ok("channels.editBanned", ban, owner.token)
    assert (await err(api, "channels.joinChannel", {"channel": chat(cid)}, other))[
        1
    ] == "CHANNEL_PRIVATE"
    assert (await err(api, "messages.getHistory", {"peer": chat(cid)}, other))[
        1
    ] == "CHANNEL_PRIVATE"
    # an admin with the post right may post; views count
    rights = {"post_messages": True}
    await api.ok(
        "channels.editAdmin",
        {"channel": chat(cid), "user_id": sub.id, "admin_rights": rights},
        owner.token,
    )
    sent = await post(api, sub, cid, "breaking")
    views = await api.ok(
        "messages.getMessagesViews", {"peer": chat(cid), "id": [sent["message"]["id"]]}, owner.token
    )
    assert views["views"] == [1]


async def test_offline_member_catches_up_in_slices(api: Api) -> None:
    a, b = await new(api, "Poster"), await new(api, "Reader")
    g = await create(api, a, broadcast=False)
    res = await api.ok(
        "channels.inviteToChannel", {"channel": chat(g["id"]), "users": [b.id]}, a.token
    )
    start = res["chat"]["pts"]
    for i in range(250):
        await post(api, a, g["id"], f"m{i}")
    seen: list[str] = []
    pts = start
    for _ in range(10):
        diff = await api.ok(
            "updates.getChannelDifference",
            {"channel": chat(g["id"]), "pts": pts, "limit": 100},
            b.token,
        )
        for u in diff["updates"]:
            assert u["pts"] == pts + 1
            pts = u["pts"]
            seen.append(u["message"]["text"])
        if diff["final"]:
            break
    assert seen == [f"m{i}" for i in range(250)]
