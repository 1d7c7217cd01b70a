"""Proof that codes reach the user whatever a provider does (issue 5): a provider that
errors, one that hangs, one that accepts but never reports delivery; each time the message
goes out through the next provider, the failing provider's circuit opens and later closes.
A restart between request and send loses nothing; two nodes never send one message twice.

Real store (SQLite, and PostgreSQL where it runs), real providers against the local fakes,
the real webhook route; time is a ManualClock moved by hand, and the worker is driven with
``run_once`` so each step is explicit. Only the hang waits real time (its 0.3 s timeout).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from aiohttp import web
from prometheus_client import REGISTRY

from chapar.adapters.postgres.store import PostgresStore
from chapar.adapters.sms.console import ConsoleSms
from chapar.adapters.sms.generic_http import GenericHttpSms
from chapar.adapters.sms.kavenegar import KavenegarSms
from chapar.adapters.sms.smpp import SmppSms
from chapar.adapters.sms.twilio import TwilioSms
from chapar.adapters.sqlite.store import SqliteStore
from chapar.api.sms_webhooks import add_sms_webhook_routes
from chapar.errors import Unavailable
from chapar.ports.clock import ManualClock
from chapar.ports.sms_provider import SmsProvider
from chapar.ports.store import Store, Tx
from chapar.services.sms_delivery import DeliveryOptions, ProviderPolicy, SmsDelivery
from chapar.services.sms_health import Circuit, CircuitBreaker
from chapar.services.sms_router import Route, SmsRouter, Target
from tests.fakes import until
from tests.fakes.harness import World, generic_config, kavenegar_config, smpp_config, twilio_config
from tests.fakes.harness import world as world  # the fixture

PG_URL = os.environ.get("CHAPAR_TEST_POSTGRES_URL")
TO = "+989121234567"


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        s: SqliteStore | PostgresStore = SqliteStore(tmp_path / "db.sqlite3", synchronous="OFF")
        await s.open()
        yield s
        await s.close()
        return
    if not PG_URL:
        pytest.skip("set CHAPAR_TEST_POSTGRES_URL to run the outbox on PostgreSQL")
    schema = f"sms_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    s = PostgresStore(f"{PG_URL}?schema={schema}")
    try:
        await s.open()
        yield s
    finally:
        await s.close()
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@dataclass
class Rig:
    store: Store
    clock: ManualClock
    world: World
    public_url: str  # where the providers post their reports (the real webhook route)
    deliveries: list[SmsDelivery]

    def delivery(
        self,
        providers: list[SmsProvider],
        policies: dict[str, ProviderPolicy] | None = None,
        threshold: int = 2,
        **options: float,
    ) -> SmsDelivery:
        """One node: the providers in this order of priority, behind one "*" route."""
        health = {
            p.name: CircuitBreaker(p.name, self.clock, failure_threshold=threshold, open_seconds=30)
            for p in providers
        }
        route = Route("*", tuple(Target(p.name, i) for i, p in enumerate(providers)))
        router = SmsRouter([route], {p.name: p.kinds for p in providers}, health)
        opts = DeliveryOptions(**options)  # type: ignore[arg-type]
        d = SmsDelivery(self.store, providers, router, self.clock, policies, opts)
        self.deliveries.append(d)
        return d


@pytest.fixture
async def rig(store: Store, world: World) -> AsyncIterator[Rig]:
    r = Rig(store, ManualClock(), world, "", [])

    class Latest:
        """The webhook route talks to the newest node (tests build one at a time)."""

        async def handle_webhook(self, provider: str, req: object) -> int:
            return await r.deliveries[-1].handle_webhook(provider, req)  # type: ignore[arg-type]

    app = web.Application()
    add_sms_webhook_routes(app, Latest())
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    r.public_url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    yield r
    for d in r.deliveries:
        await d.close()
    await runner.cleanup()


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait, bounded, for a state the store reaches on its own (a report came in)."""
    try:
        async with asyncio.timeout(10):
            while not await check():  # noqa: ASYNC110 - polls the store, no event to wait on
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"not within 10 s: {what}") from None


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def outcomes(d: SmsDelivery, mid: int) -> list[tuple[str, str]]:
    return [(a.provider, a.outcome) for a in await d.attempts(mid)]


# -- the three kinds of bad provider ---------------------------------------------------------
async def test_an_erroring_provider_fails_over_and_its_circuit_opens_then_closes(
    rig: Rig,
) -> None:
    fake = rig.world.fake
    kn, gw = KavenegarSms(kavenegar_config(rig.world)), GenericHttpSms(generic_config(rig.world))
    d = rig.delivery([kn, gw])
    fake.mode["kavenegar"] = "error"
    for i in range(2):
        mid = await d.enqueue(TO, f"Chapar code: 10000{i}")
        assert await d.run_once() == 1
        assert await outcomes(d, mid) == [("kn", "error"), ("gw", "accepted")]
    assert [r.text for r in fake.to("generic")] == ["Chapar code: 100000", "Chapar code: 100001"]
    assert d.health("kn").state is Circuit.OPEN

    asked = fake.requests["kavenegar"]
    mid = await d.enqueue(TO, "Chapar code: 100002")
    await d.run_once()
    assert fake.requests["kavenegar"] == asked, "an open circuit sends nothing"
    assert await outcomes(d, mid) == [("gw", "accepted")]

    rig.clock.advance(30)  # half-open: the next message probes Kavenegar
    fake.mode["kavenegar"] = "silent"
    mid = await d.enqueue(TO, "Chapar code: 100003")
    await d.run_once()
    assert await outcomes(d, mid) == [("kn", "accepted")]
    assert fake.to("kavenegar")[-1].text == "Chapar code: 100003"
    assert d.health("kn").state is Circuit.CLOSED


async def test_a_hanging_provider_times_out_fails_over_and_its_circuit_opens_then_closes(
    rig: Rig,
) -> None:
    fake = rig.world.fake
    gw, kn = GenericHttpSms(generic_config(rig.world)), KavenegarSms(kavenegar_config(rig.world))
    # Short enough to keep the test quick, long enough for a healthy answer on a busy machine.
    d = rig.delivery([gw, kn], {"gw": ProviderPolicy(timeout=1.0)})
    fake.mode["generic"] = "hang"
    for i in range(2):
        mid = await d.enqueue(TO, f"code {i}")
        await d.run_once()
        assert await outcomes(d, mid) == [("gw", "timeout"), ("kn", "accepted")]
        row = await d.get(mid)
        assert row is not None and (row.state, row.provider) == ("sent", "kn")
    assert d.health("gw").state is Circuit.OPEN
    mid = await d.enqueue(TO, "code 2")
    await d.run_once()
    assert await outcomes(d, mid) == [("kn", "accepted")]

    rig.clock.advance(30)
    fake.mode["generic"] = "ok"
    mid = await d.enqueue(TO, "code 3")
    await d.run_once()
    assert await outcomes(d, mid) == [("gw", "accepted")]
    assert d.health("gw").state is Circuit.CLOSED
    assert [r.text for r in fake.to("kavenegar")] == ["code 0", "code 1", "code 2"]


async def test_when_a_circuit_opens_the_sends_stuck_on_it_move_on_at_once(rig: Rig) -> None:
    fake = rig.world.fake
    gw, kn = GenericHttpSms(generic_config(rig.world)), KavenegarSms(kavenegar_config(rig.world))
    # A timeout far beyond the test's patience: only the circuit can free the stuck sends.
    d = rig.delivery([gw, kn], {"gw": ProviderPolicy(timeout=600)}, threshold=1)
    fake.mode["generic"] = "hang"
    stuck = [await d.enqueue(TO, f"stuck {i}") for i in range(2)]
    first = asyncio.create_task(d.run_once())
    await until(lambda: fake.requests["generic"] == 2, "both sends hang on the provider")
    fake.mode["generic"] = "error"
    await d.enqueue(TO, "trips the circuit")
    await d.run_once()
    async with asyncio.timeout(10):
        await first
    for mid in stuck:
        assert await outcomes(d, mid) == [("gw", "timeout"), ("kn", "accepted")]
    assert sorted(r.text for r in fake.to("kavenegar")) == [
        "stuck 0",
        "stuck 1",
        "trips the circuit",
    ]


async def test_a_provider_that_never_reports_delivery_is_replaced_and_later_trusted_again(
    rig: Rig,
) -> None:
    fake = rig.world.fake
    tw = TwilioSms(twilio_config(rig.world), rig.public_url)
    kn = KavenegarSms(kavenegar_config(rig.world))
    d = rig.delivery([tw, kn], {"tw": ProviderPolicy(timeout=5, report_timeout=60)})
    fake.mode["twilio"] = "silent"
    no_report = sample("chapar_sms_sends_total", provider="tw", kind="sms", outcome="no_report")
    for i in range(2):
        mid = await d.enqueue(TO, f"code {i}")
        await d.run_once()
        row = await d.get(mid)
        assert row is not None and (row.state, row.provider) == ("sent", "tw")
        rig.clock.advance(59)
        assert await d.run_once() == 0, "the report is not late yet"
        rig.clock.advance(1)
        assert await d.run_once() == 1
        assert await outcomes(d, mid) == [("tw", "no_report"), ("kn", "accepted")]
    assert sample("chapar_sms_sends_total", provider="tw", kind="sms", outcome="no_report") == (
        no_report + 2
    )
    assert d.health("tw").state is Circuit.OPEN
    mid = await d.enqueue(TO, "code 2")
    await d.run_once()
    assert await outcomes(d, mid) == [("kn", "accepted")]
    assert [r.text for r in fake.to("kavenegar")] == ["code 0", "code 1", "code 2"]

    # Twilio heals: the probe is delivered, its signed report comes back through the route.
    rig.clock.advance(30)
    fake.mode["twilio"] = "ok"
    delivered = sample("chapar_sms_delivery_seconds_count", provider="tw", kind="sms")
    mid = await d.enqueue(TO, "code 3")
    await d.run_once()

    async def is_delivered() -> bool:
        row = await d.get(mid)
        return row is not None and row.state == "delivered"

    await eventually(is_delivered, "the delivery report arrives")
    assert await outcomes(d, mid) == [("tw", "delivered")]
    assert d.health("tw").state is Circuit.CLOSED
    assert sample("chapar_sms_delivery_seconds_count", provider="tw", kind="sms") == delivered + 1
    row = await d.get(mid)
    assert row is not None and row.body == "", "a delivered code is erased from the outbox"


async def test_a_report_of_non_delivery_sends_the_message_again_elsewhere(rig: Rig) -> None:
    fake = rig.world.fake
    tw = TwilioSms(twilio_config(rig.world), rig.public_url)
    kn = KavenegarSms(kavenegar_config(rig.world))
    d = rig.delivery([tw, kn], {"tw": ProviderPolicy(timeout=5, report_timeout=60)})
    fake.mode["twilio"] = "undelivered"
    mid = await d.enqueue(TO, "code 9")
    await d.run_once()

    async def reported() -> bool:
        return ("tw", "undelivered") in await outcomes(d, mid)

    await eventually(reported, "the report of non-delivery arrives")
    await d.run_once()  # the message was requeued at once: it goes to the next provider
    assert await outcomes(d, mid) == [("tw", "undelivered"), ("kn", "accepted")]
    assert fake.to("kavenegar")[0].text == "code 9"


async def test_an_smpp_receipt_marks_the_message_delivered(rig: Rig) -> None:
    smpp = SmppSms(smpp_config(rig.world))
    d = rig.delivery([smpp], {"smsc": ProviderPolicy(timeout=5, report_timeout=60)})
    await smpp.start(d.report)  # what SmsDelivery.start() does for every provider
    await until(lambda: smpp.bound, "the SMPP provider binds")
    mid = await d.enqueue(TO, "کد ورود: 123456")
    await d.run_once()

    async def is_delivered() -> bool:
        row = await d.get(mid)
        return row is not None and row.state == "delivered"

    await eventually(is_delivered, "the deliver_sm receipt arrives")
    [attempt] = await d.attempts(mid)
    assert (attempt.outcome, attempt.provider_id) == ("delivered", rig.world.smsc.received[0].id)
    assert rig.world.smsc.receipts_acked == 1


# -- durability and nodes ---------------------------------------------------------------------
async def test_a_restart_between_request_and_send_loses_no_code(tmp_path: Path) -> None:
    path, out = tmp_path / "db.sqlite3", tmp_path / "sms.jsonl"
    clock = ManualClock()

    def node(store: Store) -> SmsDelivery:
        console = ConsoleSms(out)
        health = {"console": CircuitBreaker("console", clock)}
        router = SmsRouter([Route("*", (Target("console"),))], {"console": console.kinds}, health)
        return SmsDelivery(
            store, [console], router, clock, options=DeliveryOptions(poll_seconds=0.05)
        )

    first = SqliteStore(path, synchronous="FULL")
    await first.open()
    ids = [await node(first).enqueue(TO, f"Chapar code: 55555{i}") for i in range(3)]
    await first.close()  # the process stops before anything was sent
    assert not out.exists()

    second = SqliteStore(path, synchronous="FULL")
    await second.open()
    d = node(second)
    await d.start()  # the background worker, as app.py runs it
    try:
        await until(
            lambda: out.exists() and len(out.read_text(encoding="utf-8").splitlines()) == 3,
            "the three codes are sent after the restart",
        )
        texts = out.read_text(encoding="utf-8")
        assert all(f"Chapar code: 55555{i}" in texts for i in range(3))

        async def all_recorded() -> bool:  # the send is recorded just after the line is written
            rows = [await d.get(mid) for mid in ids]
            return all(r is not None and r.state == "sent" for r in rows)

        await eventually(all_recorded, "the sends are recorded")
    finally:
        await d.close()
        await second.close()


async def test_a_message_held_by_a_dead_node_is_sent_once_its_lease_runs_out(rig: Rig) -> None:
    gw = GenericHttpSms(generic_config(rig.world))
    dead = rig.delivery([gw])
    mid = await dead.enqueue(TO, "held")
    assert [m.id for m in await dead._claim(10)] == [mid]  # claimed, then the node dies
    alive = rig.delivery([GenericHttpSms(generic_config(rig.world))])
    assert await alive.run_once() == 0
    rig.clock.advance(alive.lease_ms / 1000)
    assert await alive.run_once() == 1
    assert [r.text for r in rig.world.fake.to("generic")] == ["held"]


async def test_two_nodes_never_send_one_message_twice(rig: Rig) -> None:
    a = rig.delivery([GenericHttpSms(generic_config(rig.world))])
    b = rig.delivery([GenericHttpSms(generic_config(rig.world))])
    for i in range(40):
        await (a if i % 2 else b).enqueue(TO, f"m{i}")
    claimed = await asyncio.gather(*(n.run_once(limit=5) for n in (a, b, a, b, a, b, a, b, a, b)))
    assert sum(claimed) == 40
    texts = sorted(r.text for r in rig.world.fake.to("generic"))
    assert texts == sorted(f"m{i}" for i in range(40))


async def test_a_node_that_stops_hands_its_claims_back(rig: Rig) -> None:
    first = rig.delivery([GenericHttpSms(generic_config(rig.world))])
    mid = await first.enqueue(TO, "handed back")
    await first._claim(10)
    await first.close()
    second = rig.delivery([GenericHttpSms(generic_config(rig.world))])
    assert await second.run_once() == 1, "no lease to wait for after a clean stop"
    assert await outcomes(second, mid) == [("gw", "accepted")]


# -- giving up --------------------------------------------------------------------------------
async def test_when_every_round_fails_the_message_fails_and_its_text_is_erased(rig: Rig) -> None:
    fake = rig.world.fake
    fake.mode["kavenegar"] = fake.mode["generic"] = "error"
    kn, gw = KavenegarSms(kavenegar_config(rig.world)), GenericHttpSms(generic_config(rig.world))
    d = rig.delivery([kn, gw], threshold=10, max_rounds=2, retry_seconds=10)
    failed = sample("chapar_sms_messages_finished_total", kind="sms", state="failed")
    mid = await d.enqueue(TO, "Chapar code: 777777")
    await d.run_once()
    assert await d.run_once() == 0, "the next round waits retry_seconds"
    rig.clock.advance(10)
    await d.run_once()
    row = await d.get(mid)
    assert row is not None and row.state == "failed" and row.body == ""
    assert [o for _, o in await outcomes(d, mid)] == ["error"] * 4
    assert sample("chapar_sms_messages_finished_total", kind="sms", state="failed") == failed + 1


async def test_a_message_nobody_could_send_in_time_expires(rig: Rig) -> None:
    rig.world.fake.mode["generic"] = "error"
    d = rig.delivery([GenericHttpSms(generic_config(rig.world))], threshold=1)
    mid = await d.enqueue(TO, "Chapar code: 121212", ttl=20)
    await d.run_once()  # fails, opens the circuit; the next round waits
    rig.clock.advance(20)
    await d.run_once()
    row = await d.get(mid)
    assert row is not None and row.state == "expired" and row.body == "" and row.code == ""


async def test_a_voice_code_needs_a_provider_that_calls(rig: Rig) -> None:
    gw = GenericHttpSms(generic_config(rig.world))
    d = rig.delivery([gw])
    assert not d.can_send(TO, "call")
    with pytest.raises(Unavailable):
        await d.enqueue(TO, "1 2 3", kind="call")
    kn = KavenegarSms(kavenegar_config(rig.world))
    d = rig.delivery([gw, kn])
    assert d.can_send(TO, "call")
    mid = await d.enqueue(TO, "1 2 3", kind="call", code="123")
    await d.run_once()
    assert await outcomes(d, mid) == [("kn", "accepted")]
    assert rig.world.fake.to("kavenegar")[0].fields == {
        "receptor": "09121234567",
        "message": "1 2 3",
    }


async def test_a_message_is_queued_in_the_callers_own_transaction(rig: Rig) -> None:
    """How auth.sendCode stores a code and queues its SMS in one commit."""
    d = rig.delivery([GenericHttpSms(generic_config(rig.world))])
    pending = d.outbox_write(TO, "Chapar code: 919191", code="919191")
    skipped = d.outbox_write(TO, "never written")

    def write(tx: Tx) -> int:
        tx.execute("UPDATE counters SET value = value + 1 WHERE name = 'user_id'")
        return pending(tx)

    mid = await rig.store.write(write)
    await rig.store.write(lambda tx: None)  # a transaction that decided not to queue
    d.queued(pending)
    d.queued(skipped)
    assert await d.run_once() == 1
    assert await outcomes(d, mid) == [("gw", "accepted")]
    assert [r.text for r in rig.world.fake.to("generic")] == ["Chapar code: 919191"]


async def test_enqueue_answers_after_the_commit_without_sending(rig: Rig) -> None:
    d = rig.delivery([GenericHttpSms(generic_config(rig.world))])
    enqueued = sample("chapar_sms_enqueued_total", kind="sms")
    mid = await d.enqueue(TO, "later", code="123456")
    row = await rig.store.read(
        lambda tx: tx.fetchone("SELECT state, body, code FROM sms_outbox WHERE id = ?", (mid,))
    )
    assert row == ("queued", "later", "123456")
    assert rig.world.fake.requests["generic"] == 0
    assert sample("chapar_sms_enqueued_total", kind="sms") == enqueued + 1


async def test_texts_are_erased_once_stale_and_rows_deleted_after_keep_days(rig: Rig) -> None:
    d = rig.delivery([GenericHttpSms(generic_config(rig.world))])
    mid = await d.enqueue(TO, "Chapar code: 343434", code="343434", ttl=60)
    await d.run_once()  # accepted; no report expected, so the row stays "sent" with its text
    row = await d.get(mid)
    assert row is not None and row.body == "Chapar code: 343434"
    rig.clock.advance(61)
    await d._purge()
    row = await d.get(mid)
    assert row is not None and (row.state, row.body, row.code) == ("sent", "", "")
    rig.clock.advance(7 * 86400)
    await d._purge()
    assert await d.get(mid) is None and await d.attempts(mid) == []
