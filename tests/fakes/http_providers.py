"""A local server that speaks the SMS providers' HTTP APIs, for tests: Kavenegar
(``/v1/{key}/{scope}/{method}.json``), Twilio (``/2010-04-01/Accounts/{sid}/…json`` with
basic auth and signed status callbacks) and a generic gateway (``/generic/send``).

Each API has a ``mode`` that tests switch at will:

    ok           accept, then post a "delivered" report to the callback (if one is set)
    silent       accept, never report
    undelivered  accept, then report the message as not delivered
    error        the provider's own failure (Kavenegar 418 no credit, Twilio 503, HTTP 500)
    reject       a refusal of this message (Kavenegar 411, Twilio 21211 invalid number, 400)
    hang         never answer (until the server stops)
    garbage      200 with a body that is not JSON
    refuse       (generic only) 200 with {"ok": false}

Written from the providers' documentation, independently of the adapters (the Twilio
signature is computed here again), so a misreading in an adapter shows up as a failure.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

KAVENEGAR_KEY = "test-api-key"
TWILIO_SID = "AC" + "0" * 32
TWILIO_TOKEN = "twilio-auth-token"


@dataclass
class Received:
    api: str
    to: str
    text: str
    id: str
    fields: dict[str, str] = field(default_factory=dict)


class FakeProviders:
    def __init__(self) -> None:
        self.mode: dict[str, str] = defaultdict(lambda: "ok")
        self.received: list[Received] = []
        # Requests seen per API, whatever their mode (a circuit that is open sends none).
        self.requests: dict[str, int] = defaultdict(int)
        # Where reports go, for the APIs whose callback is not in the request.
        self.callback: dict[str, str] = {}
        self._ids = itertools.count(1000)
        self._stop = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self.url = ""

    def to(self, api: str) -> list[Received]:
        return [r for r in self.received if r.api == api]

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post(r"/v1/{key}/{scope}/{method}.json", self._kavenegar)
        app.router.add_post(r"/2010-04-01/Accounts/{sid}/{resource}.json", self._twilio)
        app.router.add_route("*", "/generic/send", self._generic)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        self._stop.set()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()

    async def _hang(self) -> web.Response:
        await self._stop.wait()
        return web.Response(status=503)

    def _later(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, url: str, data: dict[str, str], headers: dict[str, str]) -> None:
        async with aiohttp.ClientSession() as s, s.post(url, data=data, headers=headers) as r:
            await r.read()

    # -- Kavenegar ------------------------------------------------------------------------
    async def _kavenegar(self, request: web.Request) -> web.Response:
        self.requests["kavenegar"] += 1
        mode = self.mode["kavenegar"]
        if mode == "hang":
            return await self._hang()
        if mode == "garbage":
            return web.Response(text="<html>busy</html>")

        def answer(status: int, message: str, entries: list[dict[str, Any]]) -> web.Response:
            body = {"return": {"status": status, "message": message}, "entries": entries}
            return web.json_response(body, status=status if status != 200 else 200)

        if request.match_info["key"] != KAVENEGAR_KEY:
            return answer(403, "API key is not valid", [])
        if request.content_type != "application/x-www-form-urlencoded":
            return answer(400, "parameters are incomplete", [])
        form = {k: str(v) for k, v in (await request.post()).items()}
        method = f"{request.match_info['scope']}/{request.match_info['method']}"
        need = {
            "sms/send": ("receptor", "message"),
            "call/maketts": ("receptor", "message"),
            "verify/lookup": ("receptor", "token", "template"),
        }.get(method)
        if need is None:
            return answer(404, "method not found", [])
        if any(not form.get(k) for k in need):
            return answer(406, "required parameters missing", [])
        if mode == "error":
            return answer(418, "credit is not enough", [])
        if mode == "reject":
            return answer(411, "receptor is not valid", [])
        mid = str(next(self._ids))
        text = form.get("message") or f"token={form.get('token')}"
        self.received.append(Received("kavenegar", form["receptor"], text, mid, form))
        entry = {
            "messageid": int(mid),
            "message": text,
            "status": 1,
            "statustext": "در صف ارسال",
            "sender": form.get("sender", "10004346"),
            "receptor": form["receptor"],
            "date": 1_800_000_000,
            "cost": 120,
        }
        callback = self.callback.get("kavenegar")
        if callback and mode in ("ok", "undelivered"):
            status = "10" if mode == "ok" else "11"
            self._later(self._post(callback, {"messageid": mid, "status": status}, {}))
        return answer(200, "تایید شد", [entry])

    # -- Twilio ---------------------------------------------------------------------------
    @staticmethod
    def twilio_signature(url: str, params: dict[str, str]) -> str:
        data = url + "".join(f"{k}{params[k]}" for k in sorted(params))
        digest = hmac.new(TWILIO_TOKEN.encode(), data.encode(), hashlib.sha1).digest()
        return base64.b64encode(digest).decode()

    async def _twilio(self, request: web.Request) -> web.Response:
        self.requests["twilio"] += 1
        mode = self.mode["twilio"]
        if mode == "hang":
            return await self._hang()
        if mode == "garbage":
            return web.Response(text="oops", status=200)

        def error(status: int, code: int, message: str) -> web.Response:
            body = {"code": code, "message": message, "more_info": "", "status": status}
            return web.json_response(body, status=status)

        expected = "Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
        if request.match_info["sid"] != TWILIO_SID or request.headers.get("Authorization") != (
            expected
        ):
            return error(401, 20003, "Authenticate")
        form = {k: str(v) for k, v in (await request.post()).items()}
        resource = request.match_info["resource"]
        body_key = {"Messages": "Body", "Calls": "Twiml"}.get(resource)
        if body_key is None:
            return error(404, 20404, "not found")
        if not form.get("To") or not form.get(body_key):
            return error(400, 21604, "A 'To' phone number and a body are required")
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return error(400, 21603, "A 'From' phone number is required")
        if mode == "error":
            return error(503, 20503, "Service unavailable")
        if mode == "reject":
            return error(400, 21211, "The 'To' number is not a valid phone number.")
        sid = ("SM" if resource == "Messages" else "CA") + f"{next(self._ids):032x}"
        self.received.append(Received("twilio", form["To"], form[body_key], sid, form))
        callback = form.get("StatusCallback")
        if callback and mode in ("ok", "undelivered"):
            if resource == "Messages":
                status = "delivered" if mode == "ok" else "undelivered"
                params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": TWILIO_SID}
                if mode == "undelivered":
                    params["ErrorCode"] = "30003"
            else:
                status = "completed" if mode == "ok" else "no-answer"
                params = {"CallSid": sid, "CallStatus": status, "AccountSid": TWILIO_SID}
            headers = {"X-Twilio-Signature": self.twilio_signature(callback, params)}
            self._later(self._post(callback, params, headers))
        body = {"sid": sid, "status": "queued", "to": form["To"], "account_sid": TWILIO_SID}
        return web.json_response(body, status=201)

    # -- a generic gateway ------------------------------------------------------------------
    async def _generic(self, request: web.Request) -> web.Response:
        self.requests["generic"] += 1
        mode = self.mode["generic"]
        if mode == "hang":
            return await self._hang()
        if mode == "garbage":
            return web.Response(text="not json")
        if request.headers.get("Authorization") != "Bearer generic-token":
            return web.json_response({"ok": False, "error": "auth"}, status=401)
        if request.content_type == "application/json":
            fields = {k: str(v) for k, v in json.loads(await request.read()).items()}
        else:
            fields = {k: str(v) for k, v in (await request.post()).items()}
        fields.update(request.query)
        if mode == "error":
            return web.json_response({"ok": False, "error": "internal"}, status=500)
        if mode == "reject":
            return web.json_response({"ok": False, "error": "bad number"}, status=400)
        if mode == "refuse":  # a gateway that says no with 200
            return web.json_response({"ok": False, "error": "busy"}, status=200)
        mid = f"g{next(self._ids)}"
        self.received.append(Received("generic", fields["to"], fields["text"], mid, fields))
        callback = self.callback.get("generic")
        if callback and mode in ("ok", "undelivered"):
            status = "DELIVRD" if mode == "ok" else "UNDELIV"
            self._later(self._post(callback, {"id": mid, "status": status}, {}))
        return web.json_response({"ok": True, "data": {"id": mid}})
