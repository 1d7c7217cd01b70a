"""A bare WebSocket relay: the baseline Chapar is measured against.

Same stack as the server (aiohttp + uvloop + msgspec), but no auth, no storage, no queues:
a client connects to ``/ws?id=K``, sends text frames ``{"to": J, "id": N, ...}``, and the
relay forwards each frame unchanged to connection J. A frame with an ``id`` is also
answered ``{"id": N, "ok": true}``, so per message the relay does the same socket work as
Chapar's messages.sendMessage (one frame in, an answer to the sender, a push to the peer)
and the ratio of the two measures what auth, SQLite and the update log cost.

    python bench/relay.py --port 8765
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

import msgspec
from aiohttp import WSMsgType, web


class Envelope(msgspec.Struct):
    """The only fields the relay reads; the rest of the frame is passed through unread."""

    to: int
    id: int | None = None


_decode = msgspec.json.Decoder(Envelope).decode
CONNS: web.AppKey[dict[int, web.WebSocketResponse]] = web.AppKey("conns", dict)


async def healthz(_request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def websocket(request: web.Request) -> web.StreamResponse:
    try:
        conn_id = int(request.query["id"])
    except (KeyError, ValueError):
        return web.Response(status=400, text="connect to /ws?id=<int>")
    ws = web.WebSocketResponse(compress=False, decode_text=False, max_msg_size=1 << 20)
    await ws.prepare(request)
    conns = request.app[CONNS]
    conns[conn_id] = ws
    try:
        async for msg in ws:
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                await _relay(conns, ws, msg.data)
    finally:
        if conns.get(conn_id) is ws:
            del conns[conn_id]
    return ws


async def _relay(
    conns: dict[int, web.WebSocketResponse], sender: web.WebSocketResponse, frame: bytes
) -> None:
    try:
        env = _decode(frame)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return  # a baseline, not a server: bad frames are dropped
    peer = conns.get(env.to)
    # Uncompressed frames are written synchronously; the await only waits when the
    # peer's socket buffer is full, which is the backpressure we want to measure.
    with contextlib.suppress(ConnectionError, RuntimeError):
        if peer is not None:
            await peer.send_frame(frame, WSMsgType.TEXT)
        if env.id is not None:
            await sender.send_frame(b'{"id":%d,"ok":true}' % env.id, WSMsgType.TEXT)


def build_app() -> web.Application:
    app = web.Application()
    app[CONNS] = {}
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/ws", websocket)
    return app


async def serve(host: str, port: int) -> None:
    runner = web.AppRunner(build_app(), access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, port, reuse_address=True).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    p = argparse.ArgumentParser(description="A bare WebSocket relay, the benchmark baseline.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    args = p.parse_args()
    try:
        import uvloop
    except ImportError:  # uvloop is optional (not on Windows), as in the server
        asyncio.run(serve(args.host, args.port))
    else:
        uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
