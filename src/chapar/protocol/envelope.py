"""Frames of the API, for HTTP bodies and WebSocket text frames alike.

    request  {"id": 1, "method": "messages.sendMessage", "params": {...}}   (WebSocket)
    answer   {"id": 1, "ok": true, "result": ...}
             {"id": 1, "ok": false, "error": {"code": 400, "type": "...", "message": "..."}}
    push     {"updates": [{"type": "...", "pts": 7, ...}, ...]}                 (no id)

Over HTTP the method is in the path, the body is the params object and the answer has no id.
"""

from __future__ import annotations

from typing import Any

import msgspec


class RequestFrame(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    method: str
    params: msgspec.Raw = msgspec.Raw(b"{}")


class ErrorBody(msgspec.Struct, omit_defaults=True):
    code: int
    type: str
    message: str
    retry_after: int | None = None


class OkAnswer(msgspec.Struct, omit_defaults=True):
    ok: bool
    result: Any
    id: int | None = None


class ErrorAnswer(msgspec.Struct, omit_defaults=True):
    ok: bool
    error: ErrorBody
    id: int | None = None


class PushFrame(msgspec.Struct):
    updates: list[Any]


class AnyAnswer(msgspec.Struct):
    """What a client reads from a frame: an answer (with id) or a push (with updates)."""

    id: int | None = None
    ok: bool | None = None
    # Raw cannot sit in a union (msgspec would accept only null); a missing result is null.
    result: msgspec.Raw = msgspec.Raw(b"null")
    error: ErrorBody | None = None
    updates: list[msgspec.Raw] | None = None


_encoder = msgspec.json.Encoder()
_request_decoder = msgspec.json.Decoder(RequestFrame)
_frame_decoder = msgspec.json.Decoder(AnyAnswer)


def encode_ok(result: Any, id: int | None = None) -> bytes:
    return _encoder.encode(OkAnswer(ok=True, result=result, id=id))


def encode_error(err: ErrorBody, id: int | None = None) -> bytes:
    return _encoder.encode(ErrorAnswer(ok=False, error=err, id=id))


def encode_push(updates: list[Any]) -> bytes:
    return _encoder.encode(PushFrame(updates=updates))


def encode_request(id: int, method: str, params: Any) -> bytes:
    return _encoder.encode({"id": id, "method": method, "params": params})


def decode_request(data: bytes | str) -> RequestFrame:
    """Raise msgspec.DecodeError / ValidationError on a malformed frame."""
    return _request_decoder.decode(data)


def decode_frame(data: bytes | str) -> AnyAnswer:
    return _frame_decoder.decode(data)
