"""How the methods read a ``peer``: exactly one of ``user_id`` (a private chat) or
``chat_id`` (a group or channel); anything else, or a user that does not exist, is
``PEER_ID_INVALID`` (one rule, one message, for every method)."""

from __future__ import annotations

from chapar.db import users as users_db
from chapar.errors import BadRequest
from chapar.ports.store import Tx
from chapar.protocol.types import Peer


def not_one_peer() -> BadRequest:
    return BadRequest("PEER_ID_INVALID", 'give exactly one of "user_id" or "chat_id"')


def peer_user_id(peer: Peer) -> int:
    """The user of a private-chat peer."""
    if peer.chat_id is not None or peer.user_id is None:
        raise not_one_peer()
    return peer.user_id


def check_user(tx: Tx, user_id: int) -> None:
    if not users_db.exists(tx, user_id):
        raise BadRequest("PEER_ID_INVALID", "no such user")
