"""Helpers for the account-security tests: real numbers, the SMS and mail outboxes of a
server's data directory, servers started with tight limits, clients from other addresses."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from pathlib import Path
from typing import Any

import aiohttp

from tests.server import Api, ServerProcess

SYSTEM_USER_ID = 777000
_serial = itertools.count(1)


def real_phone(operator: str = "919") -> str:
    """A fresh, valid Iranian mobile number (+98 9xx 1nn nnnn) in E.164, unique in the run.
    Numbers of one operator share the range +98 9xx 10… (the first 7 digits) for the first
    100,000 numbers of the run."""
    return f"+98{operator}1{next(_serial) % 1_000_000:06d}"


def lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def sms(data_dir: Path, to: str | None = None) -> list[dict[str, Any]]:
    found = lines(data_dir / "sms-outbox.jsonl")
    return [x for x in found if to is None or x["to"] == to]


def mails(data_dir: Path, to: str | None = None) -> list[dict[str, Any]]:
    found = lines(data_dir / "mail-outbox.jsonl")
    return [x for x in found if to is None or x["to"] == to]


def code_in(text: str) -> str:
    """The code in a message: six digits, written together or (a voice call) spaced."""
    found = re.search(r"\b(\d(?: ?\d){5})\b", text)
    assert found, text
    return found[1].replace(" ", "")


def last_sms_code(data_dir: Path, to: str) -> str:
    sent = sms(data_dir, to)
    assert sent, f"no SMS to {to}"
    return code_in(sent[-1]["text"])


def assert_error(status: int, body: Any, code: int, type_: str) -> None:
    assert status == code, (status, body)
    assert body["ok"] is False and body["error"]["type"] == type_, body
    if code == 429:
        wait = body["error"]["retry_after"]
        assert isinstance(wait, int) and wait >= 1, body


async def start(server: ServerProcess, **env: str) -> None:
    server.extra_env.update(env)
    await asyncio.to_thread(server.start)


async def sign_up_real(api: Api, data_dir: Path, phone: str, name: str = "Real") -> Any:
    """An account on a real number, with the code read from the SMS outbox."""
    sent = await api.ok("auth.sendCode", {"phone": phone})
    code = last_sms_code(data_dir, phone)
    params = {"phone": phone, "phone_code_hash": sent["phone_code_hash"], "code": code}
    return await api.ok("auth.signUp", {**params, "first_name": name})


def from_address(ip: str) -> aiohttp.ClientSession:
    """A client whose connections leave from another loopback address (127.0.0.0/8 is all
    loopback on Linux), so address and network limits can be tested on one machine."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(ip, 0)))


async def system_messages(api: Api, token: str) -> list[dict[str, Any]]:
    """Messages from the system account in the user's log, oldest first."""
    diff = await api.ok("updates.getDifference", {"pts": 0}, token)
    return [
        u["message"]
        for u in diff["updates"]
        if u["type"] == "updateNewMessage" and u["message"]["from_id"] == SYSTEM_USER_ID
    ]
