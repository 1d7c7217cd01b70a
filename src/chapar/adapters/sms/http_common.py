"""What the HTTP providers share: one pooled httpx client each, httpx errors translated at
the boundary (nothing from httpx escapes an adapter), and small helpers for answers and
webhooks.

Why httpx: one async client with connection pooling, per-request timeouts and HTTP/1.1
keep-alive, so a code costs one request on a warm connection; its transport errors are one
tree that maps cleanly onto ``SmsSendError``.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx

from chapar.adapters.sms.base import Provider
from chapar.ports.sms_provider import Kind, SmsSendError, WebhookForbidden, WebhookRequest

# Past this, the delivery service's own timeout has already cancelled the send; httpx's is
# a backstop so that no connection lingers.
TIMEOUT_MARGIN = 1.0


class HttpProvider(Provider):
    def __init__(self, name: str, kinds: frozenset[Kind], timeout: float, **client: object) -> None:
        super().__init__(name, kinds)
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout + TIMEOUT_MARGIN),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            **client,  # type: ignore[arg-type]
        )

    async def close(self) -> None:
        await self.client.aclose()


@asynccontextmanager
async def translated(provider: str) -> AsyncIterator[None]:
    """Turn httpx's errors into the port's: a timeout stays a ``TimeoutError`` (the
    delivery service counts it as one), anything else on the wire is an ``UNREACHABLE``
    provider fault."""
    try:
        yield
    except httpx.TimeoutException as e:
        raise TimeoutError(f"{provider}: {type(e).__name__}") from e
    except httpx.HTTPError as e:
        raise SmsSendError("UNREACHABLE", f"{provider}: {type(e).__name__}: {e}") from e


def json_answer(r: httpx.Response, provider: str) -> object:
    try:
        return r.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SmsSendError(
            "BAD_ANSWER", f"{provider} answered {r.status_code} with a body that is not JSON"
        ) from e


def dig(value: object, path: str) -> object:
    """The value at a dotted path ("data.id", "entries.0.messageid"), or None."""
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def fields(req: WebhookRequest) -> dict[str, str]:
    """Query, form and flat JSON fields of a webhook request, merged (later wins)."""
    out = dict(req.query)
    out.update(req.form)
    if isinstance(req.json, Mapping):
        out.update({str(k): str(v) for k, v in req.json.items() if not isinstance(v, dict | list)})
    return out


def check_secret(req: WebhookRequest, secret: str) -> None:
    """Providers that cannot sign their callbacks are given a URL with ?secret=…."""
    if not secret:
        return
    given = req.query.get("secret", "")
    if not hmac.compare_digest(given.encode(), secret.encode()):
        raise WebhookForbidden("wrong or missing secret")
