"""Serves the web client (src/chapar/web/): index.html at / and its files under /web/.

The client is plain ES modules and CSS with no build step, so what is in the repository is
exactly what the browser runs."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

WEB_DIR = Path(__file__).resolve().parent.parent / "web"


async def _index(request: web.Request) -> web.StreamResponse:
    index = WEB_DIR / "index.html"
    if not index.is_file():
        raise web.HTTPNotFound(text="the web client is not installed")
    return web.FileResponse(index, headers={"Cache-Control": "no-cache"})


def add_web_routes(app: web.Application) -> None:
    app.router.add_get("/", _index)
    app.router.add_static("/web/", WEB_DIR, follow_symlinks=False, append_version=True)
