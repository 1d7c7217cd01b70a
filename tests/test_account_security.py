"""Account security (issue 5): code types and fallback (in-app, SMS, call), login alerts,
two-step verification with email recovery, ending sessions, deleting the account.

Flows run through a real server; the time rules (resend timeout, expiry, email codes) run
in-process on a ManualClock.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from chapar.app import Chapar, build, close
from chapar.config import Settings
from chapar.errors import BadRequest, FloodWait, Unauthorized
from chapar.ports.clock import ManualClock
from chapar.protocol import methods as m
from chapar.protocol.types import Peer
from chapar.services.auth import EMAIL_CODE_TTL, AuthContext
from tests.accounts import (
    SYSTEM_USER_ID,
    assert_error,
    code_in,
    last_sms_code,
    mails,
    real_phone,
    sign_up_real,
    sms,
    start,
    system_messages,
)
from tests.server import TEST_CODE, Api, ServerProcess, next_test_phone

_CLOSED = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED)


def sign(phone: str, hash_: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"phone": phone, "phone_code_hash": hash_, "code": code, **extra}


async def next_push(ws: aiohttp.ClientWebSocketResponse, type_: str) -> dict[str, Any]:
    for _ in range(50):
        msg = await ws.receive(timeout=10)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        for u in json.loads(msg.data).get("updates", []):
            if u["type"] == type_:
                return dict(u)
    raise AssertionError(f"no {type_} pushed")


async def wait_closed(ws: aiohttp.ClientWebSocketResponse) -> int | None:
    for _ in range(50):
        if (await ws.receive(timeout=10)).type in _CLOSED:
            return ws.close_code
    raise AssertionError("the server did not close the WebSocket")


# -- code types and fallback, login alerts -------------------------------------------------
async def test_code_goes_in_app_first_then_sms_then_call(
    own_server: ServerProcess, http: aiohttp.ClientSession
) -> None:
    await start(own_server, CHAPAR_CODE_VOICE_CALLS="true", CHAPAR_CODE_RESEND_SECONDS="0")
    api, data = Api(http, own_server.url), own_server.data_dir
    phone = real_phone("912")
    first = await api.ok("auth.sendCode", {"phone": phone})
    assert (first["type"], first["next_type"]) == ("sms", "call")  # no account: SMS first
    code = last_sms_code(data, phone)
    up = await api.ok("auth.signUp", sign(phone, first["phone_code_hash"], code, first_name="Sima"))
    assert await system_messages(api, up["token"]) == []  # the first session alerts no one
    async with http.ws_connect(f"{own_server.ws_url}?token={up['token']}") as ws:
        sent = await api.ok("auth.sendCode", {"phone": phone})
        assert (sent["type"], sent["next_type"], sent["timeout"]) == ("app", "sms", 0)
        pushed = (await next_push(ws, "updateNewMessage"))["message"]
        assert pushed["from_id"] == SYSTEM_USER_ID and pushed["peer"] == {"user_id": SYSTEM_USER_ID}
        in_app = code_in(pushed["text"])
        assert len(sms(data, phone)) == 1, "an in-app code sends no SMS"
        hash_ = sent["phone_code_hash"]
        again = await api.ok("auth.resendCode", {"phone": phone, "phone_code_hash": hash_})
        assert (again["type"], again["next_type"], again["phone_code_hash"]) == (
            "sms",
            "call",
            hash_,
        )
        by_sms = last_sms_code(data, phone)
        last = await api.ok("auth.resendCode", {"phone": phone, "phone_code_hash": hash_})
        assert (last["type"], last["next_type"]) == ("call", None)
        call = sms(data, phone)[-1]["text"]
        assert call.startswith("Your Chapar code is") and len(sms(data, phone)) == 3
        status, body = await api.call("auth.resendCode", {"phone": phone, "phone_code_hash": hash_})
        assert_error(status, body, 400, "SEND_CODE_UNAVAILABLE")
        # Each resend is a new code: the ones before it are dead.
        for stale in {in_app, by_sms} - {code_in(call)}:
            status, body = await api.call("auth.signIn", sign(phone, hash_, stale))
            assert_error(status, body, 400, "PHONE_CODE_INVALID")
        device, app = "Pixel 9\n\nDevice: your laptop", "Chapar Web 2.1"
        res = await api.ok("auth.signIn", sign(phone, hash_, code_in(call), device=device, app=app))
        assert res["user"]["id"] == up["user"]["id"]
        alert = (await next_push(ws, "updateNewMessage"))["message"]
    assert alert["from_id"] == SYSTEM_USER_ID
    text = alert["text"]
    assert "Device: Pixel 9 Device: your laptop\n" in text and "App: Chapar Web 2.1" in text
    assert "127.0.0.1" not in text
    # Both sessions find the code and the alert in the log, and a dialog with the system
    # account that lists it by name.
    for token in (up["token"], res["token"]):
        assert [x["text"] for x in await system_messages(api, token)] == [pushed["text"], text]
    dialogs = await api.ok("messages.getDialogs", {}, res["token"])
    assert {"id": SYSTEM_USER_ID, "first_name": "Chapar"}.items() <= next(
        u for u in dialogs["users"] if u["id"] == SYSTEM_USER_ID
    ).items()
    # No one can write to the system account.
    status, body = await api.call(
        "messages.sendMessage",
        {"peer": {"user_id": SYSTEM_USER_ID}, "text": "hi", "random_id": 1},
        res["token"],
    )
    assert_error(status, body, 400, "PEER_ID_INVALID")


async def test_login_alerts_reach_the_other_sessions(api: Api) -> None:
    phone = next_test_phone()
    t1, user = await api.sign_up("Alerted", phone)
    assert await system_messages(api, t1) == []
    sent = await api.ok("auth.sendCode", {"phone": phone})
    assert sent["type"] == "sms"  # test numbers never get in-app codes: they send nothing
    await api.ok(
        "auth.signIn", sign(phone, sent["phone_code_hash"], TEST_CODE, device="Galaxy", app="X")
    )
    alerts = await system_messages(api, t1)
    assert len(alerts) == 1 and "Device: Galaxy" in alerts[0]["text"]
    assert alerts[0]["text"].startswith("Alerted, someone signed in")
    hist = await api.ok("messages.getHistory", {"peer": {"user_id": SYSTEM_USER_ID}}, t1)
    assert [x["id"] for x in hist["messages"]] == [alerts[0]["id"]]
    assert user["id"] != SYSTEM_USER_ID


async def test_send_code_answers_alike_with_and_without_an_account(
    own_server: ServerProcess, http: aiohttp.ClientSession
) -> None:
    await start(own_server)
    api = Api(http, own_server.url)
    registered = real_phone("913")
    up = await sign_up_real(api, own_server.data_dir, registered)
    await api.ok("auth.logOut", {}, up["token"])  # an account, signed in nowhere
    unknown = real_phone("913")
    a = await api.ok("auth.sendCode", {"phone": registered})
    b = await api.ok("auth.sendCode", {"phone": unknown})
    assert a.keys() == b.keys() and len(a["phone_code_hash"]) == len(b["phone_code_hash"])
    assert {**a, "phone_code_hash": ""} == {**b, "phone_code_hash": ""}
    status_a, body_a = await api.call("auth.sendCode", {"phone": registered})
    status_b, body_b = await api.call("auth.sendCode", {"phone": unknown})
    assert (status_a, body_a["error"]["type"]) == (status_b, body_b["error"]["type"])
    assert body_a["error"]["message"] == body_b["error"]["message"]


# -- two-step verification -------------------------------------------------------------------
async def test_two_step_verification_with_email_confirmation_and_recovery(
    server: ServerProcess, api: Api
) -> None:
    phone = next_test_phone()
    token, user = await api.sign_up("Guarded", phone)
    email = f"guarded{user['id']}@example.ir"
    assert await api.ok("account.getPassword", {}, token) == {"has_password": False}
    pw = await api.ok(
        "account.updatePasswordSettings",
        {"new_password": "کلمه عبور", "hint": "my usual", "email": email},
        token,
    )
    pattern = "g***@e***.ir"
    assert pw == {
        "has_password": True,
        "hint": "my usual",
        "email_unconfirmed_pattern": pattern,
    }
    # The address counts only once the code sent there comes back.
    confirm = mails(server.data_dir, email)
    assert len(confirm) == 1
    status, body = await api.call("account.confirmPasswordEmail", {"code": "000000"}, token)
    if code_in(confirm[0]["text"]) != "000000":
        assert_error(status, body, 400, "EMAIL_CODE_INVALID")
    pw = await api.ok("account.confirmPasswordEmail", {"code": code_in(confirm[0]["text"])}, token)
    assert pw == {"has_password": True, "hint": "my usual", "has_recovery": True}
    # Changing it needs the current one.
    change = {"new_password": "new secret", "hint": "my usual", "email": email}
    status, body = await api.call("account.updatePasswordSettings", change, token)
    assert_error(status, body, 400, "PASSWORD_HASH_INVALID")
    status, body = await api.call(
        "account.updatePasswordSettings", {**change, "current_password": "wrong"}, token
    )
    assert_error(status, body, 400, "PASSWORD_HASH_INVALID")
    pw = await api.ok(
        "account.updatePasswordSettings", {**change, "current_password": "کلمه عبور"}, token
    )
    assert pw["has_recovery"] is True, "the confirmed address stays confirmed"
    assert len(mails(server.data_dir, email)) == 1
    # Signing in now takes the code, then the password.
    sent = await api.ok("auth.sendCode", {"phone": phone})
    req = {"phone": phone, "phone_code_hash": sent["phone_code_hash"]}
    status, body = await api.call("auth.signIn", sign(phone, req["phone_code_hash"], TEST_CODE))
    assert_error(status, body, 401, "SESSION_PASSWORD_NEEDED")
    hint = await api.ok("auth.getPassword", req)
    assert hint == {"has_password": True, "hint": "my usual", "has_recovery": True}
    status, body = await api.call("auth.checkPassword", {**req, "password": "کلمه عبور"})
    assert_error(status, body, 400, "PASSWORD_HASH_INVALID")
    res = await api.ok("auth.checkPassword", {**req, "password": "new secret", "device": "Tab"})
    assert res["user"]["id"] == user["id"]
    status, body = await api.call("auth.checkPassword", {**req, "password": "new secret"})
    assert_error(status, body, 400, "PHONE_CODE_EXPIRED")  # the request is used up
    alerts = await system_messages(api, token)
    assert len(alerts) == 1 and "Device: Tab" in alerts[0]["text"]
    # Forgotten: recovery by a code sent to the confirmed address turns the password off.
    sent = await api.ok("auth.sendCode", {"phone": phone})
    req = {"phone": phone, "phone_code_hash": sent["phone_code_hash"]}
    status, body = await api.call("auth.signIn", sign(phone, req["phone_code_hash"], TEST_CODE))
    assert_error(status, body, 401, "SESSION_PASSWORD_NEEDED")
    recovery = await api.ok("auth.requestPasswordRecovery", req)
    assert recovery == {"email_pattern": pattern}
    mailed = code_in(mails(server.data_dir, email)[-1]["text"])
    wrong = "111111" if mailed != "111111" else "222222"
    status, body = await api.call("auth.recoverPassword", {**req, "code": wrong})
    assert_error(status, body, 400, "EMAIL_CODE_INVALID")
    back = await api.ok("auth.recoverPassword", {**req, "code": mailed, "device": "Lost"})
    assert back["user"]["id"] == user["id"]
    assert await api.ok("account.getPassword", {}, back["token"]) == {"has_password": False}
    note = (await system_messages(api, token))[-1]["text"]
    assert "Device: Lost" in note and "recovery email" in note
    # Turned off, signing in takes the code alone again; removing needs the password.
    sent = await api.ok("auth.sendCode", {"phone": phone})
    await api.ok("auth.signIn", sign(phone, sent["phone_code_hash"], TEST_CODE))
    await api.ok("account.updatePasswordSettings", {"new_password": "again"}, token)
    status, body = await api.call("account.updatePasswordSettings", {"new_password": ""}, token)
    assert_error(status, body, 400, "PASSWORD_HASH_INVALID")
    off = await api.ok("account.updatePasswordSettings", {"current_password": "again"}, token)
    assert off == {"has_password": False}


async def test_recovery_needs_a_confirmed_address(api: Api) -> None:
    phone = next_test_phone()
    token, _user = await api.sign_up("NoMail", phone)
    await api.ok(
        "account.updatePasswordSettings",
        {"new_password": "pw", "email": "never-confirmed@example.ir"},
        token,
    )
    sent = await api.ok("auth.sendCode", {"phone": phone})
    req = {"phone": phone, "phone_code_hash": sent["phone_code_hash"]}
    status, body = await api.call("auth.signIn", sign(phone, req["phone_code_hash"], TEST_CODE))
    assert_error(status, body, 401, "SESSION_PASSWORD_NEEDED")
    status, body = await api.call("auth.requestPasswordRecovery", req)
    assert_error(status, body, 400, "PASSWORD_RECOVERY_NA")


# -- sessions ----------------------------------------------------------------------------------
async def test_reset_authorizations_ends_every_other_session(
    server: ServerProcess, api: Api, http: aiohttp.ClientSession
) -> None:
    phone = next_test_phone()
    keep, _user = await api.sign_up("Keeper", phone)
    others = []
    for device in ("old phone", "stolen laptop"):
        sent = await api.ok("auth.sendCode", {"phone": phone})
        res = await api.ok(
            "auth.signIn", sign(phone, sent["phone_code_hash"], TEST_CODE, device=device)
        )
        others.append(res["token"])
    stranger, _ = await api.sign_up("Stranger")
    async with http.ws_connect(f"{server.ws_url}?token={others[1]}") as ws:
        assert await api.ok("auth.resetAuthorizations", {}, keep) is True
        assert await wait_closed(ws) == 4401
    for token in others:
        status, body = await api.call("updates.getState", {}, token)
        assert_error(status, body, 401, "AUTH_KEY_UNREGISTERED")
    left = (await api.ok("account.getAuthorizations", {}, keep))["authorizations"]
    assert len(left) == 1 and left[0]["current"] is True
    await api.ok("updates.getState", {}, stranger)  # other accounts are untouched


# -- deleting the account ----------------------------------------------------------------------
async def test_delete_account_like_telegram(
    any_server: ServerProcess, http: aiohttp.ClientSession
) -> None:
    api = Api(http, any_server.url)
    phone = next_test_phone()
    gone_token, gone = await api.sign_up("Leaving", phone)
    second = await api.ok(
        "auth.signIn",
        sign(
            phone, (await api.ok("auth.sendCode", {"phone": phone}))["phone_code_hash"], TEST_CODE
        ),
    )
    friend_token, friend = await api.sign_up("Friend")
    username = f"leaving_{gone['id']}"
    await api.ok("account.updateUsername", {"username": username}, gone_token)
    await api.ok("contacts.importContacts", {"contacts": [{"phone": phone}]}, friend_token)
    for i, (frm, to) in enumerate([(gone_token, friend), (friend_token, gone)]):
        params = {"peer": {"user_id": to["id"]}, "text": f"m{i}", "random_id": 1 + i}
        await api.ok("messages.sendMessage", params, frm)
    await api.ok(
        "messages.sendMessage",
        {"peer": {"user_id": gone["id"]}, "text": "saved note", "random_id": 9},
        gone_token,
    )
    group = (await api.ok("channels.createChannel", {"title": "Left behind"}, gone_token))["chat"]
    channel = {"chat_id": group["id"]}
    await api.ok(
        "channels.inviteToChannel", {"channel": channel, "users": [friend["id"]]}, gone_token
    )
    await api.ok(
        "channels.editAdmin",
        {"channel": channel, "user_id": friend["id"], "admin_rights": {"ban_users": True}},
        gone_token,
    )
    await api.ok(
        "messages.sendMessage",
        {"peer": channel, "text": "posted before", "random_id": 3},
        gone_token,
    )
    await api.ok("account.updatePasswordSettings", {"new_password": "bye"}, gone_token)
    status, body = await api.call("account.deleteAccount", {}, gone_token)
    assert_error(status, body, 400, "PASSWORD_HASH_INVALID")

    assert await api.ok("account.deleteAccount", {"password": "bye", "reason": "test"}, gone_token)
    # Every session ended.
    for token in (gone_token, second["token"]):
        status, body = await api.call("updates.getState", {}, token)
        assert_error(status, body, 401, "AUTH_KEY_UNREGISTERED")
    # The friend keeps the chat, shown as from a deleted account without number or name.
    hist = await api.ok("messages.getHistory", {"peer": {"user_id": gone["id"]}}, friend_token)
    assert sorted(x["text"] for x in hist["messages"]) == ["m0", "m1"]
    shown = next(u for u in hist["users"] if u["id"] == gone["id"])
    assert shown == {"id": gone["id"], "first_name": "Deleted Account"}
    status, body = await api.call(
        "messages.sendMessage",
        {"peer": {"user_id": gone["id"]}, "text": "hello?", "random_id": 4},
        friend_token,
    )
    assert_error(status, body, 400, "PEER_ID_INVALID")
    found = await api.ok("messages.search", {"q": "m0"}, friend_token)
    assert [x["text"] for x in found["messages"]] == ["m0"]
    status, body = await api.call("contacts.resolveUsername", {"username": username}, friend_token)
    assert_error(status, body, 400, "USERNAME_NOT_OCCUPIED")
    # The group lives on, handed to its admin; the deleted account is no member and its
    # post stays.
    full = (await api.ok("channels.getFullChannel", {"channel": channel}, friend_token))["chat"]
    assert full["role"] == "creator" and full["members_count"] == 1
    posts = await api.ok("messages.getHistory", {"peer": channel}, friend_token)
    assert "posted before" in [x["text"] for x in posts["messages"]]
    # The number and the username are free: a new account, with nothing of the old one.
    token, fresh = await api.sign_up("Again", phone)
    assert fresh["id"] != gone["id"]
    assert (await api.ok("messages.getDialogs", {}, token))["dialogs"] == []
    assert await api.ok("account.getPassword", {}, token) == {"has_password": False}
    await api.ok("account.updateUsername", {"username": username}, token)
    contacts = await api.ok(
        "contacts.importContacts", {"contacts": [{"phone": phone}]}, friend_token
    )
    assert [c["user_id"] for c in contacts["imported"]] == [fresh["id"]]


# -- time rules, on a ManualClock ------------------------------------------------------------
class CountingRandom:
    """Codes 000001, 000002, …: each new code differs from the last; unique tokens."""

    def __init__(self) -> None:
        self._codes = itertools.count(1)
        self._tokens = itertools.count(1)

    def digits(self, n: int) -> str:
        return f"{next(self._codes):0{n}d}"

    def token(self, nbytes: int) -> str:
        return f"t{next(self._tokens)}x{nbytes}"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def app(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Chapar]:
    settings = Settings(
        data_dir=str(tmp_path),
        sqlite_synchronous="OFF",
        code_voice_calls=True,
        sms_send_wait_ms=10_000,
    )
    c = await build(settings, clock=clock, random=CountingRandom())
    yield c
    await close(c)


def outbox_codes(c: Chapar, phone: str) -> list[str]:
    return [code_in(x["text"]) for x in sms(c.settings.data_path, phone)]


async def test_resend_waits_for_the_timeout_and_renews_the_code(
    app: Chapar, clock: ManualClock
) -> None:
    auth, phone = app.services.auth, "+989121234567"
    sent = await auth.send_code(m.SendCode(phone=phone))
    assert (sent.type, sent.next_type, sent.timeout) == ("sms", "call", 60)
    req = m.ResendCode(phone=phone, phone_code_hash=sent.phone_code_hash)
    clock.advance(59)
    with pytest.raises(FloodWait) as e:
        await auth.resend_code(req)
    assert e.value.retry_after == 1
    clock.advance(1)
    call = await auth.resend_code(req)
    assert (call.type, call.next_type, call.timeout) == ("call", None, 60)
    assert outbox_codes(app, phone) == ["000001", "000002"]
    # The resent code lives a full lifetime from the resend: 5 minutes after it, not the
    # first send; and it is the only one that works.
    clock.advance(app.settings.code_ttl_seconds - 1)
    up = m.SignUp(phone=phone, phone_code_hash=sent.phone_code_hash, code="000001", first_name="T")
    with pytest.raises(BadRequest) as bad:
        await auth.sign_up(up, "127.0.0.1")
    assert bad.value.type == "PHONE_CODE_INVALID"
    up.code = "000002"
    assert (await auth.sign_up(up, "127.0.0.1")).user.phone == phone


async def test_in_app_needs_a_signed_in_account_and_the_setting(
    tmp_path: Path, clock: ManualClock
) -> None:
    phone = "+989121234568"
    for in_app in (True, False):
        settings = Settings(
            data_dir=str(tmp_path / str(in_app)), sqlite_synchronous="OFF", code_in_app=in_app
        )
        c = await build(settings, clock=clock, random=CountingRandom())
        try:
            auth = c.services.auth
            sent = await auth.send_code(m.SendCode(phone=phone))
            up = m.SignUp(phone=phone, phone_code_hash=sent.phone_code_hash, code="000001",
                          first_name="A")  # fmt: skip
            res = await auth.sign_up(up, "")
            ctx = await auth.resolve_token(res.token)
            again = await auth.send_code(m.SendCode(phone=phone))
            want = ("app", "sms") if in_app else ("sms", None)
            assert (again.type, again.next_type) == want
            await auth.log_out(ctx)
            clock.advance(60)
            alone = await auth.send_code(m.SendCode(phone=phone))
            assert (alone.type, alone.next_type) == ("sms", None)  # signed in nowhere
        finally:
            await close(c)


async def test_recovery_code_expires_after_an_hour(app: Chapar, clock: ManualClock) -> None:
    auth, account = app.services.auth, app.services.account
    phone = "+989121234569"
    sent = await auth.send_code(m.SendCode(phone=phone))
    up = m.SignUp(phone=phone, phone_code_hash=sent.phone_code_hash, code="000001", first_name="R")
    ctx: AuthContext = await auth.resolve_token((await auth.sign_up(up, "")).token)
    await account.update_password_settings(
        ctx, m.UpdatePasswordSettings(new_password="pw", email="r@example.ir")
    )
    mailed = code_in(mails(app.settings.data_path, "r@example.ir")[-1]["text"])
    await account.confirm_password_email(ctx, m.ConfirmPasswordEmail(code=mailed))
    clock.advance(60)
    sent = await auth.send_code(m.SendCode(phone=phone))
    assert sent.type == "app"
    system = m.GetHistory(peer=Peer(user_id=SYSTEM_USER_ID))
    in_app = (await app.services.messages.history(ctx, system)).messages
    req = m.SignIn(phone=phone, phone_code_hash=sent.phone_code_hash, code=code_in(in_app[0].text))
    with pytest.raises(Unauthorized) as needed:
        await auth.sign_in(req, "")
    assert needed.value.type == "SESSION_PASSWORD_NEEDED"
    code_req = m.CodeRequest(phone=phone, phone_code_hash=sent.phone_code_hash)
    await auth.request_password_recovery(code_req)
    recovery = code_in(mails(app.settings.data_path, "r@example.ir")[-1]["text"])
    # The pending sign-in waits for the email as long as the email code lives (far beyond
    # the 5 minutes of a login code)...
    clock.advance(EMAIL_CODE_TTL - 1)
    rec = m.RecoverPassword(phone=phone, phone_code_hash=sent.phone_code_hash, code="999999")
    with pytest.raises(BadRequest) as e:
        await auth.recover_password(rec, "")
    assert e.value.type == "EMAIL_CODE_INVALID"
    # ...and not a second longer.
    clock.advance(1)
    rec.code = recovery
    with pytest.raises(BadRequest) as e:
        await auth.recover_password(rec, "")
    assert e.value.type == "PHONE_CODE_EXPIRED"
    assert (await account.get_password(ctx)).has_password is True
    # Nothing signed in: the code is all the system account said.
    assert (await app.services.messages.history(ctx, system)).messages == in_app
