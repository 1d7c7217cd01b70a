"""A real Chapar server in a child process, and small HTTP helpers to drive it."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp

TEST_CODE = "222222"
_phones = itertools.count(1_000_000)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def next_test_phone() -> str:
    """A reserved test number (+99966 + 7 digits), unique within the test run."""
    return f"+99966{next(_phones) % 10_000_000:07d}"


class ServerProcess:
    def __init__(
        self, data_dir: Path, port: int | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.extra_env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/ws"

    def start(self, timeout: float = 20.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "CHAPAR_TEST_NUMBERS": "true",
            "CHAPAR_SQLITE_SYNCHRONOUS": "NORMAL",
            # codes are in the console outbox by the time auth.sendCode answers
            "CHAPAR_SMS_SEND_WAIT_MS": "10000",
            **self.extra_env,
        }
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "chapar",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("server did not start in time")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self.proc = None
        return code

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


class Api:
    """Calls methods over HTTP; returns (status, decoded envelope)."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base

    async def raw(
        self, method: str, body: bytes | str, token: str | None = None
    ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with self.session.post(f"{self.base}/api/{method}", data=body, headers=headers) as r:
            return r.status, await r.json(content_type=None)

    async def call(
        self, method: str, params: dict[str, Any] | None = None, token: str | None = None
    ) -> tuple[int, Any]:
        import json

        return await self.raw(method, json.dumps(params or {}), token)

    async def ok(
        self, method: str, params: dict[str, Any] | None = None, token: str | None = None
    ) -> Any:
        status, body = await self.call(method, params, token)
        assert status == 200 and body["ok"] is True, (method, status, body)
        return body["result"]

    async def sign_up(
        self, first_name: str = "Test", phone: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        """A new account on a test number; returns (token, user)."""
        phone = phone or next_test_phone()
        sent = await self.ok("auth.sendCode", {"phone": phone})
        res = await self.ok(
            "auth.signUp",
            {
                "phone": phone,
                "phone_code_hash": sent["phone_code_hash"],
                "code": TEST_CODE,
                "first_name": first_name,
            },
        )
        return res["token"], res["user"]
