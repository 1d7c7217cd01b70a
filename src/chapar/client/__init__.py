"""The Python client library for Chapar: a sans-I/O core and an asyncio transport.

It imports only :mod:`chapar.protocol` (plus aiohttp and msgspec), never the server's
services or storage, because it is what a third party installs and uses::

    from chapar.client import Client, sign_in

    auth = await sign_in("http://127.0.0.1:8080", "+99966000001")
    async with Client("http://127.0.0.1:8080", auth.token, pts=0) as client:
        sent = await client.send_message(peer_id, "سلام")
        async for update in client.updates():
            print(update)

:mod:`chapar.client.core` holds the rules (no I/O); :mod:`chapar.client.connection` the
socket, reconnection and HTTP sign-in.
"""

from chapar.client.connection import Client, http_call, sign_in
from chapar.client.core import (
    AnyUpdate,
    Backoff,
    ChaparClientError,
    ClientClosed,
    ClientError,
    ConnectionLost,
    Difference,
    FetchDifference,
    ProtocolError,
    Rpc,
    Sequencer,
    Step,
    TransportError,
    UnknownUpdate,
    decode_update,
    is_repeatable,
    pts_of,
)

__all__ = [
    "AnyUpdate",
    "Backoff",
    "ChaparClientError",
    "Client",
    "ClientClosed",
    "ClientError",
    "ConnectionLost",
    "Difference",
    "FetchDifference",
    "ProtocolError",
    "Rpc",
    "Sequencer",
    "Step",
    "TransportError",
    "UnknownUpdate",
    "decode_update",
    "http_call",
    "is_repeatable",
    "pts_of",
    "sign_in",
]
