"""The SMS provider port: what the delivery service (services/sms_delivery.py) needs from
each provider adapter (adapters/sms/) so that it can route, time out, fail over and match
delivery reports without knowing any provider's wire protocol.

``SmsGateway`` (ports/sms.py) stays the one-call port for a single provider; a provider
here hands back the provider's message id so a later delivery report can be matched.

Errors, translated at the adapter's boundary (nothing from httpx or aiosmpplib escapes)::

    SmsError
    ├── SmsSendError       the provider refused or failed this send; ``provider_fault``
    │                      says whether it counts against the provider's health (an
    │                      invalid number does not; a 5xx, no credit or a dead link does)
    └── WebhookError       a delivery-report request we will not act on
        ├── WebhookForbidden   wrong secret or signature (403)
        └── WebhookInvalid     not a report we understand (400)

A send that does not finish in time is cancelled by the caller (``asyncio.timeout``): the
adapters need no timeout logic of their own beyond not leaking a cancelled request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

Kind = Literal["sms", "call"]
ReportStatus = Literal["delivered", "failed", "pending"]


@dataclass(frozen=True)
class OutgoingSms:
    id: int  # the outbox id (a provider may use it as its local id)
    to: str  # E.164, "+98912…"
    text: str
    kind: Kind = "sms"
    # The bare code when the text carries one: providers with code templates (Kavenegar's
    # verify/lookup) send the code, not the text.
    code: str = ""
    attempt: int = 1


@dataclass(frozen=True)
class Accepted:
    # The provider's id for the message, which its delivery reports carry ("" = none).
    provider_id: str


@dataclass(frozen=True)
class DeliveryReport:
    provider: str
    provider_id: str
    status: ReportStatus
    error: str = ""


@dataclass(frozen=True)
class WebhookRequest:
    """A delivery-report request as plain data, so adapters never see the web framework."""

    method: str
    url: str  # as received (scheme and host may be a proxy's; see public_url)
    headers: Mapping[str, str]
    query: Mapping[str, str]
    form: Mapping[str, str] = field(default_factory=dict)
    json: object = None


ReportSink = Callable[[DeliveryReport], Awaitable[object]]


class SmsError(Exception):
    pass


class SmsSendError(SmsError):
    def __init__(self, code: str, message: str = "", *, provider_fault: bool = True) -> None:
        self.code = code
        self.provider_fault = provider_fault
        super().__init__(f"{code}: {message}" if message else code)


class WebhookError(SmsError):
    pass


class WebhookForbidden(WebhookError):
    pass


class WebhookInvalid(WebhookError):
    pass


class SmsProvider(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def kinds(self) -> frozenset[Kind]:
        """What it can send: text messages, voice calls reading the code, or both."""
        ...

    async def start(self, reports: ReportSink) -> None:
        """Open long-lived connections; deliver reports that arrive on them to ``reports``."""
        ...

    async def submit(self, msg: OutgoingSms) -> Accepted:
        """Hand one message to the provider; return once it accepted it, or raise
        ``SmsSendError``."""
        ...

    def parse_webhook(self, req: WebhookRequest) -> list[DeliveryReport]:
        """The delivery reports in a request to /sms/reports/<name>; raise ``WebhookError``
        if the request is not this provider's (or the provider sends none this way)."""
        ...

    async def close(self) -> None: ...
