"""Which provider sends a message next: routes by number prefix, then priority, weight
and health.

A route maps an E.164 prefix ("+98", "+98912", or "*" for the rest; the longest match
wins) to providers. The router tries the lowest priority first; providers of equal
priority share traffic in proportion to their weights; a provider whose circuit is open,
or that this message already tried in the current round, is skipped, which is what makes
failover immediate. Pure decisions over in-memory state: no I/O, tested without a clock
or network.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from chapar.ports.sms_provider import Kind
from chapar.services.sms_health import CircuitBreaker
from chapar.sms_settings import RouteTarget, SmsRoute


@dataclass(frozen=True)
class Target:
    provider: str
    priority: int = 0
    weight: int = 1


@dataclass(frozen=True)
class Route:
    prefix: str
    targets: tuple[Target, ...]


@dataclass(frozen=True)
class Pick:
    provider: str


@dataclass(frozen=True)
class WaitUntil:
    """Every provider still untried has an open circuit; the earliest reopens at ``at``."""

    at: float


@dataclass(frozen=True)
class RoundDone:
    """Every provider of the route was tried in this round."""


@dataclass(frozen=True)
class NoRoute:
    """No provider can send this kind of message to this number."""


Choice = Pick | WaitUntil | RoundDone | NoRoute


def routes_from_settings(routes: Sequence[SmsRoute], providers: Sequence[str]) -> list[Route]:
    """The configured routes; none configured means every provider, in the order listed."""
    if not routes:
        return [Route("*", tuple(Target(p, i) for i, p in enumerate(providers)))]
    out = []
    for r in routes:
        targets = tuple(
            Target(t, i) if isinstance(t, str) else _target(t) for i, t in enumerate(r.providers)
        )
        out.append(Route(r.prefix, targets))
    return out


def _target(t: RouteTarget) -> Target:
    return Target(t.provider, t.priority, t.weight)


class SmsRouter:
    def __init__(
        self,
        routes: Sequence[Route],
        kinds: Mapping[str, frozenset[Kind]],
        health: Mapping[str, CircuitBreaker],
        rng: random.Random | None = None,
    ) -> None:
        seen: set[str] = set()
        for route in routes:
            if route.prefix != "*" and not route.prefix.startswith("+"):
                raise ValueError(f"route prefix {route.prefix!r}: use '*' or an E.164 prefix")
            if route.prefix in seen:
                raise ValueError(f"two routes for prefix {route.prefix!r}")
            seen.add(route.prefix)
            names = [t.provider for t in route.targets]
            for t in route.targets:
                if t.provider not in kinds:
                    raise ValueError(f"route {route.prefix!r}: unknown provider {t.provider!r}")
                if t.weight < 1:
                    raise ValueError(f"route {route.prefix!r}: weight of {t.provider!r} below 1")
            if len(set(names)) != len(names):
                raise ValueError(f"route {route.prefix!r} names a provider twice")
        # Longest prefix first; "*" (length 1, but matching everything) last.
        self.routes = sorted(
            routes, key=lambda r: -1 if r.prefix == "*" else len(r.prefix), reverse=True
        )
        self.kinds = kinds
        self.health = health
        self.rng = rng or random.Random()

    def route(self, to: str) -> Route | None:
        for r in self.routes:
            if r.prefix == "*" or to.startswith(r.prefix):
                return r
        return None

    def candidates(self, to: str, kind: Kind) -> list[Target]:
        route = self.route(to)
        if route is None:
            return []
        return [t for t in route.targets if kind in self.kinds[t.provider]]

    def can_send(self, to: str, kind: Kind) -> bool:
        return bool(self.candidates(to, kind))

    def pick(self, to: str, kind: Kind, tried: Collection[str] = ()) -> Choice:
        candidates = self.candidates(to, kind)
        if not candidates:
            return NoRoute()
        untried = [t for t in candidates if t.provider not in tried]
        if not untried:
            return RoundDone()
        for priority in sorted({t.priority for t in untried}):
            group = [
                t for t in untried if t.priority == priority and self.health[t.provider].available()
            ]
            if group:
                chosen = self._weighted(group)
                self.health[chosen.provider].acquire()
                return Pick(chosen.provider)
        return WaitUntil(min(self.health[t.provider].next_available_at() for t in untried))

    def _weighted(self, group: Sequence[Target]) -> Target:
        if len(group) == 1:
            return group[0]
        return self.rng.choices(group, weights=[t.weight for t in group])[0]
