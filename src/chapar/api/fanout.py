"""Live delivery of group and channel posts on one node (fan-out on read, GUIDE §2).

A post is published once on the bus topic ``chat:<id>``. Each node subscribes to that topic
once, while at least one of its live sessions belongs to a member, and hands the same frame
to each of those sessions. Membership changes arrive on the ``membership`` topic
(services/chats.py) and re-point the sessions of that user on every node.
"""

from __future__ import annotations

from typing import Protocol

import structlog

from chapar.db import chats as chats_db
from chapar.ports.bus import MEMBERSHIP_TOPIC, EventBus, Subscription, chat_topic
from chapar.ports.store import Store

log = structlog.get_logger(__name__)


class Sink(Protocol):
    def send(self, frame: bytes) -> None: ...


class ChatFanout:
    def __init__(self, bus: EventBus, store: Store) -> None:
        self.bus = bus
        self.store = store
        self._by_chat: dict[int, set[Sink]] = {}
        self._subs: dict[int, Subscription] = {}
        self._by_user: dict[int, set[Sink]] = {}
        self._chats_of: dict[Sink, set[int]] = {}
        self._membership = bus.subscribe(MEMBERSHIP_TOPIC, self._on_membership)

    async def attach(self, sink: Sink, user_id: int) -> None:
        self._by_user.setdefault(user_id, set()).add(sink)
        self._chats_of[sink] = set()
        chat_ids = await self.store.read(lambda tx: chats_db.member_chat_ids(tx, user_id))
        if sink not in self._chats_of:  # it went away while we read
            return
        for chat_id in chat_ids:
            self._join(sink, chat_id)

    def detach(self, sink: Sink, user_id: int) -> None:
        for chat_id in self._chats_of.pop(sink, set()):
            self._leave(sink, chat_id)
        sinks = self._by_user.get(user_id)
        if sinks is not None:
            sinks.discard(sink)
            if not sinks:
                del self._by_user[user_id]

    def _join(self, sink: Sink, chat_id: int) -> None:
        chats = self._chats_of.get(sink)
        if chats is None or chat_id in chats:
            return
        chats.add(chat_id)
        members = self._by_chat.setdefault(chat_id, set())
        members.add(sink)
        if chat_id not in self._subs:
            self._subs[chat_id] = self.bus.subscribe(chat_topic(chat_id), self._deliver)

    def _leave(self, sink: Sink, chat_id: int) -> None:
        members = self._by_chat.get(chat_id)
        if members is None:
            return
        members.discard(sink)
        if not members:
            del self._by_chat[chat_id]
            sub = self._subs.pop(chat_id, None)
            if sub is not None:
                sub.close()

    def _deliver(self, topic: str, payload: bytes) -> None:
        chat_id = int(topic.rsplit(":", 1)[1])
        for sink in tuple(self._by_chat.get(chat_id, ())):
            sink.send(payload)

    def _on_membership(self, _topic: str, payload: bytes) -> None:
        try:
            user_s, chat_s, joined_s = payload.split()
            user_id, chat_id, joined = int(user_s), int(chat_s), joined_s == b"1"
        except ValueError:
            log.warning("bad_membership_message", payload=payload[:64])
            return
        for sink in tuple(self._by_user.get(user_id, ())):
            if joined:
                self._join(sink, chat_id)
            else:
                chats = self._chats_of.get(sink)
                if chats is not None and chat_id in chats:
                    chats.discard(chat_id)
                    self._leave(sink, chat_id)

    def chat_topics(self) -> int:
        """How many chat topics this node listens to (for metrics and tests)."""
        return len(self._subs)

    def close(self) -> None:
        self._membership.close()
        for sub in self._subs.values():
            sub.close()
        self._subs.clear()
