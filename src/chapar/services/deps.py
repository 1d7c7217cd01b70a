"""What every service is built from; app.py fills it with adapters."""

from __future__ import annotations

from dataclasses import dataclass

from chapar.config import Settings
from chapar.db.log import Pushes
from chapar.ports.bus import SESSIONS_TOPIC, EventBus, chat_topic, user_topic
from chapar.ports.clock import Clock, Random
from chapar.ports.sms import SmsGateway
from chapar.ports.store import Store

__all__ = ["SESSIONS_TOPIC", "Deps", "chat_topic", "push_frame", "user_topic"]


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
        """Publish the updates a committed write produced, one frame per topic, in order."""
        by_topic: dict[str, list[bytes]] = {}
        for topic, data in pushes:
            by_topic.setdefault(topic, []).append(data)
        for topic, datas in by_topic.items():
            await self.bus.publish(topic, push_frame(datas))


def push_frame(encoded_updates: list[bytes]) -> bytes:
    return b'{"updates":[' + b",".join(encoded_updates) + b"]}"
