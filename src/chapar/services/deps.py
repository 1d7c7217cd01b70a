"""What every service is built from; app.py fills it with adapters."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from chapar.config import Settings
from chapar.db.log import Pushes
from chapar.errors import Conflict
from chapar.ports.bus import MEMBERSHIP_TOPIC, SESSIONS_TOPIC, EventBus, chat_topic, user_topic
from chapar.ports.clock import Clock, Random
from chapar.ports.sms import SmsGateway
from chapar.ports.store import Store, Tx

__all__ = ["SESSIONS_TOPIC", "Deps", "Moves", "chat_topic", "push_frame", "user_topic"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
TRANSACT_ATTEMPTS = 3
# (user_id, chat_id, is_member_now): re-points live fan-out after commit
Moves = list[tuple[int, int, bool]]


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

    async def transact(self, fn: Callable[[Tx, Pushes, Moves], T]) -> T:
        """Run fn in a write transaction, then announce membership moves and push what it
        logged. A race with another node is retried, each run with fresh pushes: a
        uniqueness race (two sends of one random_id at once) finds the first result on the
        second run; a deadlock between two nodes' batches (PostgreSQL) usually passes on
        the next batch, and rarely needs one more."""
        for attempt in range(1, TRANSACT_ATTEMPTS + 1):
            pushes: Pushes = []
            moves: Moves = []
            try:
                result = await self.store.write(functools.partial(_call, fn, pushes, moves))
            except Conflict:
                if attempt == TRANSACT_ATTEMPTS:
                    raise
                continue
            for user_id, chat_id, joined in moves:
                payload = f"{user_id} {chat_id} {int(joined)}".encode()
                await self.bus.publish(MEMBERSHIP_TOPIC, payload)
            await self.push(pushes)
            return result
        raise AssertionError("unreachable")

    async def write_grouped(self, make: Callable[[], GroupedWrite[T]]) -> T:
        """transact's loop for an operation the store's writer may write together with its
        neighbours of the same class (a PrivateSend, a ChatPost: adapters/group_commit.py);
        ``make`` builds a fresh one per attempt. The group's pushes are published once, by
        the first of its callers to resume; a lone operation publishes its own."""
        for attempt in range(1, TRANSACT_ATTEMPTS + 1):
            op = make()
            try:
                result = await self.store.write(op)
            except Conflict:  # another node took this random_id first: find its answer
                if attempt == TRANSACT_ATTEMPTS:
                    raise
                continue
            pushes = op.pushes if op.group is None else op.group.take()
            if pushes:
                await self.push(pushes)
            return result
        raise AssertionError("unreachable")

    async def push(self, pushes: Pushes) -> None:
        """Publish the updates a committed write produced, one frame per topic, in order."""
        by_topic: dict[str, list[bytes]] = {}
        for topic, data in pushes:
            by_topic.setdefault(topic, []).append(data)
        for topic, datas in by_topic.items():
            await self.bus.publish(topic, push_frame(datas))


def _call(fn: Callable[[Tx, Pushes, Moves], T], pushes: Pushes, moves: Moves, tx: Tx) -> T:
    return fn(tx, pushes, moves)


def push_frame(encoded_updates: list[bytes]) -> bytes:
    return b'{"updates":[' + b",".join(encoded_updates) + b"]}"


class _Pushing(Protocol):
    @property
    def pushes(self) -> Pushes: ...


class GroupedWrite(Protocol[T_co]):
    """An operation for Deps.write_grouped: called with the transaction when it runs
    alone; ``group`` is set when the writer ran it with others."""

    @property
    def pushes(self) -> Pushes: ...

    @property
    def group(self) -> WrittenTogether | None: ...

    def __call__(self, tx: Tx) -> T_co: ...


class WrittenTogether:
    """The operations one group commit wrote together (private sends, chat posts: see
    adapters/group_commit.py). Their pushes are published once, by the first of their
    callers to resume after the commit (they resume one after another in the same turn of
    the event loop), in order: a receiver gets the group's messages to it in one frame
    instead of one frame each."""

    __slots__ = ("ops", "published")

    def __init__(self, ops: Sequence[_Pushing]) -> None:
        self.ops = ops
        self.published = False

    def take(self) -> Pushes | None:
        """Every push of the group the first time, None after."""
        if self.published:
            return None
        self.published = True
        return [p for op in self.ops for p in op.pushes]
