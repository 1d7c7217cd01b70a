"""The doors: HTTP routes, WebSocket sessions and the OpenAPI document. Thin: they decode,
authenticate, call a service and encode; business rules live in services/."""
