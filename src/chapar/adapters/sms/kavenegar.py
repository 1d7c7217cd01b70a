"""Kavenegar, the common Iranian SMS API: ``POST {base}/v1/{API-KEY}/{scope}/{method}.json``
with form fields, answering ``{"return": {"status", "message"}, "entries": [...]}``.

- SMS: ``sms/send.json`` (receptor, message, sender).
- Voice code: ``call/maketts.json`` (receptor, message), a call that reads the text.
- With ``verify_template`` and a bare code: ``verify/lookup.json`` (receptor, token,
  template, type=sms|call), Kavenegar's fast lane for one-time codes.

``return.status`` 200 is success; the rest are Kavenegar's error codes, split into the
provider's fault (bad key, no credit, server busy: they count against its health) and the
message's (an invalid number or text: they do not). Delivery reports: Kavenegar calls the
URL set in its panel with ``messageid`` and ``status`` (10 delivered; 6, 11, 13, 14 and 100
failed; the rest still under way).
"""

from __future__ import annotations

from collections.abc import Mapping

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
    Kind,
    OutgoingSms,
    SmsSendError,
    WebhookInvalid,
    WebhookRequest,
)
from chapar.sms_settings import KavenegarProvider as KavenegarConfig

# Errors that belong to the message (number, text), not to Kavenegar's health.
MESSAGE_ERRORS = frozenset({411, 413, 414, 420, 422, 428, 431, 451})
# Entry statuses that already say the message will not be delivered.
FAILED_STATUSES = frozenset({6, 11, 13, 14, 100})
DELIVERED_STATUS = 10


def receptor(e164: str) -> str:
    """Kavenegar's number format: national 09… for Iran, 00… for the rest."""
    if e164.startswith("+98"):
        return "0" + e164[3:]
    return "00" + e164.lstrip("+")


class KavenegarSms(HttpProvider):
    def __init__(self, cfg: KavenegarConfig) -> None:
        kinds: frozenset[Kind] = frozenset({"sms", "call"} if cfg.voice else {"sms"})
        super().__init__(cfg.name, kinds, cfg.timeout_seconds)
        self.cfg = cfg

    def _request(self, msg: OutgoingSms) -> tuple[str, dict[str, str]]:
        to = receptor(msg.to)
        if self.cfg.verify_template and msg.code:
            return "verify/lookup", {
                "receptor": to,
                "token": msg.code,
                "template": self.cfg.verify_template,
                "type": msg.kind,
            }
        if msg.kind == "call":
            return "call/maketts", {"receptor": to, "message": msg.text}
        data = {"receptor": to, "message": msg.text}
        if self.cfg.sender:
            data["sender"] = self.cfg.sender
        return "sms/send", data

    async def submit(self, msg: OutgoingSms) -> Accepted:
        method, data = self._request(msg)
        url = f"{self.cfg.base_url.rstrip('/')}/v1/{self.cfg.api_key}/{method}.json"
        async with translated(self.name):
            r = await self.client.post(url, data=data, headers={"Accept": "application/json"})
        if r.status_code >= 500 and not r.content.startswith(b"{"):
            raise SmsSendError("HTTP_STATUS", f"{self.name} answered {r.status_code}")
        answer = json_answer(r, self.name)
        status = dig(answer, "return.status")
        if not isinstance(status, int):
            raise SmsSendError("BAD_ANSWER", f"{self.name}: no return.status in the answer")
        if status != 200:
            text = dig(answer, "return.message")
            raise SmsSendError(
                f"KAVENEGAR_{status}",
                f"{self.name}: {text}",
                provider_fault=status not in MESSAGE_ERRORS,
            )
        entry = dig(answer, "entries.0")
        if not isinstance(entry, Mapping) or "messageid" not in entry:
            raise SmsSendError("BAD_ANSWER", f"{self.name}: no entries[0].messageid")
        if entry.get("status") in FAILED_STATUSES:
            raise SmsSendError(
                f"KAVENEGAR_ENTRY_{entry.get('status')}",
                f"{self.name}: {entry.get('statustext', '')}",
                provider_fault=False,
            )
        return Accepted(provider_id=str(entry["messageid"]))

    def parse_webhook(self, req: WebhookRequest) -> list[DeliveryReport]:
        check_secret(req, self.cfg.webhook_secret)
        f = fields(req)
        pid, status = f.get("messageid"), f.get("status")
        if not pid or status is None or not status.lstrip("-").isdigit():
            raise WebhookInvalid("expected messageid and a numeric status")
        code = int(status)
        if code == DELIVERED_STATUS:
            return [DeliveryReport(self.name, pid, "delivered")]
        if code in FAILED_STATUSES:
            return [DeliveryReport(self.name, pid, "failed", f"status {code}")]
        return [DeliveryReport(self.name, pid, "pending")]
