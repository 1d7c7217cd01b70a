"""Edge tokens: the origin's short-lived permission to fetch one file's encrypted parts.

Sans-I/O; the origin (services/media.py) signs, the edge (edge/server.py) and the origin's
own CDN route verify. A token names one stored file and an expiry::

    <file_id>.<expires>.<signature>      signature = Ed25519(b"chapar-cdn-1:<file_id>:<expires>")

Why Ed25519 rather than an HMAC shared with the edges: an edge then holds only the
origin's *public* key, so an edge that is seized, or run by an ISP, can check tokens but
cannot make them. It cannot use the origin as a free source of ciphertext for files no
client was ever given, and a leak of its configuration leaks nothing. The public key is
given to the edge on its command line (pinned) or fetched from the origin at start-up; it
is not secret either way. Verification costs about 0.1–0.2 ms, small beside sending a
512 KiB part, and the edge caches verdicts anyway.

The signing key is derived from the server-wide random secret ``cdn`` in the database
(db.media.secret), so every node of the origin signs with the same key and nothing new has
to be configured.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

_DOMAIN = b"chapar-cdn-1:"


class TokenError(Exception):
    """A token that does not allow the request; ``expired`` tells the two kinds apart
    (an expired token is the client's cue to ask the origin for a new one)."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def _message(file_id: int, expires: int) -> bytes:
    return _DOMAIN + f"{file_id}:{expires}".encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenSigner:
    """The origin's half: makes tokens from a 32-byte seed."""

    def __init__(self, seed: bytes) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(seed[:32])
        self.public_key = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def sign(self, file_id: int, expires: int) -> str:
        sig = self._key.sign(_message(file_id, expires))
        return f"{file_id}.{expires}.{_b64(sig)}"


@dataclass(frozen=True)
class Grant:
    """What a valid token allows: reading ``file_id``'s parts until ``expires``."""

    file_id: int
    expires: int


def parse(token: str) -> tuple[int, int, bytes]:
    """(file_id, expires, signature) of a well-formed token; TokenError otherwise."""
    if len(token) > 200:
        raise TokenError("malformed token")
    try:
        fid_s, exp_s, sig_s = token.split(".")
        sig = base64.urlsafe_b64decode(sig_s + "=" * (-len(sig_s) % 4))
        return int(fid_s), int(exp_s), sig
    except (ValueError, binascii.Error):
        raise TokenError("malformed token") from None


class TokenVerifier:
    """The edge's half: checks tokens against the origin's public key."""

    def __init__(self, public_key: bytes) -> None:
        if len(public_key) != 32:
            raise ValueError("an Ed25519 public key is 32 bytes (64 hex digits)")
        self._key = Ed25519PublicKey.from_public_bytes(public_key)

    def verify(self, token: str, file_id: int, now: int) -> Grant:
        """The grant, if the token is the origin's, names this file and has not expired."""
        fid, expires, sig = parse(token)
        if fid != file_id:
            raise TokenError("the token is for another file")
        try:
            self._key.verify(sig, _message(fid, expires))
        except InvalidSignature:
            raise TokenError("the token's signature is not the origin's") from None
        if expires < now:
            raise TokenError("the token expired; ask the origin for a new one", expired=True)
        return Grant(fid, expires)
