"""HTTP routes: POST /api/<method>, the WebSocket at /api/ws, health, OpenAPI and docs."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress

import prometheus_client
from aiohttp import web
from aiohttp.typedefs import Handler

from chapar.api.dispatch import Call, Dispatcher, error_body
from chapar.api.openapi import build_openapi, docs_html
from chapar.api.ws import WsRegistry, WsSession
from chapar.config import Settings
from chapar.errors import ChaparError, NotFound, PayloadTooLarge, Unauthorized
from chapar.ports.bus import EventBus
from chapar.ports.store import Store
from chapar.protocol.envelope import decode_frame, encode_error
from chapar.services.auth import AuthContext, AuthService

JSON = "application/json"


def error_response(e: ChaparError) -> web.Response:
    headers = {}
    body = error_body(e)
    if body.retry_after is not None:
        headers["Retry-After"] = str(body.retry_after)
    return web.Response(body=encode_error(body), status=e.code, content_type=JSON, headers=headers)


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("AUTH_KEY_INVALID", "use Authorization: Bearer <token>")
    return token.strip()


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(spec: str) -> tuple[Network, ...]:
    """``"127.0.0.0/8, 10.0.0.5"`` -> networks; ValueError names a malformed entry."""
    nets = []
    for item in filter(None, (x.strip() for x in spec.split(","))):
        try:
            nets.append(ipaddress.ip_network(item, strict=False))
        except ValueError as e:
            raise ValueError(f"trusted_proxies: {item!r} is not an address or network") from e
    return tuple(nets)


def _trusted(address: str, proxies: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def client_ip(request: web.Request, proxies: tuple[Network, ...] = ()) -> str:
    """The client's address. Behind a trusted balancer that is the last address in
    X-Forwarded-For not itself a trusted proxy: each proxy appends the address it saw,
    so everything left of the first untrusted hop could have been written by the
    client and is ignored."""
    peer = request.remote or ""
    if not proxies or not _trusted(peer, proxies):
        return peer
    hops = [
        hop.strip()
        for header in request.headers.getall("X-Forwarded-For", [])
        for hop in header.split(",")
        if hop.strip()
    ]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return hop
    return hops[0] if hops else peer


class Routes:
    def __init__(
        self,
        settings: Settings,
        dispatcher: Dispatcher,
        auth: AuthService,
        store: Store,
        bus: EventBus,
        registry: WsRegistry,
    ) -> None:
        self.s = settings
        self.dispatcher = dispatcher
        self.auth = auth
        self.store = store
        self.bus = bus
        self.registry = registry
        self.proxies = parse_networks(settings.trusted_proxies)
        self._touches: set[asyncio.Task[None]] = set()  # held until done (tasks are weak)
        self.openapi = build_openapi()
        self.docs = docs_html(self.openapi)

    def add_to(self, app: web.Application) -> None:
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/api/openapi.json", self.openapi_json)
        app.router.add_get("/api/docs", self.api_docs)
        app.router.add_get("/api/ws", self.websocket)
        app.router.add_route("*", "/api/{method}", self.api_call)

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def readyz(self, request: web.Request) -> web.Response:
        ok = await self.store.ping()
        return web.json_response({"ok": ok, "store": ok}, status=200 if ok else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        body = prometheus_client.generate_latest()
        return web.Response(
            body=body, headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST}
        )

    async def openapi_json(self, request: web.Request) -> web.Response:
        return web.json_response(self.openapi)

    async def api_docs(self, request: web.Request) -> web.Response:
        return web.Response(text=self.docs, content_type="text/html")

    async def _authenticate(self, token: str | None) -> AuthContext | None:
        return None if token is None else await self.auth.resolve_token(token)

    async def api_call(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            if request.method != "POST":
                if method in self.dispatcher.handlers:
                    raise ChaparError("HTTP_METHOD_INVALID", "call API methods with POST")
                raise NotFound("METHOD_INVALID", f"unknown method {method[:64]!r}")
            if (
                request.content_length is not None
                and request.content_length > self.s.max_body_bytes
            ):
                raise PayloadTooLarge(
                    "BODY_TOO_LARGE", f"a body holds at most {self.s.max_body_bytes} bytes"
                )
            try:
                body = await request.read()
            except web.HTTPRequestEntityTooLarge as e:
                raise PayloadTooLarge(
                    "BODY_TOO_LARGE", f"a body holds at most {self.s.max_body_bytes} bytes"
                ) from e
            token = bearer_token(request)
            auth = None
            if token is not None or self.dispatcher.requires_auth(method):
                auth = await self._authenticate(token)
        except ChaparError as e:
            return error_response(e)
        status, answer = await self.dispatcher.call(
            method, body, Call(auth=auth, ip=client_ip(request, self.proxies))
        )
        headers = {}
        if status == 429:  # a service's FloodWait: mirror retry_after in the HTTP header
            err = decode_frame(answer).error
            if err is not None and err.retry_after is not None:
                headers["Retry-After"] = str(err.retry_after)
        return web.Response(body=answer, status=status, content_type=JSON, headers=headers)

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        try:
            token = bearer_token(request) or request.query.get("token") or None
            auth = await self._authenticate(token)
        except ChaparError as e:
            return error_response(e)
        # aiohttp's own limit closes the socket; ours (smaller) answers with an error frame.
        ws = web.WebSocketResponse(
            heartbeat=30, compress=False, max_msg_size=self.s.max_frame_bytes * 4, decode_text=False
        )
        await ws.prepare(request)
        session = WsSession(
            ws,
            self.dispatcher,
            self.bus,
            self.auth,
            self.registry,
            client_ip(request, self.proxies),
            self.s.max_frame_bytes,
            self.s.ws_send_queue,
            transport=request.transport,
            queue_bytes=self.s.ws_send_queue_bytes,
        )
        if auth is not None:
            # "Last active" in account.getAuthorizations: worth a write, not a refusal, and
            # not a wait: awaited here, the commit would stand between the client's 101 and
            # the session's subscription, and a push in that gap would reach nobody.
            touch = asyncio.create_task(self._touch(auth))
            self._touches.add(touch)
            touch.add_done_callback(self._touches.discard)
        await session.run(auth)
        return ws

    async def _touch(self, auth: AuthContext) -> None:
        with contextlib.suppress(ChaparError):
            await self.auth.touch(auth)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer aiohttp's own errors (unknown path, bad request line…) with the envelope on /api."""
    try:
        return await handler(request)
    except web.HTTPException as e:
        if not request.path.startswith("/api") or e.status < 400:
            raise
        kind = {404: "NOT_FOUND", 405: "HTTP_METHOD_INVALID", 413: "BODY_TOO_LARGE"}.get(
            e.status, "BAD_REQUEST"
        )
        err = ChaparError(kind, e.reason)
        err.code = e.status
        return error_response(err)
