"""The CDN edge with real processes: an origin (tests.server.ServerProcess) and edges run
as ``python -m chapar edge`` children, all on loopback.

What is proved: a hot file reaches many clients while the origin sends each part once
(counted on both sides: the edge's stats and the origin's own log lines); a tampered edge
cache is caught by the client's hash check and the client falls back to the origin; forged
and expired tokens get 4xx from the edge and the origin; the cache keeps within its size,
evicting the least recently used part; the origin's policy sends only public channels' files
to the edges. No test waits a fixed time or asserts a duration.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import re
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from chapar.client.cdn import (
    CdnDownloadError,
    DownloadReport,
    download_redirect,
    get_media,
    get_media_url,
)
from chapar.config import Settings
from chapar.db.chats import ChatRow
from chapar.edge.cache import PartCache, part_key
from chapar.edge.token import TokenSigner
from chapar.services.media import goes_to_edges, pick_edge
from tests.server import Api, ServerProcess, free_port

PART = 512 * 1024
_ids = itertools.count(random.randrange(1, 2**40))
MIN_SUBSCRIBERS = 2


class EdgeProcess:
    """``chapar edge`` in a child process, with its output in a log file."""

    def __init__(self, origin: str, cache_dir: Path, cache_size: int, port: int | None = None):
        self.origin = origin
        self.cache_dir = cache_dir
        self.cache_size = cache_size
        self.port = port or free_port()
        self.log_path = cache_dir.parent / f"edge-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        argv = [
            sys.executable, "-m", "chapar", "edge", "--origin", self.origin,
            "--port", str(self.port), "--cache-dir", str(self.cache_dir),
            "--cache-size", str(self.cache_size),
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"edge exited: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("edge did not start in time")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


@pytest.fixture(scope="module")
def cdn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, EdgeProcess]]:
    """An origin whose policy sends public channels with 2+ members to one edge."""
    root = tmp_path_factory.mktemp("cdn")
    edge_port = free_port()
    origin = ServerProcess(
        root / "origin",
        env={
            "CHAPAR_CDN_EDGES": f"http://127.0.0.1:{edge_port}",
            "CHAPAR_CDN_POLICY": "public_channels",
            "CHAPAR_CDN_MIN_SUBSCRIBERS": str(MIN_SUBSCRIBERS),
        },
    )
    origin.start()
    edge = EdgeProcess(origin.url, root / "edge-cache", 64 * PART, edge_port)
    try:
        edge.start()
        yield origin, edge
    finally:
        edge.stop()
        origin.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def upload(http: aiohttp.ClientSession, base: str, token: str, data: bytes) -> int:
    fid = next(_ids)
    parts = [data[i : i + PART] for i in range(0, len(data), PART)]
    for n, part in enumerate(parts):
        async with http.put(
            f"{base}/api/files/{fid}/parts/{n}?total={len(parts)}",
            data=part,
            headers={"Authorization": f"Bearer {token}"},
        ) as r:
            assert r.status == 200, await r.text()
    return fid


async def post_file(
    api: Api, http: aiohttp.ClientSession, base: str, token: str, chat_id: int, data: bytes
) -> int:
    fid = await upload(http, base, token, data)
    file = {"id": fid, "parts": -(-len(data) // PART), "mime_type": "video/mp4", "name": "v.mp4"}
    sent = await api.ok(
        "messages.sendMedia",
        {"peer": {"chat_id": chat_id}, "random_id": next(_ids), "file": file},
        token,
    )
    return int(sent["message"]["id"])


async def public_channel(api: Api, owner: str, subscribers: list[str]) -> int:
    chat = (await api.ok("channels.createChannel", {"title": "News", "broadcast": True}, owner))[
        "chat"
    ]
    peer = {"chat_id": chat["id"]}
    await api.ok(
        "channels.updateUsername", {"channel": peer, "username": f"news{next(_ids)}"}, owner
    )
    for t in subscribers:
        await api.ok("channels.joinChannel", {"channel": peer}, t)
    return int(chat["id"])


def origin_parts_served(origin: ServerProcess, file_id: int) -> int:
    """How many encrypted parts of the file the origin sent over /api/cdn, from its log."""
    pattern = re.compile(rf"cdn part served .*\bfile_id={file_id}\b")
    return sum(1 for line in origin.log_path.read_text().splitlines() if pattern.search(line))


async def edge_stats(http: aiohttp.ClientSession, edge: EdgeProcess) -> dict[str, int]:
    async with http.get(edge.url + "/stats") as r:
        stats: dict[str, int] = await r.json()
        return stats


def cached_files(cache_dir: Path, file_id: int) -> dict[int, Path]:
    return {int(p.name.split(".")[1]): p for p in cache_dir.glob(f"*/{file_id}.*")}


async def test_a_hot_file_reaches_many_clients_while_the_origin_sends_it_once(
    cdn: tuple[ServerProcess, EdgeProcess], http: aiohttp.ClientSession
) -> None:
    origin, edge = cdn
    api = Api(http, origin.url)
    owner, _ = await api.sign_up("Owner")
    readers = [(await api.sign_up(f"Reader{i}"))[0] for i in range(8)]
    chat_id = await public_channel(api, owner, readers)
    data = os.urandom(3 * PART + 1234)
    msg_id = await post_file(api, http, origin.url, owner, chat_id, data)
    before = await edge_stats(http, edge)

    # 24 downloads at once of a part nobody fetched yet: the edge must fetch each part
    # once and make the rest wait for it.
    async def one(token: str) -> tuple[bytes, DownloadReport]:
        async with aiohttp.ClientSession() as own:
            return await get_media(own, origin.url, token, {"chat_id": chat_id}, msg_id)

    results = await asyncio.gather(*[one(t) for t in readers * 3])
    for got, report in results:
        assert got == data
        assert report.via_cdn and report.edge_url == edge.url
        assert report.parts_from_edge == 4 and report.parts_from_origin == 0
    after = await edge_stats(http, edge)
    assert after["origin_fetches"] - before["origin_fetches"] == 4
    assert after["hits"] + after["misses"] - before["hits"] - before["misses"] == 24 * 4
    fid = (await get_media_url(http, origin.url, owner, {"chat_id": chat_id}, msg_id)).cdn
    assert fid is not None
    assert origin_parts_served(origin, fid.file_id) == 4
    # What the edge keeps is ciphertext: no 64-byte run of the file lies in its cache.
    cache = b"".join(p.read_bytes() for p in cached_files(edge.cache_dir, fid.file_id).values())
    assert len(cache) == len(data)
    assert not any(data[i : i + 64] in cache for i in range(0, len(data) - 64, 4096))


async def test_a_tampered_edge_cache_is_caught_and_the_client_falls_back(
    cdn: tuple[ServerProcess, EdgeProcess], http: aiohttp.ClientSession
) -> None:
    origin, edge = cdn
    api = Api(http, origin.url)
    owner, _ = await api.sign_up("Owner")
    reader, _ = await api.sign_up("Reader")
    chat_id = await public_channel(api, owner, [reader])
    data = os.urandom(2 * PART + 99)
    msg_id = await post_file(api, http, origin.url, owner, chat_id, data)
    got, report = await get_media(http, origin.url, reader, {"chat_id": chat_id}, msg_id)
    assert got == data and report.parts_from_edge == 3
    redirect = (await get_media_url(http, origin.url, reader, {"chat_id": chat_id}, msg_id)).cdn
    assert redirect is not None
    files = cached_files(edge.cache_dir, redirect.file_id)
    assert sorted(files) == [0, 1, 2]
    blob = bytearray(files[1].read_bytes())
    blob[1000] ^= 0xFF  # one flipped byte: AES-CTR would turn it into one wrong byte
    files[1].write_bytes(bytes(blob))
    # The edge also keeps hot parts in RAM: restart it, as someone who seized it and
    # changed its disk would, so that it serves what is on disk.
    edge.stop()
    edge.start()
    served = origin_parts_served(origin, redirect.file_id)

    got, report = await get_media(http, origin.url, reader, {"chat_id": chat_id}, msg_id)
    assert got == data
    assert report.mismatched == [1]
    assert report.parts_from_edge == 2 and report.parts_from_origin == 1
    assert origin_parts_served(origin, redirect.file_id) == served + 1


async def test_an_edge_that_is_down_costs_only_a_detour_to_the_origin(
    cdn: tuple[ServerProcess, EdgeProcess], http: aiohttp.ClientSession
) -> None:
    origin, _ = cdn
    api = Api(http, origin.url)
    owner, _ = await api.sign_up("Owner")
    reader, _ = await api.sign_up("Reader")
    chat_id = await public_channel(api, owner, [reader])
    data = os.urandom(PART + 3)
    msg_id = await post_file(api, http, origin.url, owner, chat_id, data)
    redirect = (await get_media_url(http, origin.url, reader, {"chat_id": chat_id}, msg_id)).cdn
    assert redirect is not None
    redirect.edge_url = f"http://127.0.0.1:{free_port()}"  # nobody listens there
    report = DownloadReport()
    assert await download_redirect(http, origin.url, redirect, report) == data
    assert report.edge_failures == [0, 1] and report.parts_from_origin == 2
    # a part that matches its hash nowhere is an error, never a wrong file
    redirect.part_hashes[1] = "0" * 64
    with pytest.raises(CdnDownloadError):
        await download_redirect(http, origin.url, redirect)


def _origin_signer(origin: ServerProcess) -> TokenSigner:
    """The origin's signing key, read from its database as the origin derives it."""
    with sqlite3.connect(origin.data_dir / "chapar.sqlite3") as db:
        row = db.execute("SELECT value FROM secrets WHERE name = 'cdn'").fetchone()
    return TokenSigner(bytes.fromhex(row[0]))


async def _status(http: aiohttp.ClientSession, url: str, token: str) -> tuple[int, Any]:
    async with http.get(url, params={"token": token}) as r:
        return r.status, await r.json(content_type=None)


async def test_forged_and_expired_tokens_are_refused(
    cdn: tuple[ServerProcess, EdgeProcess], http: aiohttp.ClientSession
) -> None:
    origin, edge = cdn
    api = Api(http, origin.url)
    owner, _ = await api.sign_up("Owner")
    reader, _ = await api.sign_up("Reader")
    chat_id = await public_channel(api, owner, [reader])
    msg_id = await post_file(api, http, origin.url, owner, chat_id, os.urandom(PART + 5))
    redirect = (await get_media_url(http, origin.url, reader, {"chat_id": chat_id}, msg_id)).cdn
    assert redirect is not None
    fid, good = redirect.file_id, redirect.token
    before = await edge_stats(http, edge)
    fid_s, exp_s, sig = good.split(".")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    expired = _origin_signer(origin).sign(fid, int(time.time()) - 60)
    later = int(time.time()) + 10**6
    cases = {
        "forged signature": (f"{fid_s}.{exp_s}.{flipped}", 403),
        "expiry pushed back": (f"{fid_s}.{later}.{sig}", 403),
        "another file's token": (good.replace(f"{fid}.", f"{fid + 1}.", 1), 403),
        "signed by someone else": (TokenSigner(os.urandom(32)).sign(fid, later), 403),
        "garbage": ("not-a-token", 403),
        "none": ("", 403),
        "expired": (expired, 401),
    }
    for base in (f"{edge.url}/cdn", f"{origin.url}/api/cdn"):
        for name, (token, want) in cases.items():
            status, body = await _status(http, f"{base}/{fid}/0", token)
            assert status == want, (base, name, status, body)
            assert body["error"]["type"] in ("CDN_TOKEN_INVALID", "CDN_TOKEN_EXPIRED"), body
    # A good token still works, and a forged one never reached the origin.
    async with http.get(f"{edge.url}/cdn/{fid}/1", params={"token": good}) as r:
        assert r.status == 200 and len(await r.read()) == 5
    after = await edge_stats(http, edge)
    assert after["tokens_refused"] - before["tokens_refused"] == len(cases)
    assert after["origin_fetches"] - before["origin_fetches"] == 1
    # A token for a file's part that does not exist: the edge relays the origin's 404.
    status, body = await _status(http, f"{edge.url}/cdn/{fid}/7", good)
    assert status == 404 and body["error"]["type"] == "CDN_PART_NOT_FOUND"


async def test_the_edge_cache_keeps_its_size_evicting_the_least_recently_used(
    cdn: tuple[ServerProcess, EdgeProcess], http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    origin, _ = cdn
    api = Api(http, origin.url)
    owner, _ = await api.sign_up("Owner")
    reader, _ = await api.sign_up("Reader")
    chat_id = await public_channel(api, owner, [reader])
    msg_id = await post_file(api, http, origin.url, owner, chat_id, os.urandom(5 * PART))
    redirect = (await get_media_url(http, origin.url, reader, {"chat_id": chat_id}, msg_id)).cdn
    assert redirect is not None
    small = EdgeProcess(origin.url, tmp_path / "small-cache", 3 * PART)  # room for 3 parts
    small.start()
    try:

        async def get(n: int) -> None:
            url = f"{small.url}/cdn/{redirect.file_id}/{n}"
            async with http.get(url, params={"token": redirect.token}) as r:
                assert r.status == 200 and len(await r.read()) == PART

        for n in (0, 1, 2, 0, 3):  # 0 is used again before 3 arrives: 1 is the LRU
            await get(n)
        stats = await edge_stats(http, small)
        assert sorted(cached_files(small.cache_dir, redirect.file_id)) == [0, 2, 3]
        assert stats["evictions"] == 1 and stats["cache_bytes"] == 3 * PART
        assert stats["origin_fetches"] == 4 and stats["hits"] == 1
        await get(1)  # evicted: fetched again, which evicts 2 (LRU order was 2, 0, 3)
        await get(3)  # still there
        stats = await edge_stats(http, small)
        assert stats["origin_fetches"] == 5 and stats["hits"] == 2
        assert sorted(cached_files(small.cache_dir, redirect.file_id)) == [0, 1, 3]
        assert sum(p.stat().st_size for p in small.cache_dir.rglob("*") if p.is_file()) <= (
            3 * PART
        )
    finally:
        small.stop()
    # A restarted edge adopts what is on disk and keeps within its size.
    small.cache_size = 2 * PART
    small.start()
    try:
        stats = await edge_stats(http, small)
        assert stats["cache_parts"] == 2 and stats["cache_bytes"] == 2 * PART
        assert len(cached_files(small.cache_dir, redirect.file_id)) == 2
    finally:
        small.stop()


async def test_only_public_channels_with_enough_subscribers_go_to_the_edge(
    cdn: tuple[ServerProcess, EdgeProcess], http: aiohttp.ClientSession
) -> None:
    origin, _ = cdn
    api = Api(http, origin.url)
    owner, me = await api.sign_up("Owner")
    reader, _ = await api.sign_up("Reader")
    data = os.urandom(1000)
    lonely = await public_channel(api, owner, [])  # 1 member < MIN_SUBSCRIBERS
    msg = await post_file(api, http, origin.url, owner, lonely, data)
    got, report = await get_media(http, origin.url, owner, {"chat_id": lonely}, msg)
    assert got == data and not report.via_cdn
    # a private chat never goes to the edge by default
    fid = await upload(http, origin.url, owner, data)
    sent = await api.ok(
        "messages.sendMedia",
        {
            "peer": {"user_id": me["id"]},
            "random_id": next(_ids),
            "file": {"id": fid, "parts": 1, "mime_type": "application/pdf"},
        },
        owner,
    )
    answer = await get_media_url(
        http, origin.url, owner, {"user_id": me["id"]}, sent["message"]["id"]
    )
    assert answer.cdn is None
    # without cdn_supported, a client gets no redirect even for a public channel
    busy = await public_channel(api, owner, [reader])
    msg = await post_file(api, http, origin.url, owner, busy, data)
    plain = await api.ok("messages.getMediaUrl", {"peer": {"chat_id": busy}, "msg_id": msg}, reader)
    assert "cdn" not in plain
    got, report = await get_media(http, origin.url, reader, {"chat_id": busy}, msg)
    assert got == data and report.via_cdn


def _chat(broadcast: bool, username: str | None, members: int) -> ChatRow:
    return ChatRow(1, broadcast, "t", "", username, 1, 0, 0, 0, members, False, 0, None)


def test_policy_and_edge_choice() -> None:
    s = Settings(cdn_edges="http://a, http://b/", cdn_min_subscribers=10)
    assert goes_to_edges(s, _chat(True, "news", 10))
    assert not goes_to_edges(s, _chat(True, "news", 9))
    assert not goes_to_edges(s, _chat(True, None, 10_000))  # private channel
    assert not goes_to_edges(s, _chat(False, "grp", 10_000))  # a group
    assert not goes_to_edges(s, None)  # a private chat
    assert goes_to_edges(Settings(cdn_edges="http://a", cdn_policy="all"), None)
    assert not goes_to_edges(Settings(cdn_policy="all"), None)  # no edges configured
    assert not goes_to_edges(
        Settings(cdn_edges="http://a", cdn_policy="off"), _chat(True, "x", 10**6)
    )
    picks = [pick_edge(s.cdn_edges, f) for f in range(200)]
    assert set(picks) == {"http://a", "http://b"}  # both used, trailing slash gone
    assert picks == [pick_edge(s.cdn_edges, f) for f in range(200)]  # stable
    # adding an edge moves only files to the new edge
    more = [pick_edge(s.cdn_edges + ",http://c", f) for f in range(200)]
    assert all(new in (old, "http://c") for old, new in zip(picks, more, strict=True))


def test_part_cache_keeps_the_most_recently_used_on_disk_and_in_ram(tmp_path: Path) -> None:
    cache = PartCache(tmp_path, capacity=30, memory=20)
    cache.load()

    def put(n: int) -> None:
        data = bytes([n]) * 10
        cache.write_file(part_key(7, n), data)
        cache.admit(part_key(7, n), data)

    for n in range(3):
        put(n)
    assert cache.hot(part_key(7, 0)) is None  # RAM holds the two newest only
    assert cache.hot(part_key(7, 2)) == bytes([2]) * 10
    assert cache.lookup(part_key(7, 0)) is not None  # 0 is now the most recent on disk
    put(3)  # evicts 1, the least recently used
    assert part_key(7, 1) not in cache and cache.read_file(part_key(7, 1)) is None
    assert cache.size == 30 and cache.evictions == 1
    put(4)  # evicts 2, which leaves RAM with it
    assert cache.hot(part_key(7, 2)) is None and not cache.path(part_key(7, 2)).exists()
    assert cache.hot_size <= 20 and cache.size == 30
    # a restart adopts the files, oldest first, within a smaller size
    again = PartCache(tmp_path, capacity=20)
    again.load()
    assert len(again) == 2 and again.size == 20
    assert not again.fits(21)
