"""The mail port: how Chapar sends email (two-step verification recovery and confirmation
codes). Embedded adapter: adapters/mail/console.py; an SMTP or provider adapter plugs in
here without touching the services."""

from __future__ import annotations

from typing import Protocol


class Mailer(Protocol):
    async def send(self, to: str, subject: str, text: str) -> None:
        """Hand the message to the mail system; raise on failure."""
        ...
