"""The SMS gateway port."""

from __future__ import annotations

from typing import Protocol


class SmsGateway(Protocol):
    async def send(self, to: str, text: str) -> None:
        """Hand the message to the provider; raise on failure."""
        ...
