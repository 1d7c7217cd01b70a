"""The blob store port: opaque bytes by key. Everything stored through it is already
encrypted (services/media.py), so a blob store never holds a readable file."""

from __future__ import annotations

from typing import Protocol


class BlobStore(Protocol):
    async def put(self, key: str, data: bytes) -> None:
        """Store data under key, replacing what was there; visible only once complete."""
        ...

    async def get(self, key: str) -> bytes | None:
        """The bytes under key, or None."""
        ...

    async def delete(self, keys: list[str]) -> None:
        """Remove the keys; missing keys are fine."""
        ...

    async def close(self) -> None: ...
