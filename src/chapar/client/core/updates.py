"""Updates as the client reads them: decoded tolerantly, and sorted into their logs.

Rule (docs/chats.md): an update with a top-level ``chat_id`` and a ``pts`` belongs to that
group's or channel's own log; any other update with a ``pts`` to the user's log; one
without ``pts`` is an ephemeral hint (typing, ``updatesTooLong``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import msgspec

from chapar.client.core.errors import ProtocolError
from chapar.protocol.types import State, Update


@dataclass(frozen=True)
class UnknownUpdate:
    """An update type this version of the library does not know (a newer server).

    Kept rather than rejected: it still carries a pts, and dropping it would open a gap
    that no difference could ever close."""

    type: str
    pts: int | None
    data: Mapping[str, Any]


@dataclass(frozen=True)
class ChatReset:
    """Made by the client, not sent by the server: the chat's log was too far ahead
    (``updates.getChannelDifference`` answered ``too_long``), so the updates up to ``pts``
    were skipped rather than delivered. Reload the chat's recent history
    (messages.getHistory); updates after ``pts`` follow as usual. Telegram calls this
    ``updateChannelTooLong``."""

    chat_id: int
    pts: int
    type: Literal["chatReset"] = "chatReset"


# What the update stream yields: the server's updates, unknown ones, and ChatReset.
AnyUpdate: TypeAlias = Update | UnknownUpdate | ChatReset

_update_decoder = msgspec.json.Decoder(Update)


def decode_update(raw: bytes | msgspec.Raw) -> AnyUpdate:
    """Decode one update; unknown types become :class:`UnknownUpdate`."""
    try:
        update: AnyUpdate = _update_decoder.decode(raw)
        return update
    except msgspec.ValidationError:
        pass
    except msgspec.DecodeError as e:
        raise ProtocolError(f"malformed update: {e}") from e
    data = msgspec.json.decode(raw)
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ProtocolError("an update without a type")
    pts = data.get("pts")
    return UnknownUpdate(data["type"], pts if isinstance(pts, int) else None, data)


def _field(update: AnyUpdate, name: str) -> int | None:
    value = (
        update.data.get(name) if isinstance(update, UnknownUpdate) else getattr(update, name, None)
    )
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def pts_of(update: AnyUpdate) -> int | None:
    """The update's place in the user's log; None for an ephemeral one (typing) and for
    one of a group's or channel's own log (a top-level ``chat_id``): that pts counts in
    the chat's sequence, and taking it for the user's would skip the user's updates."""
    if isinstance(update, ChatReset) or _field(update, "chat_id") is not None:
        return None
    if isinstance(update, UnknownUpdate) and "chat_id" in update.data:
        return None
    return _field(update, "pts")


def chat_of(update: AnyUpdate) -> tuple[int, int] | None:
    """``(chat_id, pts)`` when the update is an entry of a group's or channel's log."""
    if isinstance(update, ChatReset):
        return None
    chat_id, pts = _field(update, "chat_id"), _field(update, "pts")
    return None if chat_id is None or pts is None else (chat_id, pts)


# -- differences --------------------------------------------------------------------------
class _WireDifference(msgspec.Struct):
    updates: list[msgspec.Raw]
    state: State
    slice: bool


@dataclass(frozen=True)
class Difference:
    """updates.getDifference as the client reads it (tolerant of unknown update types)."""

    updates: list[AnyUpdate]
    state: State
    slice: bool


def decode_difference(raw: bytes | msgspec.Raw) -> Difference:
    try:
        d = msgspec.json.decode(raw, type=_WireDifference)
    except (msgspec.DecodeError, msgspec.ValidationError) as e:
        raise ProtocolError(f"malformed difference: {e}") from e
    return Difference([decode_update(u) for u in d.updates], d.state, d.slice)


class _WireChannelDifference(msgspec.Struct):
    updates: list[msgspec.Raw]
    pts: int
    final: bool
    too_long: bool = False


@dataclass(frozen=True)
class ChannelDifference:
    """updates.getChannelDifference as the client reads it: the chat's updates after the
    asked pts, the chat's pts after them, ``final`` (nothing more after ``pts``) and
    ``too_long`` (nothing returned: too far behind, resume from ``pts``)."""

    updates: list[AnyUpdate]
    pts: int
    final: bool
    too_long: bool = False


def decode_channel_difference(raw: bytes | msgspec.Raw) -> ChannelDifference:
    try:
        d = msgspec.json.decode(raw, type=_WireChannelDifference)
    except (msgspec.DecodeError, msgspec.ValidationError) as e:
        raise ProtocolError(f"malformed channel difference: {e}") from e
    return ChannelDifference([decode_update(u) for u in d.updates], d.pts, d.final, d.too_long)
