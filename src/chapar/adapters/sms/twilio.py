"""Twilio: the Messages API for SMS, the Calls API (a ``<Say>`` TwiML) for voice codes.

``POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`` with HTTP basic auth
(AccountSid:AuthToken) and form fields To, Body, From or MessagingServiceSid, and
StatusCallback; the answer (201) carries the message ``sid``. Errors answer
``{"code", "message", "status"}``; the codes that belong to the number (invalid, not
mobile, unsubscribed) do not count against Twilio's health.

Status callbacks are POSTed to ``<public_url>/sms/reports/<name>`` with MessageSid and
MessageStatus (CallSid and CallStatus for calls), signed: ``X-Twilio-Signature`` is
base64(HMAC-SHA1(auth token, URL + each form key and value, keys sorted)). Unsigned or
wrongly signed callbacks are refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import httpx

from chapar.adapters.sms.http_common import HttpProvider, dig, json_answer, translated
from chapar.ports.sms_provider import (
    Accepted,
    DeliveryReport,
    Kind,
    OutgoingSms,
    ReportStatus,
    SmsSendError,
    WebhookForbidden,
    WebhookInvalid,
    WebhookRequest,
)
from chapar.sms_settings import TwilioProvider as TwilioConfig

# Error codes about the recipient, not Twilio.
MESSAGE_ERRORS = frozenset({21211, 21214, 21217, 21610, 21612, 21614})
_MESSAGE_STATUS: dict[str, ReportStatus] = {
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "failed",
    "failed": "failed",
    "canceled": "failed",
}
_CALL_STATUS: dict[str, ReportStatus] = {
    "completed": "delivered",
    "busy": "failed",
    "no-answer": "failed",
    "failed": "failed",
    "canceled": "failed",
}


def signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    payload = url + "".join(k + params[k] for k in sorted(params))
    mac = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


class TwilioSms(HttpProvider):
    def __init__(self, cfg: TwilioConfig, public_url: str = "") -> None:
        if not cfg.from_number and not cfg.messaging_service_sid:
            raise ValueError(f"{cfg.name}: set from_number or messaging_service_sid")
        if cfg.voice and not cfg.from_number:
            raise ValueError(f"{cfg.name}: voice calls need from_number")
        kinds: frozenset[Kind] = frozenset({"sms", "call"} if cfg.voice else {"sms"})
        super().__init__(
            cfg.name,
            kinds,
            cfg.timeout_seconds,
            auth=httpx.BasicAuth(cfg.account_sid, cfg.auth_token),
        )
        self.cfg = cfg
        self.callback_url = (
            f"{public_url.rstrip('/')}/sms/reports/{cfg.name}"
            if public_url and cfg.status_callback
            else ""
        )

    def _form(self, msg: OutgoingSms) -> tuple[str, dict[str, str]]:
        c = self.cfg
        if msg.kind == "call":
            say = f'<Say language="{escape(c.voice_language)}">{escape(msg.text)}</Say>'
            form = {"To": msg.to, "From": c.from_number, "Twiml": f"<Response>{say * 2}</Response>"}
            resource = "Calls"
        else:
            form = {"To": msg.to, "Body": msg.text}
            if c.messaging_service_sid:
                form["MessagingServiceSid"] = c.messaging_service_sid
            else:
                form["From"] = c.from_number
            resource = "Messages"
        if self.callback_url:
            form["StatusCallback"] = self.callback_url
        return resource, form

    async def submit(self, msg: OutgoingSms) -> Accepted:
        resource, form = self._form(msg)
        base = self.cfg.base_url.rstrip("/")
        url = f"{base}/2010-04-01/Accounts/{self.cfg.account_sid}/{resource}.json"
        async with translated(self.name):
            r = await self.client.post(url, data=form)
        if r.status_code >= 500:
            raise SmsSendError("HTTP_STATUS", f"{self.name} answered {r.status_code}")
        answer = json_answer(r, self.name)
        if r.status_code >= 400:
            code = dig(answer, "code")
            raise SmsSendError(
                f"TWILIO_{code}",
                f"{self.name}: {dig(answer, 'message')}",
                provider_fault=code not in MESSAGE_ERRORS,
            )
        sid = dig(answer, "sid")
        if not isinstance(sid, str) or not sid:
            raise SmsSendError("BAD_ANSWER", f"{self.name}: no sid in the answer")
        if dig(answer, "status") == "failed":
            raise SmsSendError("TWILIO_FAILED", f"{self.name}: {dig(answer, 'error_message')}")
        return Accepted(provider_id=sid)

    def _signed_url(self, req: WebhookRequest) -> str:
        """The URL Twilio signed: the one we gave it (a proxy may have changed ours)."""
        if not self.callback_url:
            return req.url
        query = urlsplit(req.url).query
        return self.callback_url + (f"?{query}" if query else "")

    def parse_webhook(self, req: WebhookRequest) -> list[DeliveryReport]:
        given = req.headers.get("X-Twilio-Signature", "")
        expected = signature(self.cfg.auth_token, self._signed_url(req), dict(req.form))
        if not given or not hmac.compare_digest(given.encode(), expected.encode()):
            raise WebhookForbidden("missing or wrong X-Twilio-Signature")
        f = req.form
        if "MessageSid" in f and "MessageStatus" in f:
            sid, status = f["MessageSid"], _MESSAGE_STATUS.get(f["MessageStatus"], "pending")
        elif "CallSid" in f and "CallStatus" in f:
            sid, status = f["CallSid"], _CALL_STATUS.get(f["CallStatus"], "pending")
        else:
            raise WebhookInvalid("expected MessageSid/MessageStatus or CallSid/CallStatus")
        error = f.get("ErrorCode", "") if status == "failed" else ""
        return [DeliveryReport(self.name, sid, status, error)]
