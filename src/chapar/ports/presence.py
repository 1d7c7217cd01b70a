"""The presence port: who is online now, and when the others were last seen.

A user is online while at least one of their sessions holds a live connection (a
WebSocket) on some node and that session has not said it went to the background
(``account.updateStatus {offline: true}``). Each connection is an *entry* leased for
``lease_seconds``: the node holding it renews the lease (``refresh``) every
``REFRESH_SECONDS``, so the users of a node that died without a word fall offline by
themselves when their leases lapse. Last seen (``was_online``) is the last time a user was
known online: written when they go offline and at every renewal while they are online.

This is approximate, soft state (in Redis or in memory), not part of the durable log:
losing it costs a wrong "last seen", never a message.

Adapters apply :class:`Op` batches in order and report, per op, whether it flipped the
user's status. Times come from the injected clock (nodes need synchronised clocks, as
for the rate limits).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

# A connection's lease, and how often its node renews it: a node may miss two renewals
# (a stalled event loop, a Redis blip) before its users look offline.
LEASE_SECONDS = 90
REFRESH_SECONDS = 30

OpKind = Literal["connect", "disconnect", "refresh", "away", "back"]
# What an op did to the user's status: went online, went offline, or nothing.
Flip = Literal["online", "offline"] | None


@dataclass(frozen=True, slots=True)
class Op:
    """``connect``/``refresh``/``disconnect`` one connection of a session;
    ``away``/``back`` mark every live connection of the session (conn is ignored)."""

    kind: OpKind
    user_id: int
    session_id: int
    conn: str = ""


@dataclass(frozen=True, slots=True)
class Status:
    """online: until ``expires`` (unix seconds) unless renewed. Otherwise ``was_online``
    (unix seconds), or None when the user was never seen (or it was forgotten)."""

    online: bool
    expires: int = 0
    was_online: int | None = None


class Presence(Protocol):
    async def apply(self, ops: Sequence[Op]) -> list[Flip]:
        """Apply ops in order; answer one :data:`Flip` per op.

        Raises :class:`chapar.errors.Unavailable` when the backend cannot be reached
        (nothing, some or all of the batch may then have been applied)."""
        ...

    async def statuses(self, user_ids: Sequence[int]) -> dict[int, Status]:
        """The status of each user (every id gets one)."""
        ...

    async def close(self) -> None: ...


def entry_field(session_id: int, conn: str) -> str:
    """The entry's name among the user's entries; a session's entries share a prefix."""
    return f"{session_id}:{conn}"


def session_prefix(session_id: int) -> str:
    return f"{session_id}:"
