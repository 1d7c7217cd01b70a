"""The embedded mailer: logs each email and appends it to a JSONL outbox file, so a
developer (or a test) reads recovery codes without a mail server. The twin of
adapters/sms/console.py."""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path

import msgspec
import structlog

log = structlog.get_logger(__name__)


class MailLine(msgspec.Struct):
    to: str
    subject: str
    text: str
    sent_at: str


class ConsoleMail:
    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox
        self._lock = asyncio.Lock()

    def _append(self, line: bytes) -> None:
        self.outbox.parent.mkdir(parents=True, exist_ok=True)
        with self.outbox.open("ab") as f:
            f.write(line + b"\n")

    async def send(self, to: str, subject: str, text: str) -> None:
        sent_at = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
        line = msgspec.json.encode(MailLine(to=to, subject=subject, text=text, sent_at=sent_at))
        async with self._lock:
            await asyncio.to_thread(self._append, line)
        # The body carries a secret code: the log names only the recipient and subject.
        log.info("mail_sent", to=to, subject=subject)
