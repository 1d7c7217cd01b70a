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


async def _revalidate(request: web.Request, response: web.StreamResponse) -> None:
    # The modules import each other by plain URLs (no build, no hashed names): without this
    # a browser may keep some of them from before an upgrade and mix old and new code. A
    # revalidation is a cheap 304.
    if request.path.startswith("/web/"):
        response.headers.setdefault("Cache-Control", "no-cache")


def add_web_routes(app: web.Application) -> None:
    app.router.add_get("/", _index)
    # Invite links (messages.exportChatInvite answers "/join/<hash>") open the client, which
    # reads the hash from the address bar and offers to join.
    app.router.add_get("/join/{hash}", _index)
    app.router.add_static("/web/", WEB_DIR, follow_symlinks=False, append_version=True)
    app.on_response_prepare.append(_revalidate)
