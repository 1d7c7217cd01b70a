"""Every abuse limit of Chapar, declared once with its default, and the keys they count by.

Signal-Server's ``RateLimiters.For`` is the model: one table of named rules, each with its
default, that operators override by name in the settings (``limits``, TOML or
``CHAPAR_LIMITS``)::

    limits = "send_code_per_phone=3/1h, sms_global=50000/1h"

A period is seconds or a number with ``s``, ``m``, ``h`` or ``d``. An unknown name or a
malformed value stops the server at start instead of silently keeping the default.

The rules count through the :class:`~chapar.ports.limiter.RateLimiter` port: in this
process by default, in Redis when ``redis_url`` is set, so every node spends one budget.
A breach is ``429 FLOOD_WAIT`` with ``retry_after``. Why each key:

- the number itself: one person, or one victim of SMS bombing;
- the address and its network (/24 for IPv4, /64 for IPv6, the block one subscriber or one
  data-centre host usually holds): one attacker cycling numbers; generous, because mobile
  carriers put thousands of subscribers behind one address (CGNAT);
- the number range (country code and operator range: the first :data:`RANGE_DIGITS`
  digits): SMS pumping, where bots request codes for a block of premium numbers whose
  operator shares the revenue;
- one global budget per hour: the ceiling of the SMS bill whatever the attack;
- the ``phone_code_hash`` and the number for code checks, the account for passwords and
  email codes: guessing.
"""

from __future__ import annotations

import ipaddress
import math
import re

from chapar.errors import FloodWait
from chapar.ports.limiter import Limit, RateLimiter

MINUTE, HOUR, DAY = 60, 3600, 86400
# Digits of the E.164 number (without "+") that name a range: "9891212" is Iran (98),
# MCI (912) and a block of 100,000 numbers; "1415555" a US area code and exchange.
RANGE_DIGITS = 7
_UNITS = {"": 1, "s": 1, "m": MINUTE, "h": HOUR, "d": DAY}
_SPEC = re.compile(r"^(\d+)/(\d+)([smhd]?)$")


class Limits:
    """The rules with their defaults (class attributes, each named as its limit) and, on
    an instance, the operator's overrides."""

    # auth.sendCode and auth.resendCode, whatever the delivery
    send_code_per_phone: Limit = Limit("send_code_per_phone", 5, HOUR)
    send_code_per_ip: Limit = Limit("send_code_per_ip", 50, HOUR)
    send_code_per_subnet: Limit = Limit("send_code_per_subnet", 200, HOUR)
    # codes that cost money (SMS and calls, not in-app)
    sms_per_range: Limit = Limit("sms_per_range", 60, HOUR)
    sms_global: Limit = Limit("sms_global", 20_000, HOUR)
    # auth.signIn / auth.signUp (every check, right or wrong)
    check_code_per_phone: Limit = Limit("check_code_per_phone", 15, HOUR)
    check_code_per_hash: Limit = Limit("check_code_per_hash", 10, HOUR)
    # two-step verification: every password check of one account, wherever it comes from
    check_password_per_user: Limit = Limit("check_password_per_user", 5, 15 * MINUTE)
    check_password_per_user_day: Limit = Limit("check_password_per_user_day", 20, DAY)
    # setting or changing the password (each one costs an argon2 hash)
    update_password_per_user: Limit = Limit("update_password_per_user", 10, HOUR)
    # recovery and confirmation emails sent, and their codes checked
    email_per_user: Limit = Limit("email_per_user", 5, DAY)
    check_email_code_per_user: Limit = Limit("check_email_code_per_user", 10, HOUR)

    def __init__(self, **overrides: Limit) -> None:
        known = self.names()
        for name, limit in overrides.items():
            if name not in known or limit.name != name:
                raise ValueError(f"limits: {name!r} is no limit of this table")
            setattr(self, name, limit)

    @classmethod
    def names(cls) -> list[str]:
        return [k for k, v in vars(cls).items() if isinstance(v, Limit)]

    @classmethod
    def from_settings(cls, spec: str) -> Limits:
        """The defaults with the overrides of ``spec`` ("name=amount/period, ...")."""
        overrides: dict[str, Limit] = {}
        known = set(cls.names())
        for part in filter(None, (p.strip() for p in spec.replace("\n", ",").split(","))):
            name, sep, value = (x.strip() for x in part.partition("="))
            if not sep or name not in known:
                raise ValueError(
                    f"limits: unknown limit {name!r} in {part!r}; known: {', '.join(sorted(known))}"
                )
            found = _SPEC.match(value.replace(" ", ""))
            if found is None:
                raise ValueError(f"limits: {part!r} is not name=amount/period (e.g. 5/1h)")
            amount, per = int(found[1]), int(found[2]) * _UNITS[found[3]]
            overrides[name] = Limit(name, amount, per)  # validates amount and period
        return cls(**overrides)


def blocked_prefixes(raw: str) -> tuple[str, ...]:
    """The setting ``blocked_phone_prefixes`` ("+99988, +88213"): number ranges that never
    get codes (premium-rate and satellite ranges, the usual targets of SMS pumping)."""
    found = tuple(p.strip() for p in raw.split(",") if p.strip())
    for p in found:
        if not (p.startswith("+") and p[1:].isdigit() and 1 <= len(p) - 1 <= 15):
            raise ValueError(f"blocked_phone_prefixes: {p!r} is not an E.164 prefix like +99988")
    return found


def ip_key(ip: str) -> str:
    """The address in canonical form (an IPv4-mapped IPv6 address as IPv4)."""
    addr = _address(ip)
    return str(addr) if addr is not None else "unknown"


def subnet_key(ip: str) -> str:
    """The /24 of an IPv4 address or the /64 of an IPv6 one."""
    addr = _address(ip)
    if addr is None:
        return "unknown"
    bits = 24 if addr.version == 4 else 64
    return str(ipaddress.ip_network(f"{addr}/{bits}", strict=False))


def number_range(e164: str) -> str:
    """The country and operator range of a number in E.164 form."""
    return e164.lstrip("+")[:RANGE_DIGITS]


def _address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


class LimitGuard:
    """The services' door to the abuse policy: the limits (spend a budget or raise
    ``FloodWait``) and the number ranges that get no codes at all.

    Several rules are spent in order and the first breach stops the rest; what the earlier
    ones counted stays counted, which errs on the side of refusing an abuser sooner.
    Limiter outages (``Unavailable``) propagate: every rule here guards money or a secret,
    so it fails closed.
    """

    def __init__(self, limiter: RateLimiter, limits: Limits, blocked: tuple[str, ...] = ()) -> None:
        self.limiter = limiter
        self.limits = limits
        self.blocked = blocked

    async def spend(self, *rules: tuple[Limit, str]) -> None:
        for limit, key in rules:
            wait = await self.limiter.hit(key, limit)
            if wait is not None:
                retry = max(1, math.ceil(wait))
                raise FloodWait(retry, f"limit {limit.name} reached; retry in {retry} s")

    async def forget(self, limit: Limit, key: str) -> None:
        await self.limiter.reset(key, limit)
