"""A CDN edge: serves encrypted file parts from its cache (on disk, the hottest also in
RAM), fetching misses from the origin, to clients that present a token the origin signed.
See docs/media.md.

    GET /cdn/<file_id>/<n>?token=<token>   one encrypted part
    GET /stats                              counters, for operators and tests
    GET /healthz

What the edge never has: a file key, the origin's signing key, a user's credentials. It
holds ciphertext and the origin's public key; a client checks every part against the
SHA-256 the origin gave it and decrypts by itself (client/cdn.py). Anyone who seizes an
edge learns which file ids were popular, nothing of their content.

Concurrent misses for the same part share one origin fetch (single flight), so a burst of
clients on a new post costs the origin one transfer per part, not one per client.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import structlog
from aiohttp import web

from chapar.edge.cache import PartCache, part_key
from chapar.edge.token import Grant, TokenError, TokenVerifier
from chapar.protocol import filecrypt
from chapar.protocol.envelope import ErrorBody, encode_error

log = structlog.get_logger(__name__)
_JSON = "application/json"
# Tokens already checked, so a hot file's many requests cost one signature check each
# per client, not one per part; cleared when full (a cache, not a record).
_VERDICTS = 50_000


@dataclass
class EdgeConfig:
    origin: str
    cache_dir: Path
    cache_size: int
    # How much of the cache is also kept in RAM (the hottest parts).
    memory_size: int = 256 * 1024 * 1024
    host: str = "127.0.0.1"
    port: int = 8090
    # The origin's Ed25519 public key (32 bytes); None: ask the origin at start-up.
    origin_key: bytes | None = None
    origin_timeout_seconds: float = 30.0


@dataclass
class EdgeStats:
    hits: int = 0
    # Hits served from RAM (the rest of the hits read the part's file).
    memory_hits: int = 0
    misses: int = 0
    # Requests served by waiting on a fetch another request had already started.
    coalesced: int = 0
    origin_fetches: int = 0
    origin_bytes: int = 0
    origin_errors: int = 0
    tokens_refused: int = 0
    served_bytes: int = 0


class OriginError(Exception):
    """The origin refused or failed a fetch; ``status`` is what the client is told."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"origin answered {status}")
        self.status = status
        self.body = body


def _error(status: int, type_: str, message: str) -> web.Response:
    body = encode_error(ErrorBody(code=status, type=type_, message=message))
    return web.Response(status=status, body=body, content_type=_JSON)


class Edge:
    def __init__(self, cfg: EdgeConfig, clock: Callable[[], float] = time.time) -> None:
        self.cfg = cfg
        self.origin = cfg.origin.rstrip("/")
        self.cache = PartCache(cfg.cache_dir, cfg.cache_size, min(cfg.memory_size, cfg.cache_size))
        self.stats = EdgeStats()
        self.clock = clock
        self._verifier: TokenVerifier | None = (
            TokenVerifier(cfg.origin_key) if cfg.origin_key is not None else None
        )
        self._verdicts: dict[str, Grant] = {}
        self._inflight: dict[str, asyncio.Task[bytes]] = {}
        self._http: aiohttp.ClientSession | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        await asyncio.to_thread(self.cache.load)
        self._http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.cfg.origin_timeout_seconds),
            auto_decompress=False,
        )
        if self._verifier is None:
            self._verifier = TokenVerifier(await self._fetch_origin_key())
        log.info(
            "edge cache loaded",
            parts=len(self.cache),
            bytes=self.cache.size,
            capacity=self.cache.capacity,
        )

    async def close(self) -> None:
        for task in list(self._inflight.values()):
            task.cancel()
        if self._http is not None:
            await self._http.close()

    async def _fetch_origin_key(self) -> bytes:
        """The origin's public key (trust on first use: pin it with --origin-key)."""
        assert self._http is not None
        url = f"{self.origin}/api/cdn/key"
        last: Exception | None = None
        for _ in range(50):  # the origin may still be starting: ~10 s, bounded
            try:
                async with self._http.get(url) as r:
                    body = await r.json(content_type=None)
                    if r.status == 200 and body.get("ok"):
                        return bytes.fromhex(body["result"]["public_key"])
                    last = RuntimeError(f"{url} answered {r.status}")
            except (aiohttp.ClientError, ValueError, KeyError, TypeError) as e:
                last = e
            await asyncio.sleep(0.2)
        raise RuntimeError(f"cannot get the origin's key from {url}: {last}")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/cdn/{file_id}/{n}", self.get_part)
        app.router.add_get("/stats", self.get_stats)
        app.router.add_get("/healthz", self.healthz)
        return app

    # -- tokens -------------------------------------------------------------------------------
    def _check(self, token: str, file_id: int) -> None:
        now = int(self.clock())
        grant = self._verdicts.get(token)
        if grant is None:
            assert self._verifier is not None
            grant = self._verifier.verify(token, file_id, now)
            if len(self._verdicts) >= _VERDICTS:
                self._verdicts.clear()
            self._verdicts[token] = grant
        if grant.file_id != file_id:
            raise TokenError("the token is for another file")
        if grant.expires < now:
            raise TokenError("the token expired; ask the origin for a new one", expired=True)

    # -- handlers -----------------------------------------------------------------------------
    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def get_stats(self, request: web.Request) -> web.Response:
        s = self.stats
        return web.json_response(
            {
                "hits": s.hits,
                "memory_hits": s.memory_hits,
                "misses": s.misses,
                "coalesced": s.coalesced,
                "origin_fetches": s.origin_fetches,
                "origin_bytes": s.origin_bytes,
                "origin_errors": s.origin_errors,
                "tokens_refused": s.tokens_refused,
                "served_bytes": s.served_bytes,
                "cache_parts": len(self.cache),
                "cache_bytes": self.cache.size,
                "cache_capacity": self.cache.capacity,
                "memory_bytes": self.cache.hot_size,
                "memory_capacity": self.cache.memory,
                "evictions": self.cache.evictions,
            }
        )

    async def get_part(self, request: web.Request) -> web.StreamResponse:
        try:
            file_id = int(request.match_info["file_id"])
            n = int(request.match_info["n"])
        except ValueError:
            return _error(400, "INPUT_INVALID", "file id and part number are integers")
        if file_id < 0 or not 0 <= n < 1_000_000:
            return _error(400, "INPUT_INVALID", "file id or part number out of range")
        token = request.query.get("token", "")
        try:
            self._check(token, file_id)
        except TokenError as e:
            self.stats.tokens_refused += 1
            if e.expired:
                return _error(401, "CDN_TOKEN_EXPIRED", str(e))
            return _error(403, "CDN_TOKEN_INVALID", str(e))
        key = part_key(file_id, n)
        headers = {
            # Ciphertext under a key only the client has: any cache may keep it.
            "Cache-Control": "public, max-age=31536000, immutable",
            "Content-Type": "application/octet-stream",
        }
        data = await self._cached(key)
        if data is None:
            self.stats.misses += 1
            try:
                data = await self._fetch(file_id, n, token)
            except OriginError as e:
                if 400 <= e.status < 500:
                    return web.Response(status=e.status, body=e.body, content_type=_JSON)
                return _error(502, "ORIGIN_UNAVAILABLE", f"the origin answered {e.status}")
        self.stats.served_bytes += len(data)
        return web.Response(body=data, headers=headers)

    async def _cached(self, key: str) -> bytes | None:
        """The part from RAM, else from its file (then kept in RAM); None on a miss."""
        data = self.cache.hot(key)
        if data is not None:
            self.stats.hits += 1
            self.stats.memory_hits += 1
            return data
        if self.cache.lookup(key) is None:
            return None
        data = await asyncio.to_thread(self.cache.read_file, key)
        if data is None:  # evicted, or removed by hand, while we read: a miss
            self.cache.forget(key)
            return None
        self.stats.hits += 1
        self.cache.remember(key, data)
        return data

    # -- origin -------------------------------------------------------------------------------
    async def _fetch(self, file_id: int, n: int, token: str) -> bytes:
        """The part's bytes, fetched once however many requests want it at the same time."""
        key = part_key(file_id, n)
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.create_task(self._pull(file_id, n, token))
            self._inflight[key] = task
            task.add_done_callback(lambda t: self._done(key, t))
        else:
            self.stats.coalesced += 1
        # shield: a client that hangs up must not cancel the fetch others wait for.
        return await asyncio.shield(task)

    def _done(self, key: str, task: asyncio.Task[bytes]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved: waiters that left must not make it "unretrieved"

    async def _pull(self, file_id: int, n: int, token: str) -> bytes:
        assert self._http is not None
        url = f"{self.origin}/api/cdn/{file_id}/{n}"
        self.stats.origin_fetches += 1
        try:
            async with self._http.get(url, params={"token": token}) as r:
                if r.status != 200:
                    self.stats.origin_errors += 1
                    raise OriginError(r.status, await r.content.read(4096))
                if (r.content_length or 0) > filecrypt.PART_SIZE:
                    self.stats.origin_errors += 1
                    raise OriginError(502, b"")
                buf = bytearray()
                async for chunk in r.content.iter_any():
                    buf += chunk
                    if len(buf) > filecrypt.PART_SIZE:  # never buffer more than a part
                        self.stats.origin_errors += 1
                        raise OriginError(502, b"")
                data = bytes(buf)
        except (aiohttp.ClientError, TimeoutError) as e:
            self.stats.origin_errors += 1
            log.warning("origin fetch failed", file_id=file_id, n=n, error=str(e))
            raise OriginError(502, b"") from e
        self.stats.origin_bytes += len(data)
        key = part_key(file_id, n)
        if self.cache.fits(len(data)):
            await asyncio.to_thread(self.cache.write_file, key, data)
            self.cache.admit(key, data)
        return data


async def serve_edge(cfg: EdgeConfig) -> None:
    """Run an edge until SIGTERM or SIGINT."""
    edge = Edge(cfg)
    await edge.start()
    runner = web.AppRunner(edge.app(), handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, cfg.host, cfg.port, reuse_address=True)
    await site.start()
    log.info("edge serving", host=cfg.host, port=cfg.port, origin=edge.origin)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    await edge.close()
    log.info("edge stopped")
