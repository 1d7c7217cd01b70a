"""The embedded SMS gateway: logs each SMS and appends it to a JSONL outbox file, so a
developer (or a test) reads sign-in codes without a provider."""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path

import msgspec
import structlog

log = structlog.get_logger(__name__)


class OutboxLine(msgspec.Struct):
    to: str
    text: str
    sent_at: str


class ConsoleSms:
    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox
        self._lock = asyncio.Lock()

    def _append(self, line: bytes) -> None:
        self.outbox.parent.mkdir(parents=True, exist_ok=True)
        with self.outbox.open("ab") as f:
            f.write(line + b"\n")

    async def send(self, to: str, text: str) -> None:
        sent_at = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
        line = msgspec.json.encode(OutboxLine(to=to, text=text, sent_at=sent_at))
        async with self._lock:
            await asyncio.to_thread(self._append, line)
        log.info("sms_sent", to=to, text=text)
