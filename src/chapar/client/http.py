"""Calls over plain HTTP (``POST /api/<method>``): signing in, and one-off calls that do
not need a live connection."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
import msgspec

from chapar.client.core.errors import ClientError, ProtocolError
from chapar.protocol import methods as m
from chapar.protocol.envelope import ErrorBody


async def http_call(
    session: aiohttp.ClientSession,
    base_url: str,
    method: str,
    params: Mapping[str, Any] | None = None,
    token: str | None = None,
) -> Any:
    """One method over POST /api/<method>; ClientError when the server refuses."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = f"{base_url.rstrip('/')}/api/{method}"
    async with session.post(url, json=dict(params or {}), headers=headers) as r:
        raw = await r.read()
    try:
        frame = msgspec.json.decode(raw)
    except msgspec.DecodeError as e:
        raise ProtocolError(f"{method}: HTTP {r.status} with a body that is not JSON") from e
    if isinstance(frame, dict) and frame.get("ok") is True:
        return frame.get("result")
    if isinstance(frame, dict) and isinstance(frame.get("error"), dict):
        try:
            body = msgspec.convert(frame["error"], ErrorBody)
        except msgspec.ValidationError as err:
            raise ProtocolError(f"{method}: malformed error envelope: {err}") from err
        raise ClientError.from_body(body)
    raise ProtocolError(f"{method}: HTTP {r.status} without an envelope")


async def sign_in(
    base_url: str,
    phone: str,
    code: str = "222222",
    *,
    first_name: str = "Test",
    device: str = "",
    app: str = "chapar.client",
    session: aiohttp.ClientSession | None = None,
) -> m.Authorization:
    """Sign in (or sign up, if the number is new) with a code; ``.token`` opens a Client.

    The default code is the one reserved test numbers accept on a server started with
    test numbers enabled; for a real number, read the code the user received."""
    own = session is None
    http = session or aiohttp.ClientSession()
    try:
        sent = await http_call(http, base_url, "auth.sendCode", {"phone": phone})
        params = {
            "phone": phone,
            "phone_code_hash": sent["phone_code_hash"],
            "code": code,
            "device": device,
            "app": app,
        }
        try:
            res = await http_call(http, base_url, "auth.signIn", params)
        except ClientError as e:
            if e.type != "PHONE_NUMBER_UNOCCUPIED":
                raise
            # The code stays valid after this refusal, so sign up with the same one.
            res = await http_call(
                http, base_url, "auth.signUp", {**params, "first_name": first_name}
            )
        return msgspec.convert(res, m.Authorization)
    finally:
        if own:
            await http.close()
