"""Abuse limits (services/limits.py): the table and its overrides, the keys, and, through
running servers with tight limits, that brute force of a code and of a password, SMS pumping
over a number range and floods from one address or network are stopped, also across two
server processes sharing Redis; bad input is refused with a clear 4xx and sends nothing."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis

from chapar.adapters.memory.limiter import MemoryLimiter
from chapar.app import build
from chapar.config import Settings, load_settings
from chapar.errors import FloodWait
from chapar.ports.limiter import Limit
from chapar.services.limits import (
    HOUR,
    LimitGuard,
    Limits,
    ip_key,
    number_range,
    subnet_key,
)
from tests.accounts import (
    assert_error,
    from_address,
    last_sms_code,
    mails,
    real_phone,
    sms,
    start,
)
from tests.server import TEST_CODE, Api, ServerProcess, next_test_phone

REDIS_URL = os.environ.get("CHAPAR_TEST_REDIS_URL")


# -- the table --------------------------------------------------------------------------
def test_every_limit_is_declared_once_under_its_own_name() -> None:
    names = Limits.names()
    assert len(names) == len(set(names)) >= 10
    for name in names:
        limit = getattr(Limits, name)
        assert isinstance(limit, Limit) and limit.name == name
    assert set(names) >= {
        "send_code_per_phone",
        "send_code_per_ip",
        "send_code_per_subnet",
        "sms_per_range",
        "sms_global",
        "check_code_per_phone",
        "check_code_per_hash",
        "check_password_per_user",
    }


def test_overrides_replace_only_what_they_name() -> None:
    limits = Limits.from_settings(
        "send_code_per_phone=3/1h, sms_global = 50000/1d\ncheck_code_per_hash=4/90"
    )
    assert limits.send_code_per_phone == Limit("send_code_per_phone", 3, HOUR)
    assert limits.sms_global == Limit("sms_global", 50_000, 86_400)
    assert limits.check_code_per_hash == Limit("check_code_per_hash", 4, 90)
    assert limits.sms_per_range == Limits.sms_per_range  # untouched: the default
    assert Limits.from_settings("").send_code_per_ip == Limits.send_code_per_ip
    assert Limits.from_settings("sms_per_range=7/30m").sms_per_range.per_seconds == 1800


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("sms_globl=5/1h", "unknown limit 'sms_globl'"),
        ("sms_global", "unknown limit"),
        ("sms_global=5", "name=amount/period"),
        ("sms_global=5/1w", "name=amount/period"),
        ("sms_global=-5/1h", "name=amount/period"),
        ("sms_global=0/1h", "amount >= 1"),
    ],
)
def test_bad_overrides_are_refused_with_the_reason(spec: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Limits.from_settings(spec)


async def test_a_server_with_bad_limits_does_not_start(tmp_path: Path) -> None:
    settings = load_settings(
        env={"CHAPAR_LIMITS": "sms_global=lots", "CHAPAR_DATA_DIR": str(tmp_path)}
    )
    with pytest.raises(ValueError, match="sms_global=lots"):
        await build(settings)
    with pytest.raises(ValueError, match="blocked_phone_prefixes"):
        await build(Settings(data_dir=str(tmp_path), blocked_phone_prefixes="98935"))


# -- keys -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ip", "address", "network"),
    [
        ("203.0.113.7", "203.0.113.7", "203.0.113.0/24"),
        ("::ffff:203.0.113.7", "203.0.113.7", "203.0.113.0/24"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::9", "2001:db8:1:2::9", "2001:db8:1:2::/64"),
        ("fe80::1%eth0", "fe80::1", "fe80::/64"),
        ("", "unknown", "unknown"),
        ("not an address", "unknown", "unknown"),
    ],
)
def test_address_and_network_keys(ip: str, address: str, network: str) -> None:
    assert (ip_key(ip), subnet_key(ip)) == (address, network)


def test_number_range_is_country_and_operator_block() -> None:
    assert number_range("+989121234567") == "9891212"
    assert number_range("+989121299999") == number_range("+989121200000")
    assert number_range("+989131234567") != number_range("+989121234567")
    assert number_range("+14155550123") == "1415555"


# -- the guard --------------------------------------------------------------------------
async def test_guard_spends_in_order_and_answers_how_long_to_wait() -> None:
    limiter = MemoryLimiter()
    guard = LimitGuard(limiter, Limits())
    wide, narrow = Limit("wide", 10, HOUR), Limit("narrow", 2, HOUR)
    await guard.spend((wide, "k"), (narrow, "k"))
    await guard.spend((wide, "k"), (narrow, "k"))
    with pytest.raises(FloodWait) as e:
        await guard.spend((wide, "k"), (narrow, "k"))
    assert e.value.code == 429 and 1 <= e.value.retry_after <= HOUR
    assert "narrow" in e.value.message
    # The refused call still counted against the rule before the breach.
    assert await limiter.hit("k", wide, cost=7) is None
    assert await limiter.hit("k", wide) is not None
    await guard.forget(narrow, "k")
    await guard.spend((narrow, "k"))
    await limiter.close()


# -- through a running server -------------------------------------------------------------
def sign(phone: str, hash_: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"phone": phone, "phone_code_hash": hash_, "code": code, **extra}


async def test_code_brute_force_is_stopped_per_request_and_per_number(
    own_server: ServerProcess, http: aiohttp.ClientSession
) -> None:
    # The per-code attempt counter is set out of the way: the limits must stop it alone.
    await start(
        own_server,
        CHAPAR_LIMITS="check_code_per_hash=3/1h, check_code_per_phone=5/1h",
        CHAPAR_CODE_MAX_ATTEMPTS="1000",
        CHAPAR_CODE_RESEND_SECONDS="0",
    )
    api = Api(http, own_server.url)
    phone = real_phone()
    first = (await api.ok("auth.sendCode", {"phone": phone}))["phone_code_hash"]
    code = last_sms_code(own_server.data_dir, phone)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(3):
        status, body = await api.call("auth.signUp", sign(phone, first, wrong, first_name="X"))
        assert_error(status, body, 400, "PHONE_CODE_INVALID")
    # The guesser is held off, even when the guess is right.
    status, body = await api.call("auth.signUp", sign(phone, first, code, first_name="X"))
    assert_error(status, body, 429, "FLOOD_WAIT")
    assert "check_code_per_hash" in body["error"]["message"]
    # A new code request does not give the number a new budget: 4 checks were counted.
    second = (await api.ok("auth.sendCode", {"phone": phone}))["phone_code_hash"]
    code = last_sms_code(own_server.data_dir, phone)
    status, body = await api.call("auth.signUp", sign(phone, second, wrong, first_name="X"))
    assert_error(status, body, 400, "PHONE_CODE_INVALID")
    status, body = await api.call("auth.signUp", sign(phone, second, code, first_name="X"))
    assert_error(status, body, 429, "FLOOD_WAIT")
    assert "check_code_per_phone" in body["error"]["message"]
    # Another number is not held back.
    other = real_phone()
    hash_ = (await api.ok("auth.sendCode", {"phone": other}))["phone_code_hash"]
    code = last_sms_code(own_server.data_dir, other)
    await api.ok("auth.signUp", sign(other, hash_, code, first_name="Other"))


async def test_password_brute_force_is_stopped_per_account(
    own_server: ServerProcess, http: aiohttp.ClientSession
) -> None:
    await start(own_server, CHAPAR_LIMITS="check_password_per_user=3/1h")
    api = Api(http, own_server.url)
    phone = next_test_phone()  # exempt from the code limits, not from the password's
    token, _user = await api.sign_up("Locked", phone)
    await api.ok("account.updatePasswordSettings", {"new_password": "correct horse"}, token)

    async def code_accepted() -> str:
        hash_ = str((await api.ok("auth.sendCode", {"phone": phone}))["phone_code_hash"])
        status, body = await api.call("auth.signIn", sign(phone, hash_, TEST_CODE))
        assert_error(status, body, 401, "SESSION_PASSWORD_NEEDED")
        return hash_

    hash_ = await code_accepted()
    for guess in ("123456", "password", "correct"):
        status, body = await api.call(
            "auth.checkPassword", {"phone": phone, "phone_code_hash": hash_, "password": guess}
        )
        assert_error(status, body, 400, "PASSWORD_HASH_INVALID")
    right = {"phone": phone, "phone_code_hash": hash_, "password": "correct horse"}
    status, body = await api.call("auth.checkPassword", right)
    assert_error(status, body, 429, "FLOOD_WAIT")
    # The budget belongs to the account: a fresh code request does not renew it.
    hash_ = await code_accepted()
    status, body = await api.call("auth.checkPassword", {**right, "phone_code_hash": hash_})
    assert_error(status, body, 429, "FLOOD_WAIT")
    # Changing the password needs the password, and spends the same budget.
    status, body = await api.call(
        "account.updatePasswordSettings",
        {"current_password": "correct horse", "new_password": "x"},
        token,
    )
    assert_error(status, body, 429, "FLOOD_WAIT")


async def test_sms_pumping_over_a_number_range_is_stopped(
    own_server: ServerProcess, http: aiohttp.ClientSession
) -> None:
    await start(own_server, CHAPAR_LIMITS="sms_per_range=3/1h, sms_global=5/1h")
    api = Api(http, own_server.url)
    pumped = [real_phone("990") for _ in range(8)]  # one range: +98 990 10…
    answers = [await api.call("auth.sendCode", {"phone": p}) for p in pumped]
    assert [status for status, _ in answers] == [200] * 3 + [429] * 5
    for _status, body in answers[3:]:
        assert_error(429, body, 429, "FLOOD_WAIT")
    assert [x["to"] for x in sms(own_server.data_dir)] == pumped[:3]
    # Other ranges still get codes, until the global hourly budget is spent.
    elsewhere = [real_phone("935"), real_phone("901"), real_phone("912")]
    assert [(await api.call("auth.sendCode", {"phone": p}))[0] for p in elsewhere] == [
        200,
        200,
        429,
    ]
    assert len(sms(own_server.data_dir)) == 5
    # Reserved test numbers send nothing and are exempt, so load tests keep working.
    for _ in range(3):
        await api.ok("auth.sendCode", {"phone": next_test_phone()})


async def test_floods_from_one_address_and_one_network_are_stopped(
    own_server: ServerProcess, http: aiohttp.ClientSession
) -> None:
    await start(own_server, CHAPAR_LIMITS="send_code_per_ip=2/1h, send_code_per_subnet=3/1h")

    async def send_from(session: aiohttp.ClientSession) -> int:
        phone = real_phone("901")
        status, body = await Api(session, own_server.url).call("auth.sendCode", {"phone": phone})
        if status != 200:
            assert_error(status, body, 429, "FLOOD_WAIT")
        assert len(sms(own_server.data_dir, phone)) == (1 if status == 200 else 0)
        return status

    assert [await send_from(http) for _ in range(3)] == [200, 200, 429]  # 127.0.0.1
    async with from_address("127.0.0.2") as neighbour:  # same /24: one left of its 3
        assert [await send_from(neighbour) for _ in range(2)] == [200, 429]
    async with from_address("127.0.1.2") as stranger:  # another network
        assert [await send_from(stranger) for _ in range(3)] == [200, 200, 429]


@pytest.fixture
async def redis_prefix() -> Any:
    if not REDIS_URL:
        pytest.skip("set CHAPAR_TEST_REDIS_URL to test limits shared between processes")
    prefix = f"test_{uuid.uuid4().hex[:12]}:"
    yield prefix
    async with Redis.from_url(REDIS_URL) as admin:
        keys = [k async for k in admin.scan_iter(match=f"{prefix}*")]
        if keys:
            await admin.delete(*keys)


async def test_limits_hold_across_two_server_processes_on_redis(
    tmp_path: Path, http: aiohttp.ClientSession, redis_prefix: str
) -> None:
    assert REDIS_URL
    env = {
        "CHAPAR_REDIS_URL": REDIS_URL,
        "CHAPAR_REDIS_PREFIX": redis_prefix,
        "CHAPAR_LIMITS": "sms_per_range=3/1h, check_code_per_phone=3/1h",
    }
    # Each node has its own SQLite store: only Redis is shared, so only the limits are.
    nodes = [ServerProcess(tmp_path / name, env=env) for name in ("a", "b")]
    try:
        for node in nodes:
            await start(node)
        a, b = (Api(http, node.url) for node in nodes)
        pumped = [real_phone("937") for _ in range(5)]
        statuses = [
            (await api.call("auth.sendCode", {"phone": p}))[0]
            for api, p in zip([a, b, a, b, a], pumped, strict=True)
        ]
        assert statuses == [200, 200, 200, 429, 429]
        # Code checks of one number count on both nodes alike.
        phone = real_phone("938")
        hash_ = (await a.ok("auth.sendCode", {"phone": phone}))["phone_code_hash"]
        guess = sign(phone, hash_, "000000")
        checks = [await api.call("auth.signIn", guess) for api in (a, b, a, b)]
        assert [status for status, _ in checks] == [400, 400, 400, 429]
        assert checks[1][1]["error"]["type"] == "PHONE_CODE_HASH_INVALID"  # b has no such code
    finally:
        for node in nodes:
            if node.proc is not None:
                node.kill()


# -- bad input --------------------------------------------------------------------------
async def test_bad_input_gets_a_clear_4xx_and_sends_nothing(
    own_server: ServerProcess, http: aiohttp.ClientSession
) -> None:
    await start(own_server, CHAPAR_BLOCKED_PHONE_PREFIXES="+98990, +98991")
    api = Api(http, own_server.url)
    phone = real_phone("935")
    up = await api.ok("auth.sendCode", {"phone": phone})
    code = last_sms_code(own_server.data_dir, phone)
    token = (await api.ok("auth.signUp", sign(phone, up["phone_code_hash"], code, first_name="B")))[
        "token"
    ]
    other = real_phone("936")
    pending = (await api.ok("auth.sendCode", {"phone": other}))["phone_code_hash"]
    sent_before = sms(own_server.data_dir)
    long_ = "9" * 300
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("auth.sendCode", {"phone": "+98912"}, 400, "PHONE_NUMBER_INVALID"),
        ("auth.sendCode", {"phone": "+99912345678"}, 400, "PHONE_NUMBER_INVALID"),
        ("auth.sendCode", {"phone": "+989901234567"}, 400, "PHONE_NUMBER_BLOCKED"),
        ("auth.sendCode", {"phone": "09911234567"}, 400, "PHONE_NUMBER_BLOCKED"),
        ("auth.sendCode", {"phone": long_[:65]}, 400, "INPUT_INVALID"),
        ("auth.sendCode", {"phone": phone, "type": "sms"}, 400, "INPUT_INVALID"),
        ("auth.resendCode", {"phone": "+989901234567", "phone_code_hash": pending}, 400,
         "PHONE_NUMBER_BLOCKED"),
        ("auth.resendCode", {"phone": other, "phone_code_hash": "nope"}, 400,
         "PHONE_CODE_HASH_INVALID"),
        ("auth.resendCode", {"phone": phone, "phone_code_hash": pending}, 400,
         "PHONE_CODE_HASH_INVALID"),
        ("auth.resendCode", {"phone": phone, "phone_code_hash": up["phone_code_hash"]}, 400,
         "PHONE_CODE_EXPIRED"),
        ("auth.resendCode", {"phone": other, "phone_code_hash": long_}, 400, "INPUT_INVALID"),
        # a replayed code
        ("auth.signIn", sign(phone, up["phone_code_hash"], code), 400, "PHONE_CODE_EXPIRED"),
        ("auth.signIn", sign(other, "wrong-hash", "123456"), 400, "PHONE_CODE_HASH_INVALID"),
        ("auth.signIn", sign(other, pending, "  "), 400, "PHONE_CODE_EMPTY"),
        ("auth.signIn", sign(other, pending, long_[:65]), 400, "INPUT_INVALID"),
        ("auth.signIn", sign(other, long_[:257], "123456"), 400, "INPUT_INVALID"),
        ("auth.signIn", sign(other, pending, "1", device=long_[:257]), 400, "INPUT_INVALID"),
        ("auth.checkPassword", {"phone": other, "phone_code_hash": pending, "password": "x"},
         400, "PHONE_CODE_UNVERIFIED"),
        ("auth.checkPassword", {"phone": other, "phone_code_hash": pending,
                                "password": long_[:257]}, 400, "INPUT_INVALID"),
        ("auth.getPassword", {"phone": other, "phone_code_hash": pending}, 400,
         "PHONE_CODE_UNVERIFIED"),
        ("auth.requestPasswordRecovery", {"phone": other, "phone_code_hash": pending}, 400,
         "PHONE_CODE_UNVERIFIED"),
        ("auth.recoverPassword", {"phone": other, "phone_code_hash": pending, "code": "1"},
         400, "PHONE_CODE_UNVERIFIED"),
    ]  # fmt: skip
    signed_in: list[tuple[str, dict[str, Any], int, str]] = [
        ("account.updatePasswordSettings", {}, 400, "PASSWORD_EMPTY"),
        ("account.updatePasswordSettings", {"new_password": "x", "email": "no-at-sign"}, 400,
         "EMAIL_INVALID"),
        ("account.updatePasswordSettings", {"new_password": "x", "email": "a@b"}, 400,
         "EMAIL_INVALID"),
        ("account.updatePasswordSettings", {"new_password": "tehran1404",
                                            "hint": "Tehran1404!"}, 400,
         "PASSWORD_HINT_INVALID"),
        ("account.updatePasswordSettings", {"new_password": long_[:257]}, 400, "INPUT_INVALID"),
        ("account.updatePasswordSettings", {"new_password": "x", "hint": long_[:65]}, 400,
         "INPUT_INVALID"),
        ("account.updatePasswordSettings", {"new_password": "x",
                                            "email": "a" * 250 + "@b.ir"}, 400, "INPUT_INVALID"),
        ("account.confirmPasswordEmail", {"code": "123456"}, 400, "EMAIL_CODE_EXPIRED"),
        ("account.deleteAccount", {"reason": long_[:257]}, 400, "INPUT_INVALID"),
    ]  # fmt: skip
    for method, params, code_, type_ in cases:
        status, body = await api.call(method, params)
        assert body["error"]["message"], body
        assert (status, body["error"]["type"]) == (code_, type_), (method, params, body)
    for method, params, code_, type_ in signed_in:
        status, body = await api.call(method, params, token)
        assert (status, body["error"]["type"]) == (code_, type_), (method, params, body)
    assert sms(own_server.data_dir) == sent_before
    assert mails(own_server.data_dir) == []
    # None of it did harm: the account works and has no password.
    assert await api.ok("account.getPassword", {}, token) == {"has_password": False}
