"""Two-step verification passwords (argon2id) and recovery email addresses.

argon2id with argon2-cffi's defaults (RFC 9106's low-memory profile: 64 MiB, 3 passes):
memory-hard, so a stolen database does not give up weak passwords to GPUs cheaply. A hash
takes tens of milliseconds of CPU, so it runs in a worker thread, never on the event loop;
the attempt limits (services/limits.py) keep attackers from turning that into a way to
burn CPU. Hashes made with older parameters are upgraded at the next successful check.
"""

from __future__ import annotations

import asyncio
import re

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from chapar.errors import BadRequest, Unavailable
from chapar.ports.mail import Mailer

log = structlog.get_logger(__name__)
_hasher = PasswordHasher()
# Deliberately loose (RFC 5322 is not worth parsing): one @, a dot in the domain, no
# spaces. The confirmation code proves the address works.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(hash_: str, password: str) -> tuple[bool, str | None]:
    """(right?, a fresh hash to store when the stored one uses outdated parameters)."""

    def check() -> tuple[bool, str | None]:
        try:
            _hasher.verify(hash_, password)
        except (VerificationError, InvalidHashError):
            return False, None
        return True, _hasher.hash(password) if _hasher.check_needs_rehash(hash_) else None

    return await asyncio.to_thread(check)


def check_email(raw: str) -> str:
    email = raw.strip()
    if not _EMAIL.match(email):
        raise BadRequest("EMAIL_INVALID", "not an email address")
    return email


def email_pattern(email: str) -> str:
    """The address as Telegram shows it to someone who has not proven they own it:
    enough to recognise, not enough to learn ("s***@e***.com")."""
    local, _, domain = email.partition("@")
    host, dot, tld = domain.rpartition(".")
    return f"{local[:1]}***@{host[:1]}***{dot}{tld}"


async def send_mail(mailer: Mailer, to: str, subject: str, text: str) -> None:
    try:
        await mailer.send(to, subject, text)
    except Exception as e:
        log.error("mail_send_failed", error=str(e))
        raise Unavailable("EMAIL_SEND_FAILED", "the email could not be sent; retry") from e
