"""The contract every SMS provider adapter must pass, each against a local fake of its
provider's wire protocol (tests/fakes/): the message arrives as sent, delivery reports come
back keyed by the id ``submit`` returned, and failures are classified the same way
everywhere (the provider's fault or the message's; a hang is cancellable; an unreachable
provider fails fast)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from chapar.adapters.sms.console import ConsoleSms
from chapar.adapters.sms.generic_http import GenericHttpSms
from chapar.adapters.sms.kavenegar import KavenegarSms
from chapar.adapters.sms.smpp import SmppSms
from chapar.adapters.sms.twilio import TwilioSms
from chapar.ports.sms_provider import (
    DeliveryReport,
    OutgoingSms,
    SmsProvider,
    SmsSendError,
)
from tests.fakes import until
from tests.fakes.harness import (
    World,
    generic_config,
    kavenegar_config,
    smpp_config,
    twilio_config,
)
from tests.fakes.harness import world as world  # the fixture

TO = "+989121234567"
TEXT = 'کد ورود چاپار: 123456\nاین کد را به کسی ندهید. "quotes" {braces} & <tags>'


@dataclass
class Harness:
    """One provider wired to its fake, seen the same way whatever its protocol."""

    provider: SmsProvider
    set_mode: Callable[[str], None]
    # (number, text) of each message the fake received, the number as the fake saw it
    received: Callable[[], list[tuple[str, str]]]
    number: str  # TO as this provider's protocol writes it
    reports: list[DeliveryReport] = field(default_factory=list)
    remote: bool = True  # False for the console: nothing can fail or report


async def open_provider(w: World, p: SmsProvider) -> SmsProvider:
    w.hooks.providers[p.name] = p
    await p.start(w.hooks.sink)
    if isinstance(p, SmppSms):
        await until(lambda: p.bound, "the SMPP provider binds")
    return p


async def make_harness(kind: str, w: World) -> Harness:
    fake = w.fake
    if kind == "console":
        path = w.tmp / "out.jsonl"
        console = await open_provider(w, ConsoleSms(path))

        def lines() -> list[tuple[str, str]]:
            if not path.exists():
                return []
            rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
            return [(r["to"], r["text"]) for r in rows]

        return Harness(console, lambda m: None, lines, TO, remote=False)
    if kind == "smpp":
        smpp = await open_provider(w, SmppSms(smpp_config(w)))

        def set_smsc(mode: str) -> None:
            w.smsc.mode = mode

        return Harness(
            smpp,
            set_smsc,
            lambda: [(r.to, r.text) for r in w.smsc.received],
            TO.lstrip("+"),
            w.hooks.reports,
        )
    makers: dict[str, tuple[str, Callable[[], SmsProvider], str]] = {
        "http": ("generic", lambda: GenericHttpSms(generic_config(w)), TO),
        "kavenegar": ("kavenegar", lambda: KavenegarSms(kavenegar_config(w)), "09121234567"),
        "twilio": ("twilio", lambda: TwilioSms(twilio_config(w), w.hooks_url), TO),
    }
    api, provider, number = makers[kind]
    p = await open_provider(w, provider())
    fake.callback[api] = f"{w.hooks_url}/sms/reports/{p.name}?secret=s3cret"

    def set_fake(mode: str) -> None:
        fake.mode[api] = mode

    return Harness(
        p, set_fake, lambda: [(r.to, r.text) for r in fake.to(api)], number, w.hooks.reports
    )


KINDS = ["console", "http", "kavenegar", "twilio", "smpp"]


@pytest.fixture(params=KINDS)
async def h(request: pytest.FixtureRequest, world: World) -> Harness:
    return await make_harness(request.param, world)


def remote(h: Harness) -> None:
    if not h.remote:
        pytest.skip("the console provider has no remote side to fail or report")


def msg(n: int = 1, text: str = TEXT) -> OutgoingSms:
    return OutgoingSms(id=n, to=TO, text=text)


async def test_a_message_arrives_exactly_as_sent(h: Harness) -> None:
    await h.provider.submit(msg(1, TEXT))
    await h.provider.submit(msg(2, "Chapar code: 654321"))
    assert h.received() == [(h.number, TEXT), (h.number, "Chapar code: 654321")]


async def test_delivery_reports_come_back_under_the_id_submit_returned(h: Harness) -> None:
    remote(h)
    h.set_mode("ok")
    first = await h.provider.submit(msg(1))
    h.set_mode("undelivered")
    second = await h.provider.submit(msg(2))
    assert first.provider_id and second.provider_id and first.provider_id != second.provider_id
    await until(lambda: len(h.reports) >= 2, "both reports arrive")
    by_id = {r.provider_id: r for r in h.reports}
    assert by_id[first.provider_id].status == "delivered"
    assert by_id[second.provider_id].status == "failed"
    assert {r.provider for r in h.reports} == {h.provider.name}


async def test_a_provider_failure_counts_against_the_provider(h: Harness) -> None:
    remote(h)
    h.set_mode("error")
    with pytest.raises(SmsSendError) as e:
        await h.provider.submit(msg())
    assert e.value.provider_fault
    assert h.received() == []


async def test_a_refused_number_does_not_count_against_the_provider(h: Harness) -> None:
    remote(h)
    h.set_mode("reject")
    with pytest.raises(SmsSendError) as e:
        await h.provider.submit(msg())
    assert not e.value.provider_fault


async def test_a_hanging_send_is_cancelled_and_the_provider_still_works(h: Harness) -> None:
    remote(h)
    h.set_mode("hang")
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await h.provider.submit(msg(1, "lost"))
    h.set_mode("silent")
    await h.provider.submit(msg(2, "after"))
    assert h.received() == [(h.number, "after")]


async def test_an_unreachable_provider_fails_fast_as_its_fault(world: World) -> None:
    # A port nobody listens on: take one, then close it.
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    dead = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    providers: list[SmsProvider] = [
        GenericHttpSms(generic_config(world, url=f"http://127.0.0.1:{dead}/send")),
        KavenegarSms(kavenegar_config(world, base_url=f"http://127.0.0.1:{dead}")),
        TwilioSms(twilio_config(world, base_url=f"http://127.0.0.1:{dead}")),
        SmppSms(smpp_config(world, port=dead)),
    ]
    for p in providers:
        world.hooks.providers[p.name] = p
        await p.start(world.hooks.sink)
        with pytest.raises(SmsSendError) as e:
            async with asyncio.timeout(5):
                await p.submit(msg())
        assert e.value.provider_fault, p.name
        assert e.value.code in ("UNREACHABLE", "UNBOUND"), p.name


@pytest.mark.parametrize("kind", ["http", "kavenegar", "twilio"])
async def test_an_answer_that_is_not_json_is_a_provider_fault(kind: str, world: World) -> None:
    h = await make_harness(kind, world)
    h.set_mode("garbage")
    with pytest.raises(SmsSendError) as e:
        await h.provider.submit(msg())
    assert e.value.provider_fault and e.value.code == "BAD_ANSWER"


async def test_the_console_writes_calls_as_calls(world: World) -> None:
    path = world.tmp / "out.jsonl"
    console = ConsoleSms(path)
    await console.submit(OutgoingSms(1, TO, "1 2 3", kind="call"))
    await console.send(TO, "sms")
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    assert lines[0]["kind"] == "call" and "kind" not in lines[1]
    assert set(lines[1]) == {"to", "text", "sent_at"}
