"""The embedded SMS gateway: logs each SMS and appends it to a JSONL outbox file, so a
developer (or a test) reads sign-in codes without a provider.

It is also the default provider of the delivery service (kinds sms and call: a "call"
line says ``"kind": "call"``; SMS lines keep their three keys). It sends no delivery
reports: a line written is a message delivered."""

from __future__ import annotations

import datetime
from pathlib import Path

import msgspec
import structlog

from chapar.adapters.sms.base import Provider
from chapar.ports.sms_provider import Accepted, OutgoingSms

log = structlog.get_logger(__name__)


class OutboxLine(msgspec.Struct, omit_defaults=True):
    to: str
    text: str
    sent_at: str
    kind: str = "sms"


class ConsoleSms(Provider):
    def __init__(self, outbox: Path, name: str = "console") -> None:
        super().__init__(name, frozenset({"sms", "call"}))
        self.outbox = outbox
        self._dir_made = False

    def _append(self, line: bytes) -> None:
        # On the event loop, not a worker thread: appending one short line to a file in
        # the page cache costs microseconds, less than the hop to a thread and back (this
        # is the development default; real providers talk over the network).
        if not self._dir_made:
            self.outbox.parent.mkdir(parents=True, exist_ok=True)
            self._dir_made = True
        with self.outbox.open("ab") as f:
            f.write(line + b"\n")

    async def send(self, to: str, text: str) -> None:
        await self._write(to, text, "sms")

    async def submit(self, msg: OutgoingSms) -> Accepted:
        await self._write(msg.to, msg.text, msg.kind)
        return Accepted(provider_id="")

    async def _write(self, to: str, text: str, kind: str) -> None:
        sent_at = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
        line = msgspec.json.encode(OutboxLine(to=to, text=text, sent_at=sent_at, kind=kind))
        self._append(line)
        log.info("sms_sent", to=to, text=text, kind=kind)
