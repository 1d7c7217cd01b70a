"""Downloading media the way the CDN is meant to be used: from an edge, checked and
decrypted by the client (docs/media.md).

The origin answers ``messages.getMediaUrl`` with ``cdn_supported`` by adding a
:class:`~chapar.protocol.chat_methods.CdnRedirect` for files it serves through edges: the
edge's URL, a token for it, the file's AES-256-CTR key and IV, and the SHA-256 of every
encrypted part. This module follows it::

    async with aiohttp.ClientSession() as http:
        data, report = await get_media(http, "https://chapar.example", token,
                                       {"chat_id": 42}, msg_id=7)

The edge is not trusted with anything: every part it sends is hashed and compared with
what the origin said before it is decrypted, and a part that does not match (a tampered or
corrupted cache, an edge that is down or refuses) is fetched again from the origin's
``/api/cdn/...`` route with the same token. A file the origin keeps to itself (no ``cdn``
in the answer) is read from the origin's signed URL, already decrypted there.

It depends on :mod:`chapar.protocol` (and so msgspec), aiohttp and cryptography only, like
the rest of the client library: it is what a third party installs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import msgspec

from chapar.protocol import chat_methods as cm
from chapar.protocol import filecrypt
from chapar.protocol.envelope import decode_frame

# Parts fetched ahead of the one being yielded: enough to hide a round trip, bounded so
# a 2 GB file never sits in memory.
DEFAULT_WINDOW = 4


class CdnDownloadError(Exception):
    """The file could not be had intact: the origin refused, or sent bytes that do not
    match its own hashes, or the answer could not be read."""


@dataclass
class DownloadReport:
    """Where the parts came from; ``mismatched`` lists parts an edge sent wrong."""

    via_cdn: bool = False
    edge_url: str = ""
    parts_from_edge: int = 0
    parts_from_origin: int = 0
    mismatched: list[int] = field(default_factory=list)
    edge_failures: list[int] = field(default_factory=list)


async def _get(session: aiohttp.ClientSession, url: str, params: Mapping[str, str]) -> bytes:
    async with session.get(url, params=params) as r:
        if r.status != 200:
            raise CdnDownloadError(f"GET {url}: HTTP {r.status}: {(await r.read())[:200]!r}")
        return await r.read()


async def get_media_url(
    session: aiohttp.ClientSession,
    base_url: str,
    token: str,
    peer: Mapping[str, int],
    msg_id: int,
    thumb: str | None = None,
) -> cm.MediaUrl:
    """``messages.getMediaUrl`` with ``cdn_supported``: a signed URL, and maybe a redirect."""
    params: dict[str, Any] = {"peer": dict(peer), "msg_id": msg_id, "cdn_supported": True}
    if thumb is not None:
        params["thumb"] = thumb
    async with session.post(
        f"{base_url.rstrip('/')}/api/messages.getMediaUrl",
        json=params,
        headers={"Authorization": f"Bearer {token}"},
    ) as r:
        raw = await r.read()
    try:
        answer = decode_frame(raw)
        if answer.ok is not True:
            err = answer.error
            raise CdnDownloadError(
                f"messages.getMediaUrl: {err.type}: {err.message}" if err else f"HTTP {r.status}"
            )
        return msgspec.json.decode(answer.result, type=cm.MediaUrl)
    except (msgspec.DecodeError, msgspec.ValidationError) as e:
        raise CdnDownloadError(f"messages.getMediaUrl: unreadable answer: {e}") from e


async def _part(
    session: aiohttp.ClientSession,
    base_url: str,
    cdn: cm.CdnRedirect,
    n: int,
    report: DownloadReport,
) -> bytes:
    """Encrypted part n, from the edge if it sends the right bytes, else from the origin."""
    want = cdn.part_hashes[n]
    params = {"token": cdn.token}
    try:
        data = await _get(session, f"{cdn.edge_url}/cdn/{cdn.file_id}/{n}", params)
    except (aiohttp.ClientError, TimeoutError, CdnDownloadError):
        report.edge_failures.append(n)
    else:
        if filecrypt.part_hash(data) == want:
            report.parts_from_edge += 1
            return data
        report.mismatched.append(n)
    data = await _get(session, f"{base_url.rstrip('/')}/api/cdn/{cdn.file_id}/{n}", params)
    if filecrypt.part_hash(data) != want:
        raise CdnDownloadError(f"part {n} from the origin does not match its own hash")
    report.parts_from_origin += 1
    return data


async def iter_redirect(
    session: aiohttp.ClientSession,
    base_url: str,
    cdn: cm.CdnRedirect,
    report: DownloadReport | None = None,
    window: int = DEFAULT_WINDOW,
) -> AsyncIterator[bytes]:
    """The file's plaintext, part by part in order, with ``window`` parts in flight."""
    report = report if report is not None else DownloadReport()
    report.via_cdn, report.edge_url = True, cdn.edge_url
    count = len(cdn.part_hashes)
    if count != filecrypt.parts_for(cdn.size) or cdn.part_size != filecrypt.PART_SIZE:
        raise CdnDownloadError("the redirect's part list does not fit the file's size")
    key, iv = bytes.fromhex(cdn.key), bytes.fromhex(cdn.iv)
    pending: dict[int, asyncio.Task[bytes]] = {}
    try:
        for n in range(count):
            for ahead in range(n, min(n + window, count)):
                if ahead not in pending:
                    pending[ahead] = asyncio.create_task(
                        _part(session, base_url, cdn, ahead, report)
                    )
            enc = await pending.pop(n)
            yield filecrypt.crypt_part(key, iv, n, enc)
    finally:
        for task in pending.values():
            task.cancel()
        if pending:
            await asyncio.gather(*pending.values(), return_exceptions=True)


async def download_redirect(
    session: aiohttp.ClientSession,
    base_url: str,
    cdn: cm.CdnRedirect,
    report: DownloadReport | None = None,
    window: int = DEFAULT_WINDOW,
) -> bytes:
    chunks = [c async for c in iter_redirect(session, base_url, cdn, report, window)]
    data = b"".join(chunks)
    if len(data) != cdn.size:
        raise CdnDownloadError(f"got {len(data)} bytes of {cdn.size}")
    return data


async def get_media(
    session: aiohttp.ClientSession,
    base_url: str,
    token: str,
    peer: Mapping[str, int],
    msg_id: int,
    thumb: str | None = None,
    window: int = DEFAULT_WINDOW,
) -> tuple[bytes, DownloadReport]:
    """A message's file (or thumbnail): through its edge when the origin says so."""
    answer = await get_media_url(session, base_url, token, peer, msg_id, thumb)
    report = DownloadReport()
    if answer.cdn is not None:
        data = await download_redirect(session, base_url, answer.cdn, report, window)
        return data, report
    data = await _get(session, base_url.rstrip("/") + answer.url, {})
    report.parts_from_origin = filecrypt.parts_for(len(data))
    return data, report
