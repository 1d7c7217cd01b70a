"""The composition root: reads settings, builds the adapters, hands them to the services,
and serves the doors. The only module that knows which adapter serves which port."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from dataclasses import dataclass

import structlog
from aiohttp import web

from chapar import metrics
from chapar.adapters.fs.blobs import FsBlobStore
from chapar.adapters.mail.console import ConsoleMail
from chapar.adapters.memory.bus import MemoryBus
from chapar.adapters.memory.limiter import MemoryLimiter
from chapar.adapters.memory.presence import MemoryPresence
from chapar.adapters.postgres.store import PostgresStore
from chapar.adapters.redis.bus import RedisBus
from chapar.adapters.redis.limiter import RedisLimiter
from chapar.adapters.redis.presence import RedisPresence
from chapar.adapters.s3.blobs import S3BlobStore
from chapar.adapters.sms.console import ConsoleSms
from chapar.adapters.sms.factory import build_providers
from chapar.adapters.sqlite.store import SqliteStore
from chapar.api.dispatch import Dispatcher, Services
from chapar.api.fanout import ChatFanout
from chapar.api.files import FileRoutes
from chapar.api.http import Routes, error_middleware
from chapar.api.sms_webhooks import add_sms_webhook_routes
from chapar.api.web import add_web_routes
from chapar.api.ws import WsRegistry
from chapar.config import Settings
from chapar.ports.clock import Clock, Random, SystemClock, SystemRandom
from chapar.services.account import AccountService
from chapar.services.auth import AuthService
from chapar.services.chat_messages import ChatMessagesService
from chapar.services.chats import ChatsService
from chapar.services.deps import SESSIONS_TOPIC, Deps
from chapar.services.limits import LimitGuard, Limits, blocked_prefixes
from chapar.services.media import MediaService
from chapar.services.messages import MessagesService
from chapar.services.presence import PresenceService
from chapar.services.search import SearchService
from chapar.services.sms_delivery import SmsDelivery, build_delivery
from chapar.services.updates import UpdatesService
from chapar.services.users import UsersService

log = structlog.get_logger(__name__)


@dataclass
class Chapar:
    settings: Settings
    deps: Deps
    services: Services
    web_app: web.Application
    registry: WsRegistry
    store: SqliteStore | PostgresStore
    bus: MemoryBus | RedisBus
    limiter: MemoryLimiter | RedisLimiter
    sms: SmsDelivery


def make_store(settings: Settings) -> SqliteStore | PostgresStore:
    url = settings.database_url
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresStore(url)
    return SqliteStore(settings.sqlite_path(), synchronous=settings.sqlite_synchronous)


def make_bus(settings: Settings) -> MemoryBus | RedisBus:
    if settings.redis_url:
        return RedisBus(settings.redis_url, prefix=settings.redis_prefix)
    return MemoryBus()


def watch_bus(bus: MemoryBus | RedisBus) -> None:
    """Expose the bus's health as metrics (an in-process bus is always connected)."""
    if isinstance(bus, RedisBus):
        metrics.BUS_CONNECTED.set_function(lambda: float(bus.stats.connected))
        metrics.BUS_DROPPED.set_function(lambda: float(bus.stats.dropped))
        metrics.BUS_BACKLOG.set_function(lambda: float(bus.backlog()))
        metrics.BUS_PUBLISHED.set_function(lambda: float(bus.stats.published))
        metrics.BUS_RECEIVED.set_function(lambda: float(bus.stats.received))
    else:
        metrics.BUS_CONNECTED.set(1)


def make_blobs(settings: Settings) -> FsBlobStore | S3BlobStore:
    """Filesystem under the data dir by default; an S3-compatible bucket when blob_url says."""
    if settings.blob_url:
        return S3BlobStore.from_url(settings.blob_url)
    return FsBlobStore(settings.data_path / "blobs")


def make_presence(settings: Settings, clock: Clock) -> MemoryPresence | RedisPresence:
    if settings.redis_url:
        return RedisPresence(settings.redis_url, clock, prefix=settings.redis_prefix)
    return MemoryPresence(clock)


def make_limiter(settings: Settings) -> MemoryLimiter | RedisLimiter:
    if settings.redis_url:
        return RedisLimiter(settings.redis_url, prefix=settings.redis_prefix + "limits")
    return MemoryLimiter()


async def build(
    settings: Settings, clock: Clock | None = None, random: Random | None = None
) -> Chapar:
    if settings.sms_gateway != "console":
        raise ValueError(f"unknown sms_gateway {settings.sms_gateway!r}; available: console")
    if settings.mail_gateway != "console":
        raise ValueError(f"unknown mail_gateway {settings.mail_gateway!r}; available: console")
    limits = Limits.from_settings(settings.limits)
    blocked = blocked_prefixes(settings.blocked_phone_prefixes)
    store = make_store(settings)
    await store.open()
    bus = make_bus(settings)
    watch_bus(bus)
    sms = ConsoleSms(settings.data_path / "sms-outbox.jsonl")
    deps = Deps(settings, store, bus, sms, clock or SystemClock(), random or SystemRandom())
    # Codes go out from the durable outbox through the configured providers (docs/operations.md).
    providers = build_providers(
        settings.sms_providers, settings.data_path, settings.sms_delivery.public_url
    )
    sms_delivery = build_delivery(settings, store, providers, deps.clock)
    await sms_delivery.start()
    blobs = make_blobs(settings)
    chats = ChatsService(deps)
    chat_messages = ChatMessagesService(deps, chats)
    limiter = make_limiter(settings)
    mail = ConsoleMail(settings.data_path / "mail-outbox.jsonl")
    auth = AuthService(deps, LimitGuard(limiter, limits, blocked), mail, sms_delivery)
    services = Services(
        auth=auth,
        account=AccountService(deps, auth, mail),
        users=UsersService(deps),
        messages=MessagesService(deps, chat_messages),
        chats=chats,
        search=SearchService(deps),
        media=MediaService(deps, blobs, chat_messages),
        updates=UpdatesService(deps),
        presence=PresenceService(deps, make_presence(settings, deps.clock)),
    )
    registry = WsRegistry(ChatFanout(bus, store), services.presence)
    if isinstance(bus, RedisBus):  # pushes published while it was away are gone
        bus.on_reconnect(registry.too_long)

    def on_revoked(_topic: str, payload: bytes) -> None:
        sid = int(payload)
        services.auth.forget_session(sid)
        registry.revoke(sid)

    bus.subscribe(SESSIONS_TOPIC, on_revoked)
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[error_middleware])
    Routes(settings, Dispatcher(services), services.auth, store, bus, registry).add_to(app)
    FileRoutes(services.auth, services.media).add_to(app)
    add_web_routes(app)
    add_sms_webhook_routes(app, sms_delivery)
    return Chapar(settings, deps, services, app, registry, store, bus, limiter, sms_delivery)


async def close(c: Chapar) -> None:
    c.registry.fanout.close()
    await c.sms.close()  # before the store: it hands its claims back
    await c.services.presence.close()  # before the bus: the last offline pushes
    await c.limiter.close()
    await c.bus.close()
    await c.store.close()
    await c.services.media.blobs.close()


async def drain(c: Chapar) -> None:
    """Tell every WebSocket client to reconnect elsewhere (1001 going away)."""

    async def close_one(ws: web.WebSocketResponse) -> None:
        with contextlib.suppress(Exception):
            await ws.close(code=1001, message=b"server shutting down")

    # Concurrently and bounded: a client that never answers the close must not hold us.
    closing = [close_one(s.ws) for s in tuple(c.registry.all)]
    if closing:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*closing), c.settings.shutdown_timeout_seconds)


def log_access(settings: Settings) -> logging.Logger | None:
    # Off by default: a line per request costs more than the request on the hot path.
    return logging.getLogger("aiohttp.access") if settings.access_log else None


def tune_gc() -> None:
    """Make CPython's cycle collector cheap for a server that holds many connections.

    Why: with 5,000 live WebSockets, bench/channel.py saw full collections stop the event
    loop for 0.45-1.3 s each (13 in 45 s), freeing almost nothing, so a channel post then
    took up to 2 s to reach its subscribers. Objects alive after start-up (modules, tables,
    the app) are frozen out of every collection, and the young generation is collected
    after 50,000 allocations instead of 700: fewer collections, fewer objects promoted to
    the old generations, and far fewer full collections. Garbage without cycles is freed
    by reference counting as before; cycles wait a little longer.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)


async def serve(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT, then drain connections and close the store cleanly."""
    c = await build(settings)
    tune_gc()
    runner = web.AppRunner(
        c.web_app,
        shutdown_timeout=settings.shutdown_timeout_seconds,
        handle_signals=False,
        access_log=log_access(settings),
    )
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, reuse_address=True)
    await site.start()
    log.info("serving", host=settings.host, port=settings.port, data_dir=settings.data_dir)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("draining", connections=len(c.registry.all))
    await drain(c)
    await runner.cleanup()
    await close(c)
    log.info("stopped")
