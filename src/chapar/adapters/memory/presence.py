"""In-process presence, for one node: the same rules as the Redis adapter's script.

Each user has entries ``"<session>:<conn>" -> lease expiry`` in milliseconds, negative
while the session is away (connected, but said it is in the background)."""

from __future__ import annotations

from collections.abc import Sequence

from chapar.ports.clock import Clock
from chapar.ports.presence import (
    LEASE_SECONDS,
    Flip,
    Op,
    Status,
    entry_field,
    session_prefix,
)


def _flip(before: bool, after: bool) -> Flip:
    if before == after:
        return None
    return "online" if after else "offline"


def _online(entries: dict[str, int], now_ms: int) -> bool:
    return any(v > now_ms for v in entries.values())


class MemoryPresence:
    def __init__(self, clock: Clock, lease_seconds: int = LEASE_SECONDS) -> None:
        self._clock = clock
        self._lease_ms = lease_seconds * 1000
        self._entries: dict[int, dict[str, int]] = {}
        self._seen: dict[int, int] = {}

    async def apply(self, ops: Sequence[Op]) -> list[Flip]:
        return [self._apply(op) for op in ops]

    def _apply(self, op: Op) -> Flip:
        now_ms = int(self._clock.now() * 1000)
        entries = self._entries.setdefault(op.user_id, {})
        for field in [f for f, v in entries.items() if abs(v) <= now_ms]:
            del entries[field]  # lapsed; its last renewal is already in _seen
        before = _online(entries, now_ms)
        expires = now_ms + self._lease_ms
        field = entry_field(op.session_id, op.conn)
        if op.kind == "connect":
            entries[field] = expires
        elif op.kind == "refresh":
            entries[field] = -expires if entries.get(field, 0) < 0 else expires
        elif op.kind == "disconnect":
            entries.pop(field, None)
        else:
            prefix, sign = session_prefix(op.session_id), -1 if op.kind == "away" else 1
            for f, v in entries.items():
                if f.startswith(prefix):
                    entries[f] = sign * abs(v)
        after = _online(entries, now_ms)
        if before or after:
            self._seen[op.user_id] = now_ms // 1000
        if not entries:
            del self._entries[op.user_id]
        return _flip(before, after)

    async def statuses(self, user_ids: Sequence[int]) -> dict[int, Status]:
        now_ms = int(self._clock.now() * 1000)
        out: dict[int, Status] = {}
        for uid in user_ids:
            live = [v for v in self._entries.get(uid, {}).values() if v > now_ms]
            if live:
                out[uid] = Status(online=True, expires=max(live) // 1000)
            else:
                out[uid] = Status(online=False, was_online=self._seen.get(uid))
        return out

    async def close(self) -> None:
        self._entries.clear()
