from __future__ import annotations

import json

import aiohttp

from tests.server import Api, ServerProcess


async def test_two_users_chat_over_http_and_ws(
    any_server: ServerProcess, http: aiohttp.ClientSession
) -> None:
    server = any_server
    api = Api(http, server.url)
    ta, _a = await api.sign_up("Ali")
    tb, b = await api.sign_up("Bita")
    async with http.ws_connect(server.ws_url + f"?token={tb}") as ws:
        sent = await api.ok(
            "messages.sendMessage",
            {"peer": {"user_id": b["id"]}, "text": "سلام 👋", "random_id": 7},
            ta,
        )
        assert sent["message"]["text"] == "سلام 👋"
        frame = json.loads((await ws.receive(timeout=5)).data)
        upd = frame["updates"][0]
        assert upd["type"] == "updateNewMessage" and upd["message"]["text"] == "سلام 👋"
        await ws.send_str(
            json.dumps({"id": 1, "method": "updates.getDifference", "params": {"pts": 0}})
        )
        ans = json.loads((await ws.receive(timeout=5)).data)
        assert ans["id"] == 1 and ans["ok"] and len(ans["result"]["updates"]) == 1
