"""Redis adapters: the event bus and the rate limiter shared by every node of a cluster."""
