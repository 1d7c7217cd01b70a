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


async def test_health_readiness_and_metrics(
    server: ServerProcess, api: Api, http: aiohttp.ClientSession
) -> None:
    async with http.get(server.url + "/healthz") as r:
        assert r.status == 200
    async with http.get(server.url + "/readyz") as r:
        assert r.status == 200 and (await r.json())["store"] is True
    await api.call("updates.getState", {})  # an unauthenticated call: a client error
    token, _ = await api.sign_up("Counted")
    await api.ok("updates.getState", {}, token)
    async with http.get(server.url + "/metrics") as r:
        assert r.status == 200
        text = await r.text()
    ok = [
        line
        for line in text.splitlines()
        if line.startswith("chapar_api_requests_total{")
        and 'method="updates.getState"' in line
        and 'outcome="ok"' in line
    ]
    assert ok and float(ok[0].rsplit(" ", 1)[1]) >= 1
    assert 'outcome="client_error"' in text
    assert "chapar_store_commit_seconds_bucket" in text and "chapar_ws_connections" in text
