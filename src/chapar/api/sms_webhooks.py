"""Delivery reports from SMS providers: ``GET|POST /sms/reports/<provider>``.

A thin door: it turns the request into plain data (``WebhookRequest``), and the provider's
adapter decides whether it is genuine (signature or secret) and what it says; the delivery
service applies it. Answers 200 ``{"ok": true, "matched": n}``; a report for a message we
do not know yet is kept and still answered 200, so providers do not retry it forever.
"""

from __future__ import annotations

import json
from typing import Protocol

from aiohttp import web

from chapar.api.http import error_response
from chapar.errors import BadRequest, ChaparError
from chapar.ports.sms_provider import WebhookRequest

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class WebhookHandler(Protocol):
    """What the route needs: ``SmsDelivery.handle_webhook``."""

    async def handle_webhook(self, provider: str, req: WebhookRequest) -> int: ...


async def _webhook_request(request: web.Request) -> WebhookRequest:
    form: dict[str, str] = {}
    body: object = None
    if request.method == "POST":
        if request.content_type in FORM_TYPES:
            posted = await request.post()
            form = {k: v for k, v in posted.items() if isinstance(v, str)}
        elif request.can_read_body:
            raw = await request.read()
            try:
                body = json.loads(raw) if raw else None
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                raise BadRequest(
                    "SMS_WEBHOOK_INVALID", "the body is neither a form nor JSON"
                ) from e
    return WebhookRequest(
        method=request.method,
        url=str(request.url),
        headers=request.headers,
        query=dict(request.query),
        form=form,
        json=body,
    )


def add_sms_webhook_routes(app: web.Application, delivery: WebhookHandler) -> None:
    async def reports(request: web.Request) -> web.Response:
        try:
            req = await _webhook_request(request)
            matched = await delivery.handle_webhook(request.match_info["provider"], req)
        except ChaparError as e:
            return error_response(e)
        return web.json_response({"ok": True, "matched": matched})

    app.router.add_route("GET", "/sms/reports/{provider}", reports)
    app.router.add_route("POST", "/sms/reports/{provider}", reports)
