"""Typed shortcuts over :meth:`Client.call_raw <chapar.client.Client.call_raw>`, for the
methods the library uses itself and those an app needs most. Any other method: ``call``.

A peer is given as an ``int`` (a user id: a private chat) or a
:class:`~chapar.protocol.types.Peer` (``Peer(chat_id=N)`` for a group or channel)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from chapar.client.core.errors import ProtocolError
from chapar.client.core.updates import (
    ChannelDifference,
    Difference,
    decode_channel_difference,
    decode_difference,
)
from chapar.protocol import chat_methods as cm
from chapar.protocol import methods as m
from chapar.protocol.types import Peer, State

T = TypeVar("T")


def decode_result(raw: msgspec.Raw, type_: type[T]) -> T:
    try:
        return msgspec.json.decode(raw, type=type_)
    except (msgspec.DecodeError, msgspec.ValidationError) as e:
        raise ProtocolError(f"unexpected result: {e}") from e


def peer_json(peer: int | Peer) -> dict[str, int]:
    if isinstance(peer, int):
        return {"user_id": peer}
    out: dict[str, int] = msgspec.to_builtins(peer)
    return out


class Methods:
    """Mixed into :class:`~chapar.client.Client`; needs only :meth:`call_raw`."""

    async def call_raw(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        long_poll: float = 0,
    ) -> msgspec.Raw:
        """The one primitive: the method's result as undecoded JSON. ``long_poll``: seconds
        the server may hold the call before answering, added to the call's time limit."""
        raise NotImplementedError

    async def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        """Call a method; its result as plain JSON values. Raises ClientError on refusal."""
        return msgspec.json.decode(await self.call_raw(method, params))

    async def send_message(
        self,
        peer: int | Peer,
        text: str,
        *,
        random_id: int | None = None,
        reply_to: int | None = None,
    ) -> m.SentMessage:
        """Send a message to a user (an int) or a chat (``Peer(chat_id=N)``). The random_id
        (fresh unless given) makes retries safe: the server answers a repeat with the first
        result and stores nothing new."""
        params: dict[str, Any] = {
            "peer": peer_json(peer),
            "text": text,
            "random_id": secrets.randbits(63) if random_id is None else random_id,
        }
        if reply_to is not None:
            params["reply_to"] = reply_to
        raw = await self.call_raw("messages.sendMessage", params)
        return decode_result(raw, m.SentMessage)

    async def get_state(self) -> State:
        return decode_result(await self.call_raw("updates.getState"), State)

    async def get_difference(self, pts: int, limit: int = 1000, long_poll: float = 0) -> Difference:
        """The user's log after ``pts``; with ``long_poll`` > 0 the server waits that many
        seconds for something new when nothing is pending."""
        params = {"pts": pts, "limit": limit, "timeout": long_poll}
        raw = await self.call_raw("updates.getDifference", params, long_poll=long_poll)
        return decode_difference(raw)

    async def get_channel_difference(
        self, chat_id: int, pts: int, limit: int = 1000
    ) -> ChannelDifference:
        """A group's or channel's log after ``pts``, one slice (``final``: the last)."""
        params = {"channel": {"chat_id": chat_id}, "pts": pts, "limit": limit}
        return decode_channel_difference(
            await self.call_raw("updates.getChannelDifference", params)
        )

    async def get_dialogs(self, limit: int = 100, **offset: Any) -> m.Dialogs:
        """One page of dialogs, newest first (``offset_date``, ``offset_id``, ``offset_peer``
        to page on, as messages.getDialogs takes them)."""
        raw = await self.call_raw("messages.getDialogs", {"limit": limit, **offset})
        return decode_result(raw, m.Dialogs)

    async def get_history(self, peer: int | Peer, limit: int = 50, offset_id: int = 0) -> m.History:
        params = {"peer": peer_json(peer), "limit": limit, "offset_id": offset_id}
        return decode_result(await self.call_raw("messages.getHistory", params), m.History)

    async def create_channel(
        self, title: str, *, broadcast: bool, about: str = ""
    ) -> cm.ChatResult:
        """A channel (``broadcast``) or a group; the creator's updateChannel follows."""
        params = {"title": title, "broadcast": broadcast, "about": about}
        return decode_result(await self.call_raw("channels.createChannel", params), cm.ChatResult)

    async def join_channel(self, chat_id: int) -> cm.ChatResult:
        raw = await self.call_raw("channels.joinChannel", {"channel": {"chat_id": chat_id}})
        return decode_result(raw, cm.ChatResult)

    async def leave_channel(self, chat_id: int) -> None:
        await self.call_raw("channels.leaveChannel", {"channel": {"chat_id": chat_id}})
