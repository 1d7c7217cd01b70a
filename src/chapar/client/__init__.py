"""The Python client library for Chapar: a sans-I/O core and an asyncio transport.

It imports only :mod:`chapar.protocol` (plus aiohttp and msgspec), never the server's
services or storage, because it is what a third party installs and uses::

    from chapar.client import Client, sign_in

    auth = await sign_in("http://127.0.0.1:8080", "+99966000001")
    async with Client("http://127.0.0.1:8080", auth.token, pts=0) as client:
        sent = await client.send_message(peer_id, "سلام")
        async for update in client.updates():
            print(update)

Modules: :mod:`~chapar.client.core` holds the rules (no I/O: calls and answers, the user's
log, the logs of groups and channels); :mod:`~chapar.client.connection` the socket and
reconnection; :mod:`~chapar.client.chat_sync` the catching up of groups and channels;
:mod:`~chapar.client.methods` typed shortcuts; :mod:`~chapar.client.http` sign-in over
HTTP; :mod:`~chapar.client.cdn` media downloads from CDN edges. Guide: docs/client.md.
"""

from chapar.client.connection import Client
from chapar.client.core import (
    AnyUpdate,
    Backoff,
    ChannelDifference,
    ChaparClientError,
    ChatReset,
    ChatSequencer,
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
    chat_of,
    decode_update,
    is_repeatable,
    pts_of,
)
from chapar.client.http import http_call, sign_in

__all__ = [
    "AnyUpdate",
    "Backoff",
    "ChannelDifference",
    "ChaparClientError",
    "ChatReset",
    "ChatSequencer",
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
    "chat_of",
    "decode_update",
    "http_call",
    "is_repeatable",
    "pts_of",
    "sign_in",
]
