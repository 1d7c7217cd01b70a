"""Requests and answers (sans-I/O): ids, pending calls, which calls may be repeated after
a dropped connection, and error envelopes turned into :class:`ClientError`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import msgspec

from chapar.client.core.errors import ClientError, ConnectionLost, ProtocolError
from chapar.protocol.envelope import decode_frame, encode_request

# Methods that change nothing, or whose repetition leaves the same state. Everything else
# is repeated only when its params carry a random_id (the server deduplicates on it).
IDEMPOTENT_METHODS = frozenset(
    {
        "messages.readHistory",
        "messages.setTyping",
        "account.updateProfile",
        "contacts.importContacts",
    }
)
_READ_PREFIXES = ("get", "resolve", "search")


def is_repeatable(method: str, params: Mapping[str, Any]) -> bool:
    """May this call be sent again after the connection dropped with it in flight?"""
    verb = method.rpartition(".")[2]
    return verb.startswith(_READ_PREFIXES) or method in IDEMPOTENT_METHODS or "random_id" in params


@dataclass
class _Pending:
    method: str
    frame: bytes
    repeatable: bool
    sent: bool = False


@dataclass(frozen=True)
class Answer:
    id: int
    result: msgspec.Raw


@dataclass(frozen=True)
class Failure:
    id: int
    error: ClientError


@dataclass(frozen=True)
class Push:
    updates: list[msgspec.Raw]


@dataclass(frozen=True)
class StrayError:
    """An error frame without id: the server could not read one of our frames at all."""

    error: ClientError


RpcEvent: TypeAlias = Answer | Failure | Push | StrayError


class Rpc:
    """Request ids, pending calls and the answers to them, for one client across
    reconnections (ids keep counting, so a late answer can never match a newer call)."""

    def __init__(self) -> None:
        self._next_id = 1
        self._pending: dict[int, _Pending] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def request(self, method: str, params: Mapping[str, Any]) -> int:
        """Register a call; its frame goes out with the next :meth:`take_unsent`."""
        id_ = self._next_id
        self._next_id += 1
        frame = encode_request(id_, method, params)
        self._pending[id_] = _Pending(method, frame, is_repeatable(method, params))
        return id_

    def take_unsent(self) -> list[bytes]:
        """Frames to write to the current connection, now counted as sent on it."""
        out = []
        for p in self._pending.values():
            if not p.sent:
                p.sent = True
                out.append(p.frame)
        return out

    def cancel(self, id_: int) -> None:
        """Forget a call (timed out or cancelled); a late answer to it is ignored."""
        self._pending.pop(id_, None)

    def connection_lost(self) -> list[tuple[int, ConnectionLost]]:
        """The socket is gone: repeatable calls wait for the next one, the others fail."""
        failed = []
        for id_, p in list(self._pending.items()):
            if not p.sent:
                continue
            if p.repeatable:
                p.sent = False
            else:
                del self._pending[id_]
                msg = f"{p.method}: connection lost; it may or may not have been applied"
                failed.append((id_, ConnectionLost(msg)))
        return failed

    def receive(self, data: bytes | str) -> RpcEvent | None:
        """Read one frame. None means an answer to a call nobody waits for any more."""
        try:
            frame = decode_frame(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as e:
            raise ProtocolError(f"malformed frame: {e}") from e
        if frame.id is None:
            if frame.updates is not None:
                return Push(frame.updates)
            if frame.error is not None:
                return StrayError(ClientError.from_body(frame.error))
            raise ProtocolError("a frame with neither id nor updates")
        if self._pending.pop(frame.id, None) is None:
            return None
        if frame.ok and frame.error is None:
            return Answer(frame.id, frame.result)
        if frame.error is not None:
            return Failure(frame.id, ClientError.from_body(frame.error))
        raise ProtocolError(f"answer {frame.id} is neither ok nor an error")
