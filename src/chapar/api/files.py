"""File routes: raw upload parts (never base64) and downloads with Range support.

    PUT /api/files/<file_id>/parts/<n>[?total=N]     body: the part's bytes (<= 512 KiB)
    GET /api/media/p/<msg_id>[?thumb=s|m|x]          a file of the caller's private box
    GET /api/media/c/<chat_id>/<msg_id>[?thumb=...]  a file of a group or channel post
    GET /api/cdn/<file_id>/<n>?token=<edge token>    an encrypted part as stored (for edges)
    GET /api/cdn/key                                 the public key edges check tokens with

Downloads take the bearer token, or uid/exp/sig from messages.getMediaUrl (for <img>).
"""

from __future__ import annotations

import re

from aiohttp import web

from chapar.api.http import bearer_token, error_response
from chapar.errors import BadRequest, ChaparError, Unauthorized
from chapar.protocol.envelope import encode_ok
from chapar.services.auth import AuthService
from chapar.services.media import MediaService

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
INT64 = 2**63


def _int(value: str, what: str, lo: int = -INT64, hi: int = INT64 - 1) -> int:
    try:
        n = int(value)
    except ValueError:
        raise BadRequest("INPUT_INVALID", f"{what} must be an integer") from None
    if not lo <= n <= hi:
        raise BadRequest("INPUT_INVALID", f"{what} is out of range")
    return n


class FileRoutes:
    def __init__(self, auth: AuthService, media: MediaService) -> None:
        self.auth = auth
        self.media = media

    def add_to(self, app: web.Application) -> None:
        app.router.add_put("/api/files/{file_id}/parts/{n}", self.put_part)
        app.router.add_get("/api/media/p/{msg_id}", self.get_private)
        app.router.add_get("/api/media/c/{chat_id}/{msg_id}", self.get_chat)
        app.router.add_get("/api/cdn/key", self.cdn_key)
        app.router.add_get("/api/cdn/{file_id}/{n}", self.cdn_part)

    async def put_part(self, request: web.Request) -> web.Response:
        try:
            token = bearer_token(request)
            if token is None:
                raise Unauthorized("AUTH_KEY_UNREGISTERED", "send Authorization: Bearer <token>")
            ctx = await self.auth.resolve_token(token)
            file_id = _int(request.match_info["file_id"], "file_id")
            n = _int(request.match_info["n"], "part number", 0, 10**9)
            total_s = request.query.get("total")
            total = _int(total_s, "total", 1, 10**9) if total_s is not None else None
            data = await request.read()
            await self.media.save_part(ctx, file_id, n, data, total)
        except ChaparError as e:
            return error_response(e)
        except web.HTTPRequestEntityTooLarge:
            return error_response(BadRequest("FILE_PART_TOO_BIG", "a part holds at most 512 KiB"))
        return web.Response(body=encode_ok(True), content_type="application/json")

    async def cdn_key(self, request: web.Request) -> web.Response:
        key = await self.media.cdn_public_key()
        return web.Response(body=encode_ok({"public_key": key}), content_type="application/json")

    async def cdn_part(self, request: web.Request) -> web.Response:
        """An encrypted part exactly as stored: what an edge caches (docs/media.md)."""
        try:
            file_id = _int(request.match_info["file_id"], "file_id", 1)
            n = _int(request.match_info["n"], "part number", 0, 10**9)
            data = await self.media.cdn_part(file_id, n, request.query.get("token", ""))
        except ChaparError as e:
            return error_response(e)
        return web.Response(
            body=data,
            content_type="application/octet-stream",
            headers={"Cache-Control": "public, max-age=31536000, immutable"},
        )

    async def get_private(self, request: web.Request) -> web.StreamResponse:
        return await self._download(request, None)

    async def get_chat(self, request: web.Request) -> web.StreamResponse:
        try:
            chat_id = _int(request.match_info["chat_id"], "chat_id", 1)
        except ChaparError as e:
            return error_response(e)
        return await self._download(request, chat_id)

    async def _viewer(self, request: web.Request, path: str, thumb: str | None) -> int:
        token = bearer_token(request)
        if token is not None:
            return (await self.auth.resolve_token(token)).user_id
        q = request.query
        if "sig" not in q:
            raise Unauthorized("AUTH_KEY_UNREGISTERED", "send the bearer token or use a signed URL")
        uid, exp = _int(q.get("uid", ""), "uid", 1), _int(q.get("exp", ""), "exp", 0)
        return await self.media.check_signature(path, thumb, uid, exp, q["sig"])

    async def _download(self, request: web.Request, chat_id: int | None) -> web.StreamResponse:
        try:
            msg_id = _int(request.match_info["msg_id"], "msg_id", 1)
            thumb = request.query.get("thumb")
            if thumb is not None and thumb not in ("s", "m", "x"):
                raise BadRequest("INPUT_INVALID", "thumb is s, m or x")
            user_id = await self._viewer(request, request.path, thumb)
            found = await self.media.locate(user_id, chat_id, msg_id, thumb)
        except ChaparError as e:
            return error_response(e)
        f = found.file
        etag = f'"{f.sha256}"'
        headers = {
            "ETag": etag,
            "Accept-Ranges": "bytes",
            # The content behind a media URL never changes; only who may fetch it does.
            "Cache-Control": "private, max-age=86400",
            "X-Content-Type-Options": "nosniff",
        }
        if found.name:
            headers["Content-Disposition"] = f"inline; filename*=UTF-8''{_quote(found.name)}"
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        start, end, status = 0, f.size, 200
        rng = request.headers.get("Range")
        if rng is not None:
            parsed = _parse_range(rng, f.size)
            if parsed is None:
                headers["Content-Range"] = f"bytes */{f.size}"
                return web.Response(status=416, headers=headers)
            start, end = parsed
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{f.size}"
        resp = web.StreamResponse(status=status, headers=headers)
        resp.content_type = f.mime_type
        resp.content_length = end - start
        await resp.prepare(request)
        async for chunk in self.media.read_range(f, start, end):
            await resp.write(chunk)
        await resp.write_eof()
        return resp


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """One byte range (several are not supported) as [start, end), or None if unsatisfiable."""
    m = _RANGE.match(header.strip())
    if m is None or size == 0:
        return None
    a, b = m.groups()
    if a == "":
        if b == "" or int(b) == 0:
            return None
        return max(size - int(b), 0), size
    start = int(a)
    end = size if b == "" else min(int(b) + 1, size)
    return (start, end) if start < end else None


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")
