"""Wiring shared by the SMS tests: the fakes started together, a webhook server that
runs the real route module (api/sms_webhooks.py), and provider settings pointing at them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from chapar.api.sms_webhooks import add_sms_webhook_routes
from chapar.errors import BadRequest, Forbidden, NotFound
from chapar.ports.sms_provider import (
    DeliveryReport,
    SmsProvider,
    WebhookForbidden,
    WebhookInvalid,
    WebhookRequest,
)
from chapar.sms_settings import HttpProvider, KavenegarProvider, SmppProvider, TwilioProvider
from tests.fakes.http_providers import KAVENEGAR_KEY, TWILIO_SID, TWILIO_TOKEN, FakeProviders
from tests.fakes.smsc import FakeSmsc


class Hooks:
    """The webhook route's other side: hands each request to the named provider and keeps
    the reports (SmsDelivery does this in the server)."""

    def __init__(self) -> None:
        self.providers: dict[str, SmsProvider] = {}
        self.reports: list[DeliveryReport] = []

    async def sink(self, report: DeliveryReport) -> None:
        self.reports.append(report)

    async def handle_webhook(self, provider: str, req: WebhookRequest) -> int:
        p = self.providers.get(provider)
        if p is None:
            raise NotFound("SMS_PROVIDER_UNKNOWN")
        try:
            reports = p.parse_webhook(req)
        except WebhookForbidden as e:
            raise Forbidden("SMS_WEBHOOK_FORBIDDEN", str(e)) from e
        except WebhookInvalid as e:
            raise BadRequest("SMS_WEBHOOK_INVALID", str(e)) from e
        self.reports.extend(reports)
        return len(reports)


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


@dataclass
class World:
    fake: FakeProviders
    smsc: FakeSmsc
    hooks: Hooks
    hooks_url: str
    tmp: Path


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    fake, smsc, hooks = FakeProviders(), FakeSmsc(), Hooks()
    await fake.start()
    await smsc.start()
    app = web.Application()
    add_sms_webhook_routes(app, hooks)
    runner, url = await serve(app)
    yield World(fake, smsc, hooks, url, tmp_path)
    for p in hooks.providers.values():
        await p.close()
    await runner.cleanup()
    await smsc.stop()
    await fake.stop()


def generic_config(w: World, **kw: object) -> HttpProvider:
    base: dict[str, object] = {
        "name": "gw",
        "url": f"{w.fake.url}/generic/send",
        "headers": {"Authorization": "Bearer generic-token"},
        "body": '{"to": {to}, "text": {text}, "ref": {id}}',
        "success_path": "ok",
        "success_value": "true",
        "id_path": "data.id",
        "webhook_secret": "s3cret",
    }
    base.update(kw)
    return HttpProvider(**base)  # type: ignore[arg-type]


def kavenegar_config(w: World, **kw: object) -> KavenegarProvider:
    base: dict[str, object] = {
        "name": "kn",
        "api_key": KAVENEGAR_KEY,
        "base_url": w.fake.url,
        "sender": "10004346",
        "webhook_secret": "s3cret",
    }
    base.update(kw)
    return KavenegarProvider(**base)  # type: ignore[arg-type]


def twilio_config(w: World, **kw: object) -> TwilioProvider:
    base: dict[str, object] = {
        "name": "tw",
        "account_sid": TWILIO_SID,
        "auth_token": TWILIO_TOKEN,
        "from_number": "+15005550006",
        "base_url": w.fake.url,
        "voice": True,
    }
    base.update(kw)
    return TwilioProvider(**base)  # type: ignore[arg-type]


def smpp_config(w: World, **kw: object) -> SmppProvider:
    base: dict[str, object] = {
        "name": "smsc",
        "host": "127.0.0.1",
        "port": w.smsc.port,
        "system_id": "chapar",
        "password": "secret",
        "source_addr": "Chapar",
    }
    base.update(kw)
    return SmppProvider(**base)  # type: ignore[arg-type]
