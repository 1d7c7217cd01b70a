"""The client's sans-I/O core: bytes and updates in, events and decisions out.

Modelled on h11: nothing here touches a socket, a clock or the event loop, so every rule
(how answers find their calls, which calls may be repeated after a dropped connection, how
each update stream stays gapless) is tested with plain function calls, and another
transport (trio, a browser bridge, a test double) can reuse it unchanged.

* :mod:`~chapar.client.core.rpc` — :class:`Rpc` numbers requests, matches answers to
  pending calls, turns error envelopes into :class:`ClientError`, and remembers which
  calls were written to the current connection so the transport can repeat the safe ones.
* :mod:`~chapar.client.core.sequencer` — :class:`Sequencer` applies the user's log in pts
  order (:class:`chapar.protocol.updates.PtsCursor`), buffering pushes while a difference
  is fetched.
* :mod:`~chapar.client.core.chats` — :class:`ChatSequencer` does the same for every group
  and channel, one cursor per chat, and :class:`DialogPager` lists their pts.
* :mod:`~chapar.client.core.updates` — decoding and the rule that sorts an update into the
  user's log, a chat's log, or neither.
* :mod:`~chapar.client.core.errors` — the exception tree; :mod:`~chapar.client.core.backoff`.
"""

from chapar.client.core.backoff import Backoff
from chapar.client.core.chats import (
    ChatHead,
    ChatSequencer,
    ChatStep,
    DialogPager,
    FetchChannelDifference,
)
from chapar.client.core.errors import (
    ChaparClientError,
    ClientClosed,
    ClientError,
    ConnectionLost,
    ProtocolError,
    TransportError,
)
from chapar.client.core.rpc import (
    IDEMPOTENT_METHODS,
    Answer,
    Failure,
    Push,
    Rpc,
    RpcEvent,
    StrayError,
    is_repeatable,
)
from chapar.client.core.sequencer import FetchDifference, Sequencer, Step
from chapar.client.core.updates import (
    AnyUpdate,
    ChannelDifference,
    ChatReset,
    Difference,
    UnknownUpdate,
    chat_of,
    decode_channel_difference,
    decode_difference,
    decode_update,
    pts_of,
)

__all__ = [
    "IDEMPOTENT_METHODS",
    "Answer",
    "AnyUpdate",
    "Backoff",
    "ChannelDifference",
    "ChaparClientError",
    "ChatHead",
    "ChatReset",
    "ChatSequencer",
    "ChatStep",
    "ClientClosed",
    "ClientError",
    "ConnectionLost",
    "DialogPager",
    "Difference",
    "Failure",
    "FetchChannelDifference",
    "FetchDifference",
    "ProtocolError",
    "Push",
    "Rpc",
    "RpcEvent",
    "Sequencer",
    "Step",
    "StrayError",
    "TransportError",
    "UnknownUpdate",
    "chat_of",
    "decode_channel_difference",
    "decode_difference",
    "decode_update",
    "is_repeatable",
    "pts_of",
]
