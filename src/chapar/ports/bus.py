"""The event bus port: topics carry push hints between the writer of a change and the nodes
holding the connections of the people it concerns. Losing a message here costs latency,
never data: clients recover from the update log.

Topics used: ``user:<id>`` (push frames for a user's sessions), ``chat:<id>`` (push frames
for every member of a group or channel online on a node), ``sessions`` (revocations).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Handler = Callable[[str, bytes], None]

SESSIONS_TOPIC = "sessions"
# "<user_id> <chat_id> <1|0>": a user joined or left a chat; nodes re-point live fan-out.
MEMBERSHIP_TOPIC = "membership"


def user_topic(user_id: int) -> str:
    return f"user:{user_id}"


def chat_topic(chat_id: int) -> str:
    return f"chat:{chat_id}"


class Subscription(Protocol):
    def close(self) -> None: ...


class EventBus(Protocol):
    async def publish(self, topic: str, payload: bytes) -> None: ...

    def subscribe(self, topic: str, handler: Handler) -> Subscription:
        """Call ``handler(topic, payload)`` on the event loop for every message on topic."""
        ...

    async def close(self) -> None: ...
