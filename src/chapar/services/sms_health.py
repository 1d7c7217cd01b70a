"""The health of one SMS provider: a circuit breaker.

Why: a provider that is down (errors), stuck (timeouts) or silently dropping messages
(accepts them but never reports delivery) must stop receiving codes at once, or every
user behind it waits a full timeout before failover. After ``failure_threshold`` failures
in a row the circuit opens and the router skips the provider; after ``open_seconds`` it is
half-open and lets exactly one probe through; the probe's success closes it, its failure
opens it again. A probe whose verdict never comes (the report went to another node, say)
frees the slot after ``probe_seconds``.

State is per node and in memory: each node learns a provider's health from its own sends,
which is what it needs to route its own traffic; nothing here must survive a restart.
Time comes from the injected clock, so tests move it instead of sleeping.
"""

from __future__ import annotations

import enum

from chapar.ports.clock import Clock
from chapar.services import sms_metrics as metrics


class Circuit(enum.Enum):
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        clock: Clock,
        *,
        failure_threshold: int = 3,
        open_seconds: float = 30.0,
        probe_seconds: float = 60.0,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError(f"{name}: failure_threshold must be at least 1")
        self.name = name
        self.clock = clock
        self.failure_threshold = failure_threshold
        self.open_seconds = open_seconds
        self.probe_seconds = probe_seconds
        self.failures = 0
        self._opened_at: float | None = None
        self._probe_until: float | None = None
        metrics.CIRCUIT.labels(name).set(Circuit.CLOSED.value)

    @property
    def state(self) -> Circuit:
        if self._opened_at is None:
            state = Circuit.CLOSED
        elif self.clock.now() < self._opened_at + self.open_seconds:
            state = Circuit.OPEN
        else:
            state = Circuit.HALF_OPEN
        metrics.CIRCUIT.labels(self.name).set(state.value)
        return state

    def available(self) -> bool:
        """Whether a send may go to this provider now (without taking the probe slot)."""
        state = self.state
        if state is Circuit.CLOSED:
            return True
        if state is Circuit.OPEN:
            return False
        return self._probe_until is None or self.clock.now() >= self._probe_until

    def acquire(self) -> bool:
        """Take the right to send now; in half-open state this is the single probe."""
        if not self.available():
            return False
        if self.state is Circuit.HALF_OPEN:
            self._probe_until = self.clock.now() + self.probe_seconds
        return True

    def next_available_at(self) -> float:
        """When ``available()`` may next be true (now, if it is)."""
        now = self.clock.now()
        state = self.state
        if state is Circuit.OPEN:
            assert self._opened_at is not None
            return self._opened_at + self.open_seconds
        if state is Circuit.HALF_OPEN and self._probe_until is not None:
            return max(now, self._probe_until)
        return now

    def success(self) -> None:
        self.failures = 0
        self._opened_at = None
        self._probe_until = None
        metrics.CIRCUIT.labels(self.name).set(Circuit.CLOSED.value)

    def failure(self) -> None:
        state = self.state
        self.failures += 1
        if state is Circuit.HALF_OPEN or (
            state is Circuit.CLOSED and self.failures >= self.failure_threshold
        ):
            self._opened_at = self.clock.now()
            self._probe_until = None
            metrics.CIRCUIT.labels(self.name).set(Circuit.OPEN.value)

    def release(self) -> None:
        """The probe ended without a verdict on the provider (e.g. an invalid number)."""
        self._probe_until = None
