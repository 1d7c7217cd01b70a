"""Presence through running servers: online while a WebSocket lives, last seen after,
pushed to the people one chats with; and across two nodes on PostgreSQL + Redis."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from tests.server import Api, ServerProcess
from tests.test_cluster import two_nodes  # noqa: F401  (a fixture)

WAIT = 10.0


async def chat_pair(api: Api, a_name: str, b_name: str) -> tuple[str, int, str, int]:
    """Two new users with a private chat between them: (token a, id a, token b, id b)."""
    ta, a = await api.sign_up(a_name)
    tb, b = await api.sign_up(b_name)
    body = {"peer": {"user_id": b["id"]}, "text": "hi", "random_id": 1}
    await api.ok("messages.sendMessage", body, ta)
    return ta, a["id"], tb, b["id"]


async def next_status(
    ws: aiohttp.ClientWebSocketResponse, user_id: int, want: str | None = None, wait: float = WAIT
) -> dict[str, Any]:
    """The next updateUserStatus about user_id (of type ``want``) on ws; other frames are
    skipped."""
    async with asyncio.timeout(wait):
        while True:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            for u in json.loads(msg.data).get("updates", ()):
                if u["type"] == "updateUserStatus" and u["user_id"] == user_id:
                    assert "pts" not in u
                    status: dict[str, Any] = u["status"]
                    if want is None or status["type"] == want:
                        return status


async def status_of(api: Api, token: str, user_id: int) -> dict[str, Any]:
    full = await api.ok("users.getFullUser", {"user_id": user_id}, token)
    many = await api.ok("users.getStatuses", {"user_ids": [user_id]}, token)
    assert many["statuses"] == [{"user_id": user_id, "status": full["status"]}]
    status: dict[str, Any] = full["status"]
    return status


async def eventually(api: Api, token: str, user_id: int, want: str) -> dict[str, Any]:
    """The status once it is ``want``: a socket's coming and going is applied just after."""
    async with asyncio.timeout(WAIT):
        while (status := await status_of(api, token, user_id))["type"] != want:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    return status


async def ws_call(ws: aiohttp.ClientWebSocketResponse, id: int, method: str, params: Any) -> Any:
    await ws.send_str(json.dumps({"id": id, "method": method, "params": params}))
    while True:
        frame = json.loads((await ws.receive(timeout=WAIT)).data)
        if frame.get("id") == id:
            assert frame["ok"], frame
            return frame["result"]


async def test_a_peer_sees_online_then_last_seen(
    server: ServerProcess, api: Api, http: aiohttp.ClientSession
) -> None:
    ta, a, tb, b = await chat_pair(api, "Comer", "Watcher")
    assert (await status_of(api, tb, a))["type"] == "empty"  # never seen
    async with http.ws_connect(f"{server.ws_url}?token={tb}") as wb:
        await ws_call(wb, 1, "updates.getState", {})
        async with http.ws_connect(f"{server.ws_url}?token={ta}") as wa:
            pushed = await next_status(wb, a)
            assert pushed["type"] == "online" and pushed["expires"] > 0
            got = await status_of(api, tb, a)
            assert got["type"] == "online" and got["expires"] >= pushed["expires"] - 5
            # a second socket changes nothing; the app going to the background does
            async with http.ws_connect(f"{server.ws_url}?token={ta}") as wa2:
                await ws_call(wa2, 1, "updates.getState", {})  # bound, so it counts
                assert await ws_call(wa, 2, "account.updateStatus", {"offline": True}) is True
                away = await next_status(wb, a)
                assert away["type"] == "offline" and away["was_online"] > 0
                assert (await status_of(api, tb, a))["type"] == "offline"
                assert await ws_call(wa, 3, "account.updateStatus", {"offline": False}) is True
                assert (await next_status(wb, a))["type"] == "online"
            assert (await status_of(api, tb, a))["type"] == "online"
        gone = await next_status(wb, a)
        assert gone["type"] == "offline" and gone["was_online"] >= away["was_online"]
        assert await status_of(api, tb, a) == gone
    # the watcher's own socket closed too: they are last seen now, as their peer sees
    assert (await eventually(api, ta, b, "offline"))["was_online"] > 0


async def test_status_is_pushed_only_to_people_one_chats_with(
    server: ServerProcess, api: Api, http: aiohttp.ClientSession
) -> None:
    ta, a, tb, _b = await chat_pair(api, "Quiet", "Friend")
    tc, _c = await api.sign_up("Stranger")
    async with (
        http.ws_connect(f"{server.ws_url}?token={tb}") as wb,
        http.ws_connect(f"{server.ws_url}?token={tc}") as wc,
    ):
        await ws_call(wb, 1, "updates.getState", {})
        await ws_call(wc, 1, "updates.getState", {})
        async with http.ws_connect(f"{server.ws_url}?token={ta}"):
            assert (await next_status(wb, a))["type"] == "online"
        assert (await next_status(wb, a))["type"] == "offline"
        # the stranger got nothing, but may still ask
        await ws_call(wc, 2, "updates.getState", {})
        with pytest.raises(TimeoutError):
            await wc.receive(timeout=0.3)
        assert (await status_of(api, tc, a))["type"] == "offline"


async def test_bad_input_is_refused_clearly(api: Api) -> None:
    token, user = await api.sign_up("Asker")
    me = user["id"]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"user_ids": [me, 2**62]}, "USER_ID_INVALID"),
        ({"user_ids": list(range(1, 202))}, "INPUT_INVALID"),
        ({"user_ids": ["x"]}, "INPUT_INVALID"),
        ({"user_ids": [0]}, "INPUT_INVALID"),
        ({"user_ids": me}, "INPUT_INVALID"),
        ({}, "INPUT_INVALID"),
    ]
    for params, kind in cases:
        status, body = await api.call("users.getStatuses", params, token)
        assert (status, body["error"]["type"]) == (400, kind), params
    for bad in ({}, {"offline": "yes"}, {"offline": True, "extra": 1}):
        status, body = await api.call("account.updateStatus", bad, token)
        assert (status, body["error"]["type"]) == (400, "INPUT_INVALID"), bad
    status, body = await api.call("users.getStatuses", {"user_ids": [me]})
    assert status == 401
    # repeats are answered once; an empty list is an empty answer
    got = await api.ok("users.getStatuses", {"user_ids": [me, me]}, token)
    assert [s["user_id"] for s in got["statuses"]] == [me]
    assert await api.ok("users.getStatuses", {"user_ids": []}, token) == {"statuses": []}
    # over HTTP, without a live socket, a session has nothing to mark
    assert await api.ok("account.updateStatus", {"offline": False}, token) is True
    assert (await status_of(api, token, me))["type"] == "empty"


async def test_online_on_one_node_is_seen_from_the_other(
    two_nodes: tuple[ServerProcess, ServerProcess],  # noqa: F811
    http: aiohttp.ClientSession,
) -> None:
    n1, n2 = two_nodes
    api1, api2 = Api(http, n1.url), Api(http, n2.url)
    ta, a, tb, _b = await chat_pair(api1, "OnA", "OnB")
    async with http.ws_connect(f"{n2.ws_url}?token={tb}") as wb:
        await ws_call(wb, 1, "updates.getState", {})
        # Redis subscriptions go live a moment after they are made: reconnect until the
        # push arrives (statuses are read from Redis at once either way).
        pushed = None
        for _ in range(20):
            async with http.ws_connect(f"{n1.ws_url}?token={ta}") as wa:
                await ws_call(wa, 1, "updates.getState", {})
                assert (await eventually(api2, tb, a, "online"))["expires"] > 0
                try:
                    pushed = await next_status(wb, a, "online", wait=1.0)
                except TimeoutError:
                    continue
                break
        assert pushed is not None, "no online push crossed the nodes"
        gone = await next_status(wb, a, "offline")
        assert gone["type"] == "offline" and gone["was_online"] > 0
        after = await status_of(api2, tb, a)
        assert after["type"] == "offline" and after["was_online"] == gone["was_online"]
