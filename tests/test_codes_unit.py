"""Time rules of sign-in codes (expiry, resend cooldown), driven by a ManualClock: no sleeping.

The app is built in-process (chapar.app.build) and the auth service is called directly.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chapar.app import Chapar, build, close
from chapar.config import Settings
from chapar.errors import BadRequest, FloodWait
from chapar.ports.clock import ManualClock
from chapar.protocol import methods as m

CODE = "482913"
PHONE = "+989121234567"


class FixedRandom:
    """Every code is CODE; tokens stay unique (they are primary keys)."""

    def __init__(self) -> None:
        self._n = itertools.count(1)

    def digits(self, n: int) -> str:
        return CODE[:n]

    def token(self, nbytes: int) -> str:
        return f"token-{next(self._n)}-{nbytes}"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def app(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Chapar]:
    settings = Settings(
        data_dir=str(tmp_path), test_numbers=True, sqlite_synchronous="OFF", sms_send_wait_ms=10_000
    )
    c = await build(settings, clock=clock, random=FixedRandom())
    yield c
    await close(c)


def sign_up(phone: str, hash_: str, code: str = CODE) -> m.SignUp:
    return m.SignUp(phone=phone, phone_code_hash=hash_, code=code, first_name="Clock")


async def test_code_works_until_just_before_expiry(app: Chapar, clock: ManualClock) -> None:
    sent = await app.services.auth.send_code(m.SendCode(phone=PHONE))
    clock.advance(app.settings.code_ttl_seconds - 1)
    res = await app.services.auth.sign_up(sign_up(PHONE, sent.phone_code_hash), "127.0.0.1")
    assert res.user.phone == PHONE


async def test_code_expires_after_five_minutes(app: Chapar, clock: ManualClock) -> None:
    assert app.settings.code_ttl_seconds == 300
    sent = await app.services.auth.send_code(m.SendCode(phone=PHONE))
    clock.advance(300)
    with pytest.raises(BadRequest) as e:
        await app.services.auth.sign_up(sign_up(PHONE, sent.phone_code_hash), "127.0.0.1")
    assert e.value.type == "PHONE_CODE_EXPIRED"
    # A fresh code (the cooldown is long over) works.
    again = await app.services.auth.send_code(m.SendCode(phone=PHONE))
    res = await app.services.auth.sign_up(sign_up(PHONE, again.phone_code_hash), "127.0.0.1")
    assert res.user.first_name == "Clock"


async def test_test_number_codes_expire_too(app: Chapar, clock: ManualClock) -> None:
    phone = "+999661234567"
    sent = await app.services.auth.send_code(m.SendCode(phone=phone))
    clock.advance(301)
    with pytest.raises(BadRequest) as e:
        await app.services.auth.sign_up(
            sign_up(phone, sent.phone_code_hash, app.settings.test_code), "127.0.0.1"
        )
    assert e.value.type == "PHONE_CODE_EXPIRED"


async def test_resend_cooldown_runs_out(app: Chapar, clock: ManualClock) -> None:
    auth = app.services.auth
    first = await auth.send_code(m.SendCode(phone=PHONE))
    assert first.timeout == app.settings.code_resend_seconds == 60
    clock.advance(20)
    with pytest.raises(FloodWait) as e:
        await auth.send_code(m.SendCode(phone="09121234567"))
    assert e.value.retry_after == 40 and e.value.code == 429
    clock.advance(39)
    with pytest.raises(FloodWait) as e:
        await auth.send_code(m.SendCode(phone=PHONE))
    assert e.value.retry_after == 1
    clock.advance(1)
    second = await auth.send_code(m.SendCode(phone=PHONE))
    assert second.phone_code_hash != first.phone_code_hash
    # The new code replaced the old one, and the cooldown starts again from now.
    with pytest.raises(BadRequest) as bad:
        await auth.sign_up(sign_up(PHONE, first.phone_code_hash), "127.0.0.1")
    assert bad.value.type == "PHONE_CODE_HASH_INVALID"
    with pytest.raises(FloodWait):
        await auth.send_code(m.SendCode(phone=PHONE))
    await auth.sign_up(sign_up(PHONE, second.phone_code_hash), "127.0.0.1")


async def test_cooldown_does_not_extend_the_code_life(app: Chapar, clock: ManualClock) -> None:
    """Refused resends do not touch the code that was sent: it still dies at 300 s."""
    auth = app.services.auth
    sent = await auth.send_code(m.SendCode(phone=PHONE))
    clock.advance(30)
    with pytest.raises(FloodWait):
        await auth.send_code(m.SendCode(phone=PHONE))
    clock.advance(270)
    with pytest.raises(BadRequest) as e:
        await auth.sign_in(
            m.SignIn(phone=PHONE, phone_code_hash=sent.phone_code_hash, code=CODE), "127.0.0.1"
        )
    assert e.value.type == "PHONE_CODE_EXPIRED"


async def test_sms_carries_the_code(app: Chapar, tmp_path: Path) -> None:
    await app.services.auth.send_code(m.SendCode(phone=PHONE))
    text = (tmp_path / "sms-outbox.jsonl").read_text(encoding="utf-8")
    assert PHONE in text and CODE in text
