"""What every service is built from; app.py fills it with adapters."""

from __future__ import annotations

from dataclasses import dataclass

from chapar.config import Settings
from chapar.db.log import Pushes
from chapar.ports.bus import EventBus
from chapar.ports.clock import Clock, Random
from chapar.ports.sms import SmsGateway
from chapar.ports.store import Store


@dataclass(frozen=True)
class Deps:
    settings: Settings
    store: Store
    bus: EventBus
    sms: SmsGateway
    clock: Clock
    random: Random

    def now(self) -> int:
        return int(self.clock.now())

    async def push(self, pushes: Pushes) -> None:
        """Publish the updates a committed write produced, one frame per user, in pts order."""
        by_user: dict[int, list[bytes]] = {}
        for user_id, data in pushes:
            by_user.setdefault(user_id, []).append(data)
        for user_id, datas in by_user.items():
            await self.bus.publish(user_topic(user_id), push_frame(datas))


def user_topic(user_id: int) -> str:
    return f"user:{user_id}"


SESSIONS_TOPIC = "sessions"


def push_frame(encoded_updates: list[bytes]) -> bytes:
    return b'{"updates":[' + b",".join(encoded_updates) + b"]}"
