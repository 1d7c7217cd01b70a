"""What every SMS provider adapter shares: its name and kinds, no-op lifecycle, no
webhooks unless it has some, and the one-call ``SmsGateway.send`` on top of ``submit``."""

from __future__ import annotations

from chapar.ports.sms_provider import (
    Accepted,
    DeliveryReport,
    Kind,
    OutgoingSms,
    ReportSink,
    WebhookInvalid,
    WebhookRequest,
)


class Provider:
    def __init__(self, name: str, kinds: frozenset[Kind] = frozenset({"sms"})) -> None:
        self._name = name
        self._kinds = kinds
        self.reports: ReportSink | None = None

    @property
    def name(self) -> str:
        return self._name

    @property
    def kinds(self) -> frozenset[Kind]:
        return self._kinds

    async def start(self, reports: ReportSink) -> None:
        self.reports = reports

    async def submit(self, msg: OutgoingSms) -> Accepted:
        raise NotImplementedError

    async def send(self, to: str, text: str) -> None:
        """``SmsGateway.send``: one SMS through this provider alone, no outbox."""
        await self.submit(OutgoingSms(id=0, to=to, text=text))

    def parse_webhook(self, req: WebhookRequest) -> list[DeliveryReport]:
        raise WebhookInvalid(f"{self.name} sends no delivery reports over HTTP")

    async def close(self) -> None:
        return None
