"""Prometheus metrics of the process, served at GET /metrics (text exposition format).

Declared once here, as module-level objects of the default registry, so any layer can
count without being handed a registry. Per-node values: aggregate across nodes in
Prometheus. See docs/operations.md for what each means and how to read it.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

API_REQUESTS = Counter(
    "chapar_api_requests_total",
    "API calls by method, door (http, ws) and outcome (ok, client_error, server_error).",
    ["method", "door", "outcome"],
)
API_SECONDS = Histogram(
    "chapar_api_request_seconds",
    "Time to answer an API call, by method.",
    ["method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
)
WS_CONNECTIONS = Gauge("chapar_ws_connections", "Open WebSocket connections on this node.")
WS_SLOW_CONSUMERS = Counter(
    "chapar_ws_slow_consumer_disconnects_total",
    "WebSockets closed because their client stopped reading (send queue full).",
)
PUSH_FRAMES = Counter(
    "chapar_push_frames_total", "Frames queued to WebSockets (answers and pushes)."
)
MESSAGES = Counter("chapar_messages_total", "Messages written, by chat kind.", ["kind"])
STORE_COMMIT_SECONDS = Histogram(
    "chapar_store_commit_seconds",
    "Time of one group commit (statements and COMMIT), by engine.",
    ["engine"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
)
STORE_BATCH_SIZE = Histogram(
    "chapar_store_batch_operations",
    "Operations committed together in one group commit, by engine.",
    ["engine"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)
STORE_QUEUE = Gauge(
    "chapar_store_write_queue", "Write operations waiting for the writer.", ["engine"]
)
STORE_ERRORS = Counter(
    "chapar_store_errors_total", "Failed commits or reads (store unreachable…).", ["engine"]
)
BUS_CONNECTED = Gauge("chapar_bus_connected", "1 while the event bus backend is reachable.")
BUS_DROPPED = Gauge(
    "chapar_bus_dropped_total", "Push hints dropped because the bus was unreachable."
)
BUS_BACKLOG = Gauge(
    "chapar_bus_publish_backlog", "Push hints published on this node, not yet sent to Redis."
)
BUS_PUBLISHED = Gauge("chapar_bus_published_total", "Push hints this node sent to Redis.")
BUS_RECEIVED = Gauge(
    "chapar_bus_received_total", "Push hints from Redis for topics with sessions on this node."
)
