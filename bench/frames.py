"""The frames the load generators read: just the fields a benchmark needs, decoded with
msgspec (unknown fields are skipped, so one set of types serves Chapar and the relay)."""

from __future__ import annotations

import msgspec


class Msg(msgspec.Struct):
    text: str = ""
    out: bool = False
    from_id: int = 0


class Update(msgspec.Struct):
    type: str = ""
    chat_id: int = 0
    message: Msg | None = None


class Error(msgspec.Struct):
    type: str = ""
    message: str = ""


class Frame(msgspec.Struct):
    """Every frame either server sends: an answer (id, ok, error), a push (updates), or a
    relay frame carrying its send time (t)."""

    id: int | None = None
    ok: bool | None = None
    error: Error | None = None
    t: int | None = None
    updates: list[Update] | None = None


decode = msgspec.json.Decoder(Frame).decode
PUSH_PREFIX = b'{"updates"'  # a push: cheaper to tell by its first bytes than by decoding
