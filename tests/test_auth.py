"""Sign-in by phone and code, sessions and revocation, over the real HTTP and WebSocket doors."""

from __future__ import annotations

import asyncio
import datetime
import itertools
import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.server import TEST_CODE, Api, ServerProcess, next_test_phone

# Real (non-test) Iranian mobile numbers, unique within the run: +98 912 1xx xxxx.
_real = itertools.count(1)
_PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
_CLOSED = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED)


def real_phone() -> tuple[str, str]:
    """(national form 0912…, E.164 form +98912…) of a fresh real-looking number."""
    digits = f"9121{next(_real):06d}"
    return "0" + digits, "+98" + digits


def outbox(data_dir: Path) -> list[dict[str, Any]]:
    path = data_dir / "sms-outbox.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def code_from_outbox(data_dir: Path, e164: str) -> str:
    """The code of the last SMS sent to this number, checking the outbox line's shape."""
    lines = [line for line in outbox(data_dir) if line["to"] == e164]
    assert lines, f"no SMS to {e164} in the outbox"
    last = lines[-1]
    assert set(last) == {"to", "text", "sent_at"}
    assert datetime.datetime.fromisoformat(last["sent_at"]).tzinfo is not None
    found = re.search(r"\b(\d{6})\b", last["text"])
    assert found, last["text"]
    return found.group(1)


async def send_code(api: Api, phone: str) -> str:
    sent = await api.ok("auth.sendCode", {"phone": phone})
    assert sent["type"] == "sms" and isinstance(sent["timeout"], int)
    assert isinstance(sent["phone_code_hash"], str) and sent["phone_code_hash"]
    return str(sent["phone_code_hash"])


def sign_params(phone: str, hash_: str, code: str, **extra: str) -> dict[str, Any]:
    return {"phone": phone, "phone_code_hash": hash_, "code": code, **extra}


async def sign_in_again(api: Api, phone: str, device: str = "") -> str:
    """A further session of an existing account; returns its token."""
    hash_ = await send_code(api, phone)
    res = await api.ok("auth.signIn", sign_params(phone, hash_, TEST_CODE, device=device))
    return str(res["token"])


def assert_error(status: int, body: Any, code: int, type_: str) -> None:
    assert status == code, (status, body)
    assert body["ok"] is False and body["error"]["code"] == code, body
    assert body["error"]["type"] == type_, body


async def wait_closed(ws: aiohttp.ClientWebSocketResponse, max_frames: int = 50) -> int | None:
    """Read (and drop) frames until the server closes the socket; return the close code."""
    for _ in range(max_frames):
        msg = await ws.receive(timeout=10)
        if msg.type in _CLOSED:
            return ws.close_code
    raise AssertionError("the server did not close the WebSocket")


# -- numbers and the SMS outbox -----------------------------------------------------------
@pytest.mark.parametrize("form", ["national", "persian", "arabic", "spaced", "00", "marks"])
async def test_send_code_normalises_the_number(server: ServerProcess, api: Api, form: str) -> None:
    national, e164 = real_phone()
    typed = {
        "national": national,
        "persian": national.translate(_PERSIAN),
        "arabic": national.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")),
        "spaced": f"+98 ({e164[3:6]}) {e164[6:9]}-{e164[9:]}",
        "00": "00" + e164[1:],
        # Pasted from a right-to-left text: direction marks around, a ZWNJ inside.
        "marks": "\u200f\u200e" + national[:4] + "\u200c" + national[4:] + "\u200e",
    }[form]
    hash_ = await send_code(api, typed)
    code = code_from_outbox(server.data_dir, e164)
    # Signing up with the E.164 form of the same number accepts the code sent to the typed form.
    res = await api.ok("auth.signUp", sign_params(e164, hash_, code, first_name="Sara"))
    assert res["user"]["phone"] == e164 and res["user"]["is_self"] is True
    me = await api.ok("users.getFullUser", {"user_id": res["user"]["id"]}, res["token"])
    assert me["user"]["phone"] == e164


async def test_real_number_signs_in_with_the_code_from_the_outbox(
    server: ServerProcess, api: Api
) -> None:
    national, e164 = real_phone()
    hash_ = await send_code(api, national)
    code = code_from_outbox(server.data_dir, e164)
    up = await api.ok("auth.signUp", sign_params(national, hash_, code, first_name="Reza"))
    user_id = up["user"]["id"]
    state = await api.ok("updates.getState", {}, up["token"])
    assert state["pts"] == 0
    # The cooldown started by this code does not apply once the code was used. The account
    # is signed in now, so the next code goes to that session in-app (issue 5), not by SMS.
    sms_before = len(outbox(server.data_dir))
    sent = await api.ok("auth.sendCode", {"phone": national})
    assert (sent["type"], sent["next_type"]) == ("app", "sms")
    assert len(outbox(server.data_dir)) == sms_before
    diff = await api.ok("updates.getDifference", {"pts": 0}, up["token"])
    found = re.search(r"\b(\d{6})\b", diff["updates"][-1]["message"]["text"])
    assert found
    res = await api.ok("auth.signIn", sign_params(e164, sent["phone_code_hash"], found[1]))
    assert res["user"]["id"] == user_id and res["token"] != up["token"]


async def test_invalid_phone_numbers_are_refused(api: Api) -> None:
    for phone in ["", "abc", "+1", "0912", "+98912123456789012"]:
        status, body = await api.call("auth.sendCode", {"phone": phone})
        assert_error(status, body, 400, "PHONE_NUMBER_INVALID")


async def test_resend_within_cooldown_is_a_flood_wait(
    server: ServerProcess, api: Api, http: aiohttp.ClientSession
) -> None:
    national, e164 = real_phone()
    await send_code(api, national)
    before = len(outbox(server.data_dir))
    async with http.post(
        f"{server.url}/api/auth.sendCode", json={"phone": e164}
    ) as r:  # the same number in another form
        assert r.status == 429
        body = await r.json()
        retry_after = r.headers.get("Retry-After")
    assert_error(429, body, 429, "FLOOD_WAIT")
    wait = body["error"]["retry_after"]
    assert isinstance(wait, int) and 1 <= wait <= 60
    assert retry_after == str(wait)
    assert len(outbox(server.data_dir)) == before, "no SMS may be sent during the cooldown"
    # Another number is not held back by this one's cooldown.
    other_national, other = real_phone()
    await send_code(api, other_national)
    code_from_outbox(server.data_dir, other)


async def test_test_numbers_have_no_cooldown_and_send_no_sms(
    server: ServerProcess, api: Api
) -> None:
    phone = next_test_phone()
    first = await send_code(api, phone)
    second = await send_code(api, phone)
    assert first != second
    assert not [line for line in outbox(server.data_dir) if line["to"] == phone]
    # The newest code replaces the earlier one.
    status, body = await api.call(
        "auth.signUp", sign_params(phone, first, TEST_CODE, first_name="Old")
    )
    assert_error(status, body, 400, "PHONE_CODE_HASH_INVALID")
    await api.ok("auth.signUp", sign_params(phone, second, TEST_CODE, first_name="New"))


# -- codes ----------------------------------------------------------------------------------
async def test_wrong_code_is_invalid_and_the_right_one_still_works(api: Api) -> None:
    phone = next_test_phone()
    hash_ = await send_code(api, phone)
    status, body = await api.call(
        "auth.signUp", sign_params(phone, hash_, "111111", first_name="Nima")
    )
    assert_error(status, body, 400, "PHONE_CODE_INVALID")
    await api.ok("auth.signUp", sign_params(phone, hash_, TEST_CODE, first_name="Nima"))


async def test_five_wrong_attempts_kill_the_code(api: Api) -> None:
    phone = next_test_phone()
    hash_ = await send_code(api, phone)
    for wrong in ["000000", "111111", "333333", "444444", "555555"]:
        status, body = await api.call(
            "auth.signUp", sign_params(phone, hash_, wrong, first_name="X")
        )
        assert_error(status, body, 400, "PHONE_CODE_INVALID")
    status, body = await api.call(
        "auth.signUp", sign_params(phone, hash_, TEST_CODE, first_name="X")
    )
    assert_error(status, body, 400, "PHONE_CODE_EXPIRED")
    # A new code works again.
    hash2 = await send_code(api, phone)
    await api.ok("auth.signUp", sign_params(phone, hash2, TEST_CODE, first_name="X"))


async def test_a_code_is_single_use(api: Api) -> None:
    phone = next_test_phone()
    hash_ = await send_code(api, phone)
    await api.ok("auth.signUp", sign_params(phone, hash_, TEST_CODE, first_name="Once"))
    status, body = await api.call("auth.signIn", sign_params(phone, hash_, TEST_CODE))
    assert_error(status, body, 400, "PHONE_CODE_EXPIRED")


async def test_code_hash_belongs_to_its_number(api: Api) -> None:
    phone, other = next_test_phone(), next_test_phone()
    hash_ = await send_code(api, phone)
    for p in (sign_params(other, hash_, TEST_CODE), sign_params(phone, "nope", TEST_CODE)):
        status, body = await api.call("auth.signIn", p)
        assert_error(status, body, 400, "PHONE_CODE_HASH_INVALID")
    # The failed tries did not use up the code.
    await api.ok("auth.signUp", sign_params(phone, hash_, TEST_CODE, first_name="Own"))


async def test_sign_in_unknown_number_then_sign_up_with_the_same_code(api: Api) -> None:
    phone = next_test_phone()
    hash_ = await send_code(api, phone)
    status, body = await api.call("auth.signIn", sign_params(phone, hash_, TEST_CODE))
    assert_error(status, body, 400, "PHONE_NUMBER_UNOCCUPIED")
    up = await api.ok(
        "auth.signUp",
        sign_params(phone, hash_, TEST_CODE, first_name="  Maryam ", last_name=" Ahmadi "),
    )
    assert up["user"]["first_name"] == "Maryam" and up["user"]["last_name"] == "Ahmadi"
    token = await sign_in_again(api, phone)
    me = await api.ok("users.getFullUser", {"user_id": up["user"]["id"]}, token)
    assert me["user"]["is_self"] is True


async def test_sign_up_on_an_existing_number_is_occupied(api: Api) -> None:
    phone = next_test_phone()
    _token, user = await api.sign_up("First", phone)
    hash_ = await send_code(api, phone)
    status, body = await api.call(
        "auth.signUp", sign_params(phone, hash_, TEST_CODE, first_name="Second")
    )
    assert_error(status, body, 400, "PHONE_NUMBER_OCCUPIED")
    # The code was not consumed by the refused sign-up: signIn still takes it.
    res = await api.ok("auth.signIn", sign_params(phone, hash_, TEST_CODE))
    assert res["user"]["id"] == user["id"] and res["user"]["first_name"] == "First"


async def test_concurrent_sign_ups_with_one_code_make_one_account(api: Api) -> None:
    phone = next_test_phone()
    hash_ = await send_code(api, phone)
    params = sign_params(phone, hash_, TEST_CODE, first_name="Twin")
    answers = await asyncio.gather(*(api.call("auth.signUp", params) for _ in range(6)))
    winners = [body for status, body in answers if status == 200]
    assert len(winners) == 1, answers
    for status, body in answers:
        if status != 200:
            assert_error(status, body, 400, "PHONE_CODE_EXPIRED")
    sessions = await api.ok("account.getAuthorizations", {}, winners[0]["result"]["token"])
    assert len(sessions["authorizations"]) == 1


async def test_sign_up_needs_a_first_name(api: Api) -> None:
    phone = next_test_phone()
    hash_ = await send_code(api, phone)
    status, body = await api.call(
        "auth.signUp", sign_params(phone, hash_, TEST_CODE, first_name="   ")
    )
    assert_error(status, body, 400, "FIRSTNAME_INVALID")


# -- sessions -------------------------------------------------------------------------------
async def test_get_authorizations_lists_sessions_with_the_current_flag(api: Api) -> None:
    phone = next_test_phone()
    t1, _user = await api.sign_up("Sessions", phone)
    t2 = await sign_in_again(api, phone, device="Pixel 8")
    seen_by_2 = (await api.ok("account.getAuthorizations", {}, t2))["authorizations"]
    seen_by_1 = (await api.ok("account.getAuthorizations", {}, t1))["authorizations"]
    assert len(seen_by_2) == len(seen_by_1) == 2
    assert [a["id"] for a in seen_by_1] == [a["id"] for a in seen_by_2]
    current_2 = [a for a in seen_by_2 if a["current"]]
    current_1 = [a for a in seen_by_1 if a["current"]]
    assert len(current_1) == len(current_2) == 1
    assert current_1[0]["id"] != current_2[0]["id"]
    assert current_2[0]["device"] == "Pixel 8" and current_2[0]["ip"] == "127.0.0.1"
    # Another user's list does not show these sessions.
    t3, _ = await api.sign_up("Other")
    others = (await api.ok("account.getAuthorizations", {}, t3))["authorizations"]
    assert len(others) == 1 and others[0]["id"] not in {a["id"] for a in seen_by_1}


async def test_reset_authorization_revokes_http_and_closes_its_websocket(
    server: ServerProcess, api: Api, http: aiohttp.ClientSession
) -> None:
    phone = next_test_phone()
    t1, _user = await api.sign_up("Keeper", phone)
    t2 = await sign_in_again(api, phone, device="stolen")
    await api.ok("updates.getState", {}, t2)  # the token is cached as valid first
    sessions = (await api.ok("account.getAuthorizations", {}, t1))["authorizations"]
    victim = next(a["id"] for a in sessions if not a["current"])
    async with http.ws_connect(server.ws_url + f"?token={t2}") as ws:
        assert await api.ok("account.resetAuthorization", {"id": victim}, t1) is True
        assert await wait_closed(ws) == 4401
    status, body = await api.call("updates.getState", {}, t2)
    assert_error(status, body, 401, "AUTH_KEY_UNREGISTERED")
    await api.ok("updates.getState", {}, t1)
    left = (await api.ok("account.getAuthorizations", {}, t1))["authorizations"]
    assert [a["id"] for a in left] == [a["id"] for a in sessions if a["current"]]
    # Unknown ids, and other users' sessions, cannot be reset.
    status, body = await api.call("account.resetAuthorization", {"id": victim}, t1)
    assert_error(status, body, 400, "HASH_INVALID")
    t3, _ = await api.sign_up("Stranger")
    status, body = await api.call("account.resetAuthorization", {"id": left[0]["id"]}, t3)
    assert_error(status, body, 400, "HASH_INVALID")
    await api.ok("updates.getState", {}, t1)


async def test_log_out_revokes_the_token_and_closes_its_websocket(
    server: ServerProcess, api: Api, http: aiohttp.ClientSession
) -> None:
    phone = next_test_phone()
    t1, _user = await api.sign_up("Leaver", phone)
    t2 = await sign_in_again(api, phone)
    async with (
        http.ws_connect(server.ws_url, headers={"Authorization": f"Bearer {t1}"}) as ws1,
        http.ws_connect(server.ws_url + f"?token={t2}") as ws2,
    ):
        assert await api.ok("auth.logOut", {}, t1) is True
        assert await wait_closed(ws1) == 4401
        # The other session's socket stays open and answers.
        await ws2.send_str(json.dumps({"id": 5, "method": "updates.getState"}))
        answer = json.loads((await ws2.receive(timeout=10)).data)
        assert answer["id"] == 5 and answer["ok"] is True
    status, body = await api.call("updates.getState", {}, t1)
    assert_error(status, body, 401, "AUTH_KEY_UNREGISTERED")
    with pytest.raises(aiohttp.WSServerHandshakeError) as e:
        async with http.ws_connect(server.ws_url + f"?token={t1}"):
            pass
    assert e.value.status == 401
    await api.ok("updates.getState", {}, t2)


async def test_sign_in_over_websocket_adopts_the_session(
    server: ServerProcess, api: Api, http: aiohttp.ClientSession
) -> None:
    phone = next_test_phone()
    _t, me = await api.sign_up("Socket", phone)
    sender, _ = await api.sign_up("Sender")
    async with http.ws_connect(server.ws_url) as ws:
        await ws.send_str(json.dumps({"id": 1, "method": "updates.getState"}))
        answer = json.loads((await ws.receive(timeout=10)).data)
        assert answer["id"] == 1 and answer["error"]["code"] == 401
        await ws.send_str(
            json.dumps({"id": 2, "method": "auth.sendCode", "params": {"phone": phone}})
        )
        sent = json.loads((await ws.receive(timeout=10)).data)
        params = sign_params(phone, sent["result"]["phone_code_hash"], TEST_CODE)
        await ws.send_str(json.dumps({"id": 3, "method": "auth.signIn", "params": params}))
        signed = json.loads((await ws.receive(timeout=10)).data)
        assert signed["id"] == 3 and signed["result"]["user"]["id"] == me["id"]
        await api.ok(
            "messages.sendMessage",
            {"peer": {"user_id": me["id"]}, "text": "خوش آمدی", "random_id": 1},
            sender,
        )
        push = json.loads((await ws.receive(timeout=10)).data)
        assert push["updates"][0]["message"]["text"] == "خوش آمدی"


async def test_test_numbers_are_refused_when_switched_off(own_server: ServerProcess) -> None:
    own_server.extra_env["CHAPAR_TEST_NUMBERS"] = "false"
    await asyncio.to_thread(own_server.start)
    async with aiohttp.ClientSession() as http:
        api = Api(http, own_server.url)
        status, body = await api.call("auth.sendCode", {"phone": next_test_phone()})
        assert_error(status, body, 400, "PHONE_NUMBER_INVALID")
        # Real numbers still get a real (random) code by SMS.
        national, e164 = real_phone()
        hash_ = await send_code(api, national)
        code = code_from_outbox(own_server.data_dir, e164)
        await api.ok("auth.signUp", sign_params(e164, hash_, code, first_name="Real"))
