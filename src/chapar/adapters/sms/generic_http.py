"""A provider described entirely in the settings: method, URL, headers, a body or form
template and a success rule. For the many local gateways whose API is "send a request with
the number and the text, look for OK in the answer", without writing an adapter.

Placeholders (``{to}``, ``{to_digits}``, ``{text}``, ``{id}``, ``{kind}``) are replaced by
exact match, not ``str.format``, so JSON braces in a template need no escaping; each value
is encoded for where it lands (URL-encoded in the URL, a JSON string in a JSON body, as is
in form fields and headers), so a text cannot break out of its place.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from urllib.parse import quote

from chapar.adapters.sms.http_common import (
    HttpProvider,
    check_secret,
    dig,
    fields,
    json_answer,
    translated,
)
from chapar.ports.sms_provider import (
    Accepted,
    DeliveryReport,
    OutgoingSms,
    SmsSendError,
    WebhookInvalid,
    WebhookRequest,
)
from chapar.sms_settings import HttpProvider as HttpConfig

_PLACEHOLDER = re.compile(r"\{(to|to_digits|text|id|kind)\}")


def _values(msg: OutgoingSms) -> dict[str, str]:
    return {
        "to": msg.to,
        "to_digits": msg.to.lstrip("+"),
        "text": msg.text,
        "id": str(msg.id),
        "kind": msg.kind,
    }


def render(template: str, values: dict[str, str], encode: Callable[[str], str]) -> str:
    return _PLACEHOLDER.sub(lambda m: encode(values[m.group(1)]), template)


def _as_is(v: str) -> str:
    return v


def _json(v: str) -> str:
    return json.dumps(v, ensure_ascii=False)


def _url(v: str) -> str:
    return quote(v, safe="")


def _text(v: object) -> str:
    """A JSON value as the settings write it: strings bare, the rest as JSON (true, 1)."""
    return v if isinstance(v, str) else json.dumps(v)


class GenericHttpSms(HttpProvider):
    def __init__(self, cfg: HttpConfig) -> None:
        super().__init__(cfg.name, frozenset(cfg.kinds), cfg.timeout_seconds)
        self.cfg = cfg
        self._json_body = "json" in cfg.content_type

    async def submit(self, msg: OutgoingSms) -> Accepted:
        c, values = self.cfg, _values(msg)
        url = render(c.url, values, _url)
        headers = {k: render(v, values, _as_is) for k, v in c.headers.items()}
        content: bytes | None = None
        data: dict[str, str] | None = None
        if c.form:
            data = {k: render(v, values, _as_is) for k, v in c.form.items()}
        elif c.body:
            body = render(c.body, values, _json if self._json_body else _url)
            content = body.encode()
            headers.setdefault("Content-Type", c.content_type)
        async with translated(self.name):
            r = await self.client.request(
                c.method, url, headers=headers, content=content, data=data
            )
        if r.status_code not in c.success_status:
            raise SmsSendError(
                "HTTP_STATUS",
                f"{self.name} answered {r.status_code}",
                provider_fault=r.status_code >= 500 or r.status_code in (401, 402, 403, 429),
            )
        if c.success_contains and c.success_contains not in r.text:
            raise SmsSendError("REFUSED", f"{self.name}: {r.text[:200]!r}")
        answer = json_answer(r, self.name) if c.success_path or c.id_path else None
        if c.success_path and _text(dig(answer, c.success_path)) != c.success_value:
            raise SmsSendError(
                "REFUSED", f"{self.name}: {c.success_path} = {dig(answer, c.success_path)!r}"
            )
        provider_id = dig(answer, c.id_path) if c.id_path else None
        return Accepted(provider_id="" if provider_id is None else str(provider_id))

    def parse_webhook(self, req: WebhookRequest) -> list[DeliveryReport]:
        check_secret(req, self.cfg.webhook_secret)
        f = fields(req)
        pid, status = f.get(self.cfg.report_id_field), f.get(self.cfg.report_status_field)
        if not pid or status is None:
            raise WebhookInvalid(
                f"expected fields {self.cfg.report_id_field!r} and {self.cfg.report_status_field!r}"
            )
        if status in self.cfg.delivered_values:
            return [DeliveryReport(self.name, pid, "delivered")]
        if status in self.cfg.failed_values:
            return [DeliveryReport(self.name, pid, "failed", status)]
        return [DeliveryReport(self.name, pid, "pending")]
