"""Metrics of SMS delivery, as plain module-level prometheus_client objects in the default
registry, so whichever module serves /metrics exposes them without wiring.

How to read them: docs/operations.md. Latencies to acceptance and to the delivery report
are measured from the request (the enqueue), so they include time in the outbox and any
failover; ``chapar_sms_provider_call_seconds`` is the provider's own answer time.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Codes are worth little after a minute: fine buckets up to there, coarse after.
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300)

ENQUEUED = Counter(
    "chapar_sms_enqueued",
    "Messages written to the outbox.",
    ["kind"],
)
SENDS = Counter(
    "chapar_sms_sends",
    "Hand-overs to a provider and what became of them: accepted, rejected (the provider"
    " refused this message), error, timeout; later delivered, undelivered or no_report.",
    ["provider", "kind", "outcome"],
)
PROVIDER_CALL_SECONDS = Histogram(
    "chapar_sms_provider_call_seconds",
    "How long one provider call took, whatever its outcome.",
    ["provider", "kind"],
    buckets=_LATENCY_BUCKETS,
)
ACCEPT_SECONDS = Histogram(
    "chapar_sms_accept_seconds",
    "From the request to a provider accepting the message.",
    ["provider", "kind"],
    buckets=_LATENCY_BUCKETS,
)
DELIVERY_SECONDS = Histogram(
    "chapar_sms_delivery_seconds",
    "From the request to the delivery report.",
    ["provider", "kind"],
    buckets=_LATENCY_BUCKETS,
)
FINISHED = Counter(
    "chapar_sms_messages_finished",
    "Messages that reached an end: delivered, sent (accepted by a provider that sends no"
    " reports), failed (every round failed) or expired (too old to be worth sending).",
    ["kind", "state"],
)
CIRCUIT = Gauge(
    "chapar_sms_circuit_state",
    "Circuit of each provider on this node: 0 closed, 1 half-open, 2 open.",
    ["provider"],
)
