"""SMS delivery as the server runs it: the examples in docs/operations.md are valid
settings that build, and app.py starts the worker and serves the report route."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from chapar.adapters.sms.factory import build_providers
from chapar.app import Chapar, build, close
from chapar.config import Settings, load_settings
from chapar.ports.clock import ManualClock
from chapar.services.sms_delivery import build_delivery
from chapar.services.sms_router import Pick
from tests.fakes import until

DOC = Path(__file__).resolve().parent.parent / "docs" / "operations.md"


def doc_toml() -> str:
    blocks = re.findall(r"```toml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 7
    return "\n".join(blocks)


async def test_the_documented_settings_load_and_build(tmp_path: Path) -> None:
    path = tmp_path / "chapar.toml"
    path.write_text(doc_toml(), encoding="utf-8")
    s = load_settings(str(path), env={})
    names = [p.name for p in s.sms_providers]
    assert names == ["console", "kavenegar", "twilio", "mci", "gateway"]
    providers = build_providers(s.sms_providers, tmp_path, s.sms_delivery.public_url)
    try:
        d = build_delivery(s, store=None, providers=providers, clock=ManualClock())  # type: ignore[arg-type]
        assert d.router.pick("+989191234567", "sms") == Pick("mci")
        assert d.router.pick("+447700900123", "sms") == Pick("twilio")
        assert d.router.pick("+989121234567", "sms", tried=["kavenegar", "mci"]) == Pick("twilio")
        assert d.can_send("+989121234567", "call")  # Kavenegar calls
        assert not d.can_send("+447700900123", "call")
    finally:
        for p in providers:
            await p.close()


def test_a_route_to_an_unknown_provider_is_refused_at_build(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[[sms_routes]]\nprefix = "*"\nproviders = ["nobody"]\n', encoding="utf-8")
    s = load_settings(str(path), env={})
    with pytest.raises(ValueError, match="unknown provider"):
        build_delivery(s, None, build_providers(s.sms_providers, tmp_path), ManualClock())  # type: ignore[arg-type]


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Chapar]:
    c = await build(Settings(data_dir=str(tmp_path), sqlite_synchronous="OFF"))
    yield c
    await close(c)


async def test_the_server_sends_queued_codes_and_serves_the_report_route(
    app: Chapar, tmp_path: Path
) -> None:
    await app.sms.enqueue("+989121234567", "Chapar code: 424242")
    out = tmp_path / "sms-outbox.jsonl"
    await until(lambda: out.exists() and "424242" in out.read_text(encoding="utf-8"), "sent")
    async with TestClient(TestServer(app.web_app)) as client:
        r = await client.post("/sms/reports/console", data={"id": "1", "status": "delivered"})
        assert r.status == 400  # the console sends no reports
        r = await client.post("/sms/reports/nobody", data={})
        assert r.status == 404
