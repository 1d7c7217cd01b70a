"""What is particular to each provider's protocol, beyond the shared contract
(test_sms_providers.py): Kavenegar's number format, code templates and voice calls; Twilio's
basic auth, status callbacks and their signatures; the generic provider's templates and
success rule; SMPP's bind and encodings; and how the webhook route answers."""

from __future__ import annotations

import json

import aiohttp
import pytest

from chapar.adapters.sms.generic_http import GenericHttpSms
from chapar.adapters.sms.kavenegar import KavenegarSms, receptor
from chapar.adapters.sms.smpp import SmppSms
from chapar.adapters.sms.twilio import TwilioSms, signature
from chapar.ports.sms_provider import (
    OutgoingSms,
    SmsSendError,
    WebhookForbidden,
    WebhookRequest,
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
from tests.fakes.http_providers import TWILIO_TOKEN

TO = "+989121234567"


def form_request(url: str, form: dict[str, str], headers: dict[str, str]) -> WebhookRequest:
    return WebhookRequest("POST", url, headers, {}, form)


# -- Kavenegar --------------------------------------------------------------------------------
def test_kavenegar_numbers_are_national_for_iran_and_00_for_the_rest() -> None:
    assert receptor("+989121234567") == "09121234567"
    assert receptor("+447700900123") == "00447700900123"


async def test_kavenegar_sends_codes_through_its_template_and_calls_through_tts(
    world: World,
) -> None:
    kn = KavenegarSms(kavenegar_config(world, verify_template="chapar-login"))
    world.hooks.providers[kn.name] = kn
    await kn.submit(OutgoingSms(1, TO, "Chapar code: 123456", code="123456"))
    await kn.submit(OutgoingSms(2, TO, "1 2 3 4 5 6", kind="call", code="123456"))
    plain = KavenegarSms(kavenegar_config(world, name="kn2"))
    world.hooks.providers[plain.name] = plain
    await plain.submit(OutgoingSms(3, TO, "1 2 3 4 5 6", kind="call"))
    await plain.submit(OutgoingSms(4, TO, "Chapar code: 654321"))
    sent = [r.fields for r in world.fake.to("kavenegar")]
    assert sent[0] == {
        "receptor": "09121234567",
        "token": "123456",
        "template": "chapar-login",
        "type": "sms",
    }
    assert sent[1]["type"] == "call" and sent[1]["token"] == "123456"
    assert sent[2] == {"receptor": "09121234567", "message": "1 2 3 4 5 6"}  # call/maketts
    assert sent[3] == {
        "receptor": "09121234567",
        "message": "Chapar code: 654321",
        "sender": "10004346",
    }


async def test_kavenegar_with_a_wrong_key_is_the_providers_fault(world: World) -> None:
    kn = KavenegarSms(kavenegar_config(world, api_key="wrong"))
    world.hooks.providers[kn.name] = kn
    with pytest.raises(SmsSendError) as e:
        await kn.submit(OutgoingSms(1, TO, "x"))
    assert e.value.code == "KAVENEGAR_403" and e.value.provider_fault


def test_kavenegar_reports_need_the_secret_and_map_statuses(world: World) -> None:
    kn = KavenegarSms(kavenegar_config(world))

    def req(query: dict[str, str], form: dict[str, str]) -> WebhookRequest:
        return WebhookRequest("POST", "http://x/sms/reports/kn", {}, query, form)

    ok = {"secret": "s3cret"}
    assert kn.parse_webhook(req(ok, {"messageid": "7", "status": "10"}))[0].status == "delivered"
    assert kn.parse_webhook(req(ok, {"messageid": "7", "status": "11"}))[0].status == "failed"
    assert kn.parse_webhook(req(ok, {"messageid": "7", "status": "4"}))[0].status == "pending"
    with pytest.raises(WebhookForbidden):
        kn.parse_webhook(req({"secret": "guess"}, {"messageid": "7", "status": "10"}))


# -- Twilio -----------------------------------------------------------------------------------
async def test_twilio_with_a_wrong_token_is_the_providers_fault(world: World) -> None:
    tw = TwilioSms(twilio_config(world, auth_token="wrong"))
    world.hooks.providers[tw.name] = tw
    with pytest.raises(SmsSendError) as e:
        await tw.submit(OutgoingSms(1, TO, "x"))
    assert e.value.code == "TWILIO_20003" and e.value.provider_fault


async def test_twilio_asks_for_callbacks_only_with_a_public_url(world: World) -> None:
    with_url = TwilioSms(twilio_config(world), "https://chat.example/")
    without = TwilioSms(twilio_config(world, name="tw2"))
    for p in (with_url, without):
        world.hooks.providers[p.name] = p
        await p.submit(OutgoingSms(1, TO, "x"))
    first, second = world.fake.to("twilio")
    assert first.fields["StatusCallback"] == "https://chat.example/sms/reports/tw"
    assert "StatusCallback" not in second.fields
    assert first.fields["From"] == "+15005550006" and first.fields["Body"] == "x"


async def test_twilio_voice_codes_are_calls_reading_the_text(world: World) -> None:
    tw = TwilioSms(twilio_config(world))
    world.hooks.providers[tw.name] = tw
    accepted = await tw.submit(OutgoingSms(1, TO, "1 2 3 <4>", kind="call"))
    assert accepted.provider_id.startswith("CA")
    twiml = world.fake.to("twilio")[0].text
    assert twiml.startswith("<Response><Say") and "1 2 3 &lt;4&gt;" in twiml


def test_twilio_callbacks_must_carry_a_valid_signature(world: World) -> None:
    tw = TwilioSms(twilio_config(world), "https://chat.example")
    url = "https://chat.example/sms/reports/tw"
    form = {"MessageSid": "SM1", "MessageStatus": "delivered", "AccountSid": "AC1"}
    good = world.fake.twilio_signature(url, form)
    assert good == signature(TWILIO_TOKEN, url, form)
    # Behind a proxy the request URL differs; the signed one is the URL we gave Twilio.
    seen_as = "http://10.0.0.5:8080/sms/reports/tw"
    [report] = tw.parse_webhook(form_request(seen_as, form, {"X-Twilio-Signature": good}))
    assert (report.provider_id, report.status) == ("SM1", "delivered")
    tampered = dict(form, MessageStatus="failed")
    with pytest.raises(WebhookForbidden):
        tw.parse_webhook(form_request(seen_as, tampered, {"X-Twilio-Signature": good}))
    with pytest.raises(WebhookForbidden):
        tw.parse_webhook(form_request(seen_as, form, {}))


# -- the generic provider ---------------------------------------------------------------------
async def test_generic_templates_keep_the_text_in_its_place(world: World) -> None:
    text = 'he said "hi" {to} \\ & ?x=1'
    gw = GenericHttpSms(generic_config(world))
    world.hooks.providers[gw.name] = gw
    accepted = await gw.submit(OutgoingSms(42, TO, text))
    got = world.fake.to("generic")[0]
    assert (got.to, got.text, got.fields["ref"]) == (TO, text, "42")
    assert accepted.provider_id == got.id
    form = GenericHttpSms(
        generic_config(
            world,
            name="gw-form",
            body="",
            url=f"{world.fake.url}/generic/send?dest={{to}}&kind={{kind}}",
            form={"to": "{to_digits}", "text": "{text}"},
        )
    )
    world.hooks.providers[form.name] = form
    await form.submit(OutgoingSms(43, TO, text))
    got = world.fake.to("generic")[1]
    assert (got.to, got.text) == (TO.lstrip("+"), text)
    assert (got.fields["dest"], got.fields["kind"]) == (TO, "sms")


async def test_generic_success_rule_refuses_a_200_that_says_no(world: World) -> None:
    gw = GenericHttpSms(generic_config(world))
    world.hooks.providers[gw.name] = gw
    world.fake.mode["generic"] = "refuse"
    with pytest.raises(SmsSendError) as e:
        await gw.submit(OutgoingSms(1, TO, "x"))
    assert e.value.code == "REFUSED" and e.value.provider_fault


# -- SMPP -------------------------------------------------------------------------------------
async def test_smpp_with_a_wrong_password_never_binds_and_fails_fast(world: World) -> None:
    smpp = SmppSms(smpp_config(world, password="wrong"))
    world.hooks.providers[smpp.name] = smpp
    await smpp.start(world.hooks.sink)
    await until(lambda: world.smsc.binds >= 1, "a bind is attempted")
    with pytest.raises(SmsSendError) as e:
        await smpp.submit(OutgoingSms(1, TO, "x"))
    assert e.value.code == "UNBOUND" and e.value.provider_fault
    assert world.smsc.submits == 0


async def test_smpp_encodes_persian_as_ucs2_and_latin_as_gsm(world: World) -> None:
    smpp = SmppSms(smpp_config(world))
    world.hooks.providers[smpp.name] = smpp
    await smpp.start(world.hooks.sink)
    await until(lambda: smpp.bound, "the SMPP provider binds")
    await smpp.submit(OutgoingSms(1, TO, "کد: ۱۲۳"))
    await smpp.submit(OutgoingSms(2, TO, "code: 123"))
    persian, latin = world.smsc.received
    assert (persian.data_coding, persian.text) == (8, "کد: ۱۲۳")
    assert (latin.data_coding, latin.text) == (0, "code: 123")
    assert persian.registered_delivery == 1  # receipts asked for


# -- the webhook route ------------------------------------------------------------------------
async def test_the_webhook_route_answers_unknown_forged_and_malformed_requests(
    world: World,
) -> None:
    kn = KavenegarSms(kavenegar_config(world))
    world.hooks.providers[kn.name] = kn
    base = f"{world.hooks_url}/sms/reports"
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{base}/nobody", data={"a": "1"}) as r:
            assert r.status == 404
        async with s.post(f"{base}/kn?secret=guess", data={"messageid": "1", "status": "10"}) as r:
            assert r.status == 403
            assert (await r.json())["error"]["type"] == "SMS_WEBHOOK_FORBIDDEN"
        async with s.post(f"{base}/kn?secret=s3cret", data={"nothing": "here"}) as r:
            assert r.status == 400
        async with s.post(
            f"{base}/kn?secret=s3cret",
            data=json.dumps({"messageid": 9, "status": 10}),
            headers={"Content-Type": "application/json"},
        ) as r:
            assert r.status == 200 and (await r.json())["matched"] == 1
        async with s.get(
            f"{base}/kn", params={"secret": "s3cret", "messageid": "9", "status": "6"}
        ) as r:
            assert r.status == 200
    assert [(x.provider_id, x.status) for x in world.hooks.reports] == [
        ("9", "delivered"),
        ("9", "failed"),
    ]
