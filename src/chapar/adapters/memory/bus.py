"""The in-process event bus: a dictionary of topics to handlers, for one node."""

from __future__ import annotations

from chapar.ports.bus import Handler


class _Sub:
    __slots__ = ("_bus", "handler", "topic")

    def __init__(self, bus: MemoryBus, topic: str, handler: Handler) -> None:
        self._bus, self.topic, self.handler = bus, topic, handler

    def close(self) -> None:
        self._bus._remove(self)


class MemoryBus:
    def __init__(self) -> None:
        self._topics: dict[str, list[_Sub]] = {}

    async def publish(self, topic: str, payload: bytes) -> None:
        # Handlers run synchronously: they only enqueue, so a slow one cannot block others.
        for sub in tuple(self._topics.get(topic, ())):
            sub.handler(topic, payload)

    def subscribe(self, topic: str, handler: Handler) -> _Sub:
        sub = _Sub(self, topic, handler)
        self._topics.setdefault(topic, []).append(sub)
        return sub

    def _remove(self, sub: _Sub) -> None:
        subs = self._topics.get(sub.topic)
        if subs and sub in subs:
            subs.remove(sub)
            if not subs:
                del self._topics[sub.topic]

    def topic_count(self) -> int:
        return len(self._topics)

    async def close(self) -> None:
        self._topics.clear()
