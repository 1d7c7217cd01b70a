"""How stored files are encrypted (sans-I/O; the server and the client library share it).

A file is cut into parts of PART_SIZE bytes (the last may be shorter) and encrypted with
AES-256-CTR under its own random key and IV. CTR lets any part, or any byte range, be
decrypted on its own: part ``n`` starts at counter ``IV + n * PART_SIZE / 16``. Each
encrypted part has a SHA-256, so a client reading parts from an untrusted CDN edge can
check every byte it was given (Telegram's CDN design).
"""

from __future__ import annotations

import hashlib
import secrets

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

PART_SIZE = 512 * 1024
_BLOCK = 16


def new_key() -> tuple[bytes, bytes]:
    """A fresh (key, iv): 32 and 16 random bytes."""
    return secrets.token_bytes(32), secrets.token_bytes(16)


def _counter(iv: bytes, offset: int) -> bytes:
    value = (int.from_bytes(iv, "big") + offset // _BLOCK) % (1 << 128)
    return value.to_bytes(16, "big")


def crypt_at(key: bytes, iv: bytes, offset: int, data: bytes) -> bytes:
    """Encrypt or decrypt (CTR is symmetric) ``data`` that sits at ``offset`` in the file."""
    skip = offset % _BLOCK
    enc = Cipher(algorithms.AES(key), modes.CTR(_counter(iv, offset))).encryptor()
    if skip:
        enc.update(b"\0" * skip)
    return enc.update(data) + enc.finalize()


def crypt_part(key: bytes, iv: bytes, n: int, data: bytes) -> bytes:
    return crypt_at(key, iv, n * PART_SIZE, data)


def part_hash(encrypted: bytes) -> str:
    return hashlib.sha256(encrypted).hexdigest()


def parts_for(size: int) -> int:
    return max(1, -(-size // PART_SIZE))
