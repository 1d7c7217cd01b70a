"""Several nodes, one service: nodes share PostgreSQL and Redis. Needs CHAPAR_TEST_POSTGRES_URL
and CHAPAR_TEST_REDIS_URL (set by .ci/run)."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import psycopg
import pytest
import redis

from tests.server import Api, ServerProcess

PG = os.environ.get("CHAPAR_TEST_POSTGRES_URL")
REDIS = os.environ.get("CHAPAR_TEST_REDIS_URL")


@pytest.fixture
def two_nodes(tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    if not PG or not REDIS:
        pytest.skip("set CHAPAR_TEST_POSTGRES_URL and CHAPAR_TEST_REDIS_URL to run cluster tests")
    schema = f"cl_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    env = {
        "CHAPAR_DATABASE_URL": f"{PG}?schema={schema}",
        "CHAPAR_REDIS_URL": REDIS,
        "CHAPAR_REDIS_PREFIX": f"{schema}:",
    }
    nodes = (ServerProcess(tmp_path / "n1", env=env), ServerProcess(tmp_path / "n2", env=env))
    try:
        for n in nodes:
            n.start()
        yield nodes
    finally:
        for n in nodes:
            if n.proc is not None:
                n.kill()
        with psycopg.connect(PG, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
        # The shared Redis keeps nothing of the test (last-seen times have no expiry).
        with redis.Redis.from_url(REDIS) as r:
            keys = list(r.scan_iter(match=f"{schema}:*"))
            if keys:
                r.delete(*keys)


async def test_users_on_different_nodes_chat_and_groups_reach_both(
    two_nodes: tuple[ServerProcess, ServerProcess], http: aiohttp.ClientSession
) -> None:
    n1, n2 = two_nodes
    api1, api2 = Api(http, n1.url), Api(http, n2.url)
    ta, _a = await api1.sign_up("OnNode1")
    tb, b = await api2.sign_up("OnNode2")
    g = (await api1.ok("channels.createChannel", {"title": "Both", "broadcast": False}, ta))["chat"]
    await api1.ok(
        "channels.inviteToChannel", {"channel": {"chat_id": g["id"]}, "users": [b["id"]]}, ta
    )
    async with http.ws_connect(f"{n2.ws_url}?token={tb}") as ws:
        await ws.send_str(json.dumps({"id": 1, "method": "updates.getState", "params": {}}))
        assert json.loads((await ws.receive(timeout=10)).data)["id"] == 1
        # Redis subscriptions go live a moment after they are made; send until one arrives,
        # then check the log has exactly what was sent.
        texts: list[str] = []
        got: dict[str, object] | None = None
        for i in range(50):
            text = f"hello {i}"
            texts.append(text)
            body = {"peer": {"user_id": b["id"]}, "text": text, "random_id": 1000 + i}
            await api1.ok("messages.sendMessage", body, ta)
            try:
                frame = json.loads((await ws.receive(timeout=0.5)).data)
            except TimeoutError:
                continue
            got = frame["updates"][0]
            break
        assert got is not None and got["type"] == "updateNewMessage"
        await api1.ok(
            "messages.sendMessage",
            {"peer": {"chat_id": g["id"]}, "text": "to the group", "random_id": 1},
            ta,
        )
        seen_group = False
        for _ in range(len(texts) + 5):
            frame = json.loads((await ws.receive(timeout=10)).data)
            if any(
                u.get("chat_id") == g["id"] and u["message"]["text"] == "to the group"
                for u in frame["updates"]
                if "message" in u
            ):
                seen_group = True
                break
        assert seen_group
    diff = await api2.ok("updates.getDifference", {"pts": 0}, tb)
    new = [u["message"]["text"] for u in diff["updates"] if u["type"] == "updateNewMessage"]
    assert new == texts
    # What crossed Redis shows in each node's metrics: sent by the writer's node, received
    # by the reader's, nothing left waiting to leave.
    sent = await metric(http, n1, "chapar_bus_published_total")
    backlog = await metric(http, n1, "chapar_bus_publish_backlog")
    assert sent >= 1 and backlog == 0, (sent, backlog)
    assert await metric(http, n2, "chapar_bus_received_total") >= 1


async def metric(http: aiohttp.ClientSession, node: ServerProcess, name: str) -> float:
    async with http.get(f"{node.url}/metrics") as r:
        text = await r.text()
    values = [ln.split()[-1] for ln in text.splitlines() if ln.startswith(name + " ")]
    assert values, f"{name} missing from {node.url}/metrics"
    return float(values[0])


async def test_a_resend_to_another_node_returns_the_first_result(
    two_nodes: tuple[ServerProcess, ServerProcess], http: aiohttp.ClientSession
) -> None:
    n1, n2 = two_nodes
    api1, api2 = Api(http, n1.url), Api(http, n2.url)
    ta, _a = await api1.sign_up("Racer")
    _, b = await api1.sign_up("Target")
    for k in range(20):
        body = {"peer": {"user_id": b["id"]}, "text": f"once {k}", "random_id": 7_000 + k}
        r1, r2 = await asyncio.gather(
            api1.ok("messages.sendMessage", body, ta), api2.ok("messages.sendMessage", body, ta)
        )
        assert r1["message"]["id"] == r2["message"]["id"] and r1["pts"] == r2["pts"]
    hist = await api2.ok("messages.getHistory", {"peer": {"user_id": b["id"]}, "limit": 100}, ta)
    assert sorted(m["text"] for m in hist["messages"]) == sorted(f"once {k}" for k in range(20))
    # pts stayed gapless under writers on two nodes
    diff = await api1.ok("updates.getDifference", {"pts": 0}, ta)
    assert [u["pts"] for u in diff["updates"]] == list(range(1, len(diff["updates"]) + 1))
