"""Media through the running server: uploads in raw parts, sendMedia in every chat kind,
downloads with ranges and access checks, encryption at rest."""

from __future__ import annotations

import asyncio
import io
import itertools
import os
import random
from pathlib import Path
from typing import Any

import aiohttp
from PIL import Image

from tests.server import Api, ServerProcess

PART = 512 * 1024
_ids = itertools.count(random.randrange(1, 2**40))


async def put_part(
    http: aiohttp.ClientSession,
    base: str,
    token: str,
    fid: int,
    n: int,
    data: bytes,
    total: int | None = None,
) -> tuple[int, Any]:
    q = f"?total={total}" if total is not None else ""
    async with http.put(
        f"{base}/api/files/{fid}/parts/{n}{q}",
        data=data,
        headers={"Authorization": f"Bearer {token}"},
    ) as r:
        return r.status, await r.json(content_type=None)


async def upload(
    http: aiohttp.ClientSession, base: str, token: str, data: bytes, order: list[int] | None = None
) -> tuple[int, int]:
    fid = next(_ids)
    parts = [data[i : i + PART] for i in range(0, len(data), PART)]
    for n in order if order is not None else range(len(parts)):
        status, body = await put_part(http, base, token, fid, n, parts[n], len(parts))
        assert status == 200 and body["ok"], body
    return fid, len(parts)


async def fetch(
    http: aiohttp.ClientSession, url: str, token: str | None, headers: dict[str, str] | None = None
) -> tuple[int, bytes, Any]:
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    async with http.get(url, headers=h) as r:
        return r.status, await r.read(), r.headers


async def send_media(
    api: Api, token: str, peer: dict[str, int], fid: int, parts: int, mime: str, **extra: Any
) -> tuple[int, Any]:
    body = {
        "peer": peer,
        "random_id": next(_ids),
        "file": {"id": fid, "parts": parts, "mime_type": mime, "name": "f.bin"},
    } | extra
    return await api.call("messages.sendMedia", body, token)


async def test_big_file_in_shuffled_parts_arrives_identical_and_ranges_work(
    server: ServerProcess, api: Api, http: aiohttp.ClientSession
) -> None:
    ta, _ = await api.sign_up("Sender")
    tb, b = await api.sign_up("Receiver")
    data = os.urandom(20 * 1024 * 1024 + 12345)
    fid = next(_ids)
    parts = [data[i : i + PART] for i in range(0, len(data), PART)]
    order = list(range(len(parts)))
    random.Random(3).shuffle(order)
    for n in [*order, order[5]]:  # one part sent twice
        status, _ = await put_part(http, server.url, ta, fid, n, parts[n])
        assert status == 200
    status, sent = await send_media(
        api, ta, {"user_id": b["id"]}, fid, len(parts), "application/octet-stream"
    )
    assert status == 200, sent
    media = sent["result"]["message"]["media"]
    assert media["size"] == len(data) and media["type"] == "document"
    # the receiver downloads their own copy
    hist = await api.ok(
        "messages.getHistory", {"peer": {"user_id": sent["result"]["message"]["from_id"]}}, tb
    )
    url = server.url + hist["messages"][0]["media"]["url"]
    status, body, headers = await fetch(http, url, tb)
    assert status == 200 and body == data and headers["ETag"]
    for rng, want in [
        ("bytes=0-99", data[:100]),
        (f"bytes={PART - 10}-{PART + 9}", data[PART - 10 : PART + 10]),
        ("bytes=-500", data[-500:]),
        (f"bytes={len(data) - 3}-", data[-3:]),
    ]:
        status, body, headers = await fetch(http, url, tb, {"Range": rng})
        assert status == 206 and body == want, rng
    status, _, _ = await fetch(http, url, tb, {"Range": f"bytes={len(data)}-"})
    assert status == 416
    # another user cannot name the receiver's message
    tc, _ = await api.sign_up("Stranger")
    status, body, _ = await fetch(http, url, tc)
    assert status == 404


async def test_interrupted_upload_resumes(
    server: ServerProcess, api: Api, http: aiohttp.ClientSession
) -> None:
    ta, a = await api.sign_up("Resumer")
    data = os.urandom(3 * PART + 777)
    fid = next(_ids)
    parts = [data[i : i + PART] for i in range(0, len(data), PART)]
    for n in (0, 2):
        assert (await put_part(http, server.url, ta, fid, n, parts[n], 4))[0] == 200
    status, body = await send_media(api, ta, {"user_id": a["id"]}, fid, 4, "application/pdf")
    assert status == 400 and body["error"]["type"] == "FILE_PART_MISSING"
    got = await api.ok("upload.getUploadedParts", {"file_id": fid}, ta)
    assert got == {"parts": [0, 2], "total_parts": 4}
    for n in (1, 3):
        assert (await put_part(http, server.url, ta, fid, n, parts[n]))[0] == 200
    status, body = await send_media(api, ta, {"user_id": a["id"]}, fid, 4, "application/pdf")
    assert status == 200, body
    status, got_bytes, _ = await fetch(
        http, server.url + body["result"]["message"]["media"]["url"], ta
    )
    assert got_bytes == data


def _photo_with_location() -> bytes:
    im = Image.new("RGB", (1000, 600), (10, 120, 200))
    exif = im.getexif()
    exif[0x010F] = "LeakyCamera"
    exif[0x8825] = {1: "N", 2: (35.0, 41.0, 0.0)}
    buf = io.BytesIO()
    im.save(buf, "JPEG", exif=exif.tobytes())
    return buf.getvalue()


async def test_photos_are_checked_stripped_thumbnailed_and_deduplicated(
    server: ServerProcess, api: Api, http: aiohttp.ClientSession
) -> None:
    ta, a = await api.sign_up("Photographer")
    _tb, b = await api.sign_up("Viewer")
    photo = _photo_with_location()
    assert b"LeakyCamera" in photo
    fid, n = await upload(http, server.url, ta, photo)
    status, sent = await send_media(
        api, ta, {"user_id": b["id"]}, fid, n, "image/jpeg", caption="عکس"
    )
    assert status == 200, sent
    msg = sent["result"]["message"]
    media = msg["media"]
    assert msg["text"] == "عکس" and media["type"] == "photo"
    assert (media["width"], media["height"]) == (1000, 600)
    assert {t["type"] for t in media["thumbs"]} == {"s", "m", "x"}
    status, stored, _ = await fetch(http, server.url + media["url"], ta)
    assert status == 200 and b"LeakyCamera" not in stored and b"Exif" not in stored
    assert Image.open(io.BytesIO(stored)).size == (1000, 600)
    status, small, headers = await fetch(http, server.url + media["thumbs"][0]["url"], ta)
    assert (
        status == 200
        and headers["Content-Type"] == "image/jpeg"
        and max(Image.open(io.BytesIO(small)).size) <= 320
    )
    # the same photo again is stored once
    fid2, n2 = await upload(http, server.url, ta, photo)
    status, again = await send_media(api, ta, {"user_id": a["id"]}, fid2, n2, "image/jpeg")
    assert again["result"]["message"]["media"]["file_id"] == media["file_id"]
    # a forward reuses the file
    fwd = await api.ok(
        "messages.forwardMessages",
        {
            "from_peer": {"user_id": b["id"]},
            "id": [msg["id"]],
            "to_peer": {"user_id": a["id"]},
            "random_id": [next(_ids)],
        },
        ta,
    )
    assert fwd["messages"][0]["media"]["file_id"] == media["file_id"]


async def test_a_file_that_is_not_the_image_it_claims_is_refused(
    server: ServerProcess, api: Api, http: aiohttp.ClientSession
) -> None:
    ta, a = await api.sign_up("Liar")
    before = await api.ok("updates.getState", {}, ta)
    fid, n = await upload(http, server.url, ta, b"GIF89a this is not really an image" * 10)
    status, body = await send_media(api, ta, {"user_id": a["id"]}, fid, n, "image/png")
    assert status == 400 and body["error"]["type"] == "IMAGE_INVALID"
    png_as_jpeg = io.BytesIO()
    Image.new("RGB", (10, 10)).save(png_as_jpeg, "PNG")
    fid, n = await upload(http, server.url, ta, png_as_jpeg.getvalue())
    status, body = await send_media(api, ta, {"user_id": a["id"]}, fid, n, "image/jpeg")
    assert status == 400 and body["error"]["type"] == "IMAGE_INVALID"
    assert (await api.ok("updates.getState", {}, ta))["pts"] == before["pts"]


async def test_bad_uploads_get_clear_errors(
    server: ServerProcess, api: Api, http: aiohttp.ClientSession
) -> None:
    ta, a = await api.sign_up("Uploader")
    tb, _ = await api.sign_up("Other")
    fid = next(_ids)
    status, body = await put_part(http, server.url, ta, fid, 0, b"x" * (PART + 1))
    assert status == 413 and body["error"]["type"] == "FILE_PART_TOO_BIG"
    assert (await put_part(http, server.url, ta, fid, 0, b"x" * 10, 2))[0] == 200
    status, body = await put_part(http, server.url, ta, fid, 2, b"x" * 10)
    assert status == 400 and body["error"]["type"] == "FILE_PART_INVALID"
    status, body = await put_part(http, server.url, ta, fid, -1, b"x")
    assert status == 400
    async with http.put(f"{server.url}/api/files/{fid}/parts/0", data=b"x") as r:
        assert r.status == 401
    # a part shorter than 512 KiB that is not the last one
    status, body = await send_media(api, ta, {"user_id": a["id"]}, fid, 1, "text/plain")
    assert status == 400 and body["error"]["type"] == "FILE_PARTS_INVALID"
    # someone else's upload id is not theirs
    status, body = await send_media(api, tb, {"user_id": a["id"]}, fid, 1, "text/plain")
    assert status == 400 and body["error"]["type"] == "FILE_ID_INVALID"


async def test_chat_media_access_and_signed_urls(
    server: ServerProcess, api: Api, http: aiohttp.ClientSession
) -> None:
    ta, _ = await api.sign_up("Admin")
    tb, b = await api.sign_up("Member")
    tc, _ = await api.sign_up("Outsider")
    g = (await api.ok("channels.createChannel", {"title": "Files", "broadcast": False}, ta))["chat"]
    await api.ok(
        "channels.inviteToChannel", {"channel": {"chat_id": g["id"]}, "users": [b["id"]]}, ta
    )
    data = os.urandom(5000)
    fid, n = await upload(http, server.url, ta, data)
    status, sent = await send_media(api, ta, {"chat_id": g["id"]}, fid, n, "application/zip")
    assert status == 200, sent
    url = server.url + sent["result"]["message"]["media"]["url"]
    assert (await fetch(http, url, tb))[1] == data
    status, _body, _ = await fetch(http, url, tc)
    assert status == 403
    signed = await api.ok(
        "messages.getMediaUrl",
        {"peer": {"chat_id": g["id"]}, "msg_id": sent["result"]["message"]["id"]},
        tb,
    )
    assert (await fetch(http, server.url + signed["url"], None))[1] == data
    forged = signed["url"].replace("sig=", "sig=0")
    assert (await fetch(http, server.url + forged, None))[0] == 403
    status, _ = await api.call(
        "messages.getMediaUrl",
        {"peer": {"chat_id": g["id"]}, "msg_id": sent["result"]["message"]["id"]},
        tc,
    )
    assert status == 403


async def test_nothing_readable_at_rest(
    own_server: ServerProcess, http: aiohttp.ClientSession
) -> None:
    own_server.start()
    api = Api(http, own_server.url)
    ta, a = await api.sign_up("Secretive")
    data = os.urandom(3 * PART + 4321)
    fid, n = await upload(http, own_server.url, ta, data)
    status, _sent = await send_media(
        api, ta, {"user_id": a["id"]}, fid, n, "application/octet-stream"
    )
    assert status == 200
    own_server.stop()
    # Any 4 KiB run of the plaintext contains one of these 64-byte samples (every 2 KiB).
    samples = [data[i : i + 64] for i in range(0, len(data) - 64, 2048)]
    leaks = await asyncio.to_thread(_find_samples, own_server.data_dir, samples)
    assert leaks == {"blobs": False}, leaks


def _find_samples(root: Path, samples: list[bytes]) -> dict[str, bool]:
    """Which files under root hold any sample; "blobs" says whether blobs were written."""
    files = [p for p in root.rglob("*") if p.is_file()]
    found: dict[str, bool] = {"blobs": not any("blobs" in str(p) for p in files)}
    for path in files:
        content = path.read_bytes()
        if any(s in content for s in samples):
            found[str(path)] = True
    return found
