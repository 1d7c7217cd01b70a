"""SMS delivery from a durable outbox, through several providers with failover.

Why an outbox: ``auth.sendCode`` must answer at once and must not lose a code to a restart.
``enqueue`` only writes the message to the ``sms_outbox`` table and returns after the
commit; a background worker on every node claims due messages (a lease in the row, so two
nodes never send one message at once; a node that died loses its claims when the lease
runs out) and hands each to a provider picked by the router (services/sms_router.py).

A send that errors or does not answer within the provider's ``timeout_seconds`` goes at
once to the next provider of the route, in the same task: failover costs one timeout at
most, and an open circuit (services/sms_health.py) costs nothing. When a circuit opens, the
sends still waiting on that provider are cut short and move on too, so a provider that
starts hanging delays the messages in flight by the time it takes to trip, not each by a
full timeout. An accepted SMS whose
delivery report does not come within ``report_timeout_seconds``, or whose report says it
was not delivered, is sent again through the next provider too. When every provider of the
route failed, the message waits ``retry_seconds`` and the route is tried again, for at most
``max_rounds`` rounds and never after the message expired (a stale code helps nobody).

Delivery is at least once: a node that dies after a provider accepted a message but before
recording it sends it again after the lease. The text (and the code) is erased from the
table as soon as the message is finished or expired.

Lifecycle of a row: queued -> sent -> delivered, with sent -> queued on a missing or bad
report, and queued -> failed | expired. See db/sms.py for the SQL and docs/operations.md
for configuration and metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import structlog

from chapar.config import Settings
from chapar.db import sms as db
from chapar.errors import BadRequest, Forbidden, NotFound, Unavailable
from chapar.ports.clock import Clock
from chapar.ports.sms_provider import (
    DeliveryReport,
    Kind,
    OutgoingSms,
    SmsProvider,
    SmsSendError,
    WebhookError,
    WebhookForbidden,
    WebhookRequest,
)
from chapar.ports.store import Store, Tx
from chapar.services import sms_metrics as metrics
from chapar.services.sms_health import Circuit, CircuitBreaker
from chapar.services.sms_router import (
    NoRoute,
    Pick,
    RoundDone,
    SmsRouter,
    WaitUntil,
    routes_from_settings,
)

log = structlog.get_logger(__name__)
KINDS: tuple[Kind, ...] = ("sms", "call")


@dataclass(frozen=True)
class ProviderPolicy:
    timeout: float = 5.0
    # 0: the provider sends no reports; acceptance is success.
    report_timeout: float = 0.0


@dataclass(frozen=True)
class DeliveryOptions:
    max_rounds: int = 3
    retry_seconds: float = 10.0
    ttl_seconds: float = 300.0
    max_in_flight: int = 64
    poll_seconds: float = 1.0
    keep_days: float = 7.0
    purge_every_seconds: float = 3600.0
    # How long close() lets sends in flight finish before cancelling them.
    stop_seconds: float = 5.0


class PendingSms:
    """A message about to be queued: call it with a transaction to insert it (its id is
    then set), then hand it to ``SmsDelivery.queued`` after the commit."""

    def __init__(self, row: db.OutboxRow, lease: tuple[str, int] | None) -> None:
        self.row = row
        self.lease = lease

    def __call__(self, tx: Tx) -> int:
        self.row.id = db.enqueue(tx, self.row, self.lease)
        return self.row.id


def _node_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class SmsDelivery:
    def __init__(
        self,
        store: Store,
        providers: Sequence[SmsProvider],
        router: SmsRouter,
        clock: Clock,
        policies: Mapping[str, ProviderPolicy] | None = None,
        options: DeliveryOptions | None = None,
        node: str | None = None,
    ) -> None:
        self.store = store
        self.providers = {p.name: p for p in providers}
        if len(self.providers) != len(providers):
            raise ValueError("two SMS providers have the same name")
        self.router = router
        self.clock = clock
        self.policies = {
            name: (policies or {}).get(name, ProviderPolicy()) for name in self.providers
        }
        self.options = options or DeliveryOptions()
        self.node = node or _node_id()
        # A claim must outlive one send (then each attempt renews it).
        self.lease_ms = int(
            (max((p.timeout for p in self.policies.values()), default=5) + 10) * 1000
        )
        self._wake = asyncio.Event()
        # The deadlines of the sends in flight, per provider: when a provider's circuit
        # opens, they are all brought forward to now, so the messages stuck on it move to
        # the next provider at once instead of each waiting for its own timeout.
        self._deadlines: dict[str, set[asyncio.Timeout]] = {n: set() for n in self.providers}
        self._inflight: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def _now(self) -> int:
        return int(self.clock.now() * 1000)

    def health(self, provider: str) -> CircuitBreaker:
        return self.router.health[provider]

    # -- the API of other services ----------------------------------------------------------
    def can_send(self, to: str, kind: Kind = "sms") -> bool:
        """Whether some provider can send this kind to this number (e.g. a voice call)."""
        return self.router.can_send(to, kind)

    def outbox_write(
        self, to: str, text: str, kind: Kind = "sms", *, code: str = "", ttl: float | None = None
    ) -> PendingSms:
        """The write that queues a message, for a caller that wants it in the same
        transaction as its own changes (the code it stores, say): run it inside that
        transaction, then call ``queued()`` with it after the commit. Raises
        ``Unavailable`` (SMS_NO_ROUTE) at once if no provider can send it.

        While this node's worker runs and has room, the message is written already claimed
        by this node and ``queued()`` starts its send at once: no claim (a write) and no
        wake-up per message. If the node dies first, the lease runs out and another node
        sends it, as for any claim."""
        if kind not in KINDS:
            raise ValueError(f"unknown message kind {kind!r}")
        if not self.router.can_send(to, kind):
            raise Unavailable("SMS_NO_ROUTE", f"no provider can send a {kind} to this number")
        now = self._now()
        expires = now + int((ttl if ttl is not None else self.options.ttl_seconds) * 1000)
        row = db.OutboxRow(0, kind, to, text, code, "queued", now, expires, 0, 0, [], None, None)
        direct = (
            self._task is not None
            and not self._stopping
            and len(self._inflight) < self.options.max_in_flight
        )
        return PendingSms(row, (self.node, now + self.lease_ms) if direct else None)

    def queued(self, pending: PendingSms) -> asyncio.Task[None] | None:
        """After the commit of a transaction that ran ``pending``: start sending it.
        Returns the task of its first attempt when this node sends it right away."""
        if not pending.row.id:
            return None  # the caller's transaction did not run it
        metrics.ENQUEUED.labels(pending.row.kind).inc()
        if pending.lease is not None and not self._stopping:
            return self._spawn(pending.row)
        self._wake.set()
        return None

    async def enqueue(
        self,
        to: str,
        text: str,
        kind: Kind = "sms",
        *,
        code: str = "",
        ttl: float | None = None,
        wait: float = 0.0,
    ) -> int:
        """Queue a message and return its outbox id once that is durable; sending happens
        in the background. ``code`` is the bare code in ``text``, for providers that send
        codes through templates; ``ttl`` is how long it is worth sending (default
        sms_delivery.ttl_seconds). ``wait`` > 0 also waits, at most that many seconds, for
        this node's first attempt (never needed for delivery; it makes a development
        setup's console outbox readable as soon as the call returns)."""
        pending = self.outbox_write(to, text, kind, code=code, ttl=ttl)
        mid = await self.store.write(pending)
        task = self.queued(pending)
        if task is not None and wait > 0:
            await asyncio.wait({task}, timeout=wait)
        return mid

    async def get(self, message_id: int) -> db.OutboxRow | None:
        return await self.store.read(lambda tx: db.get(tx, message_id))

    async def attempts(self, message_id: int) -> list[db.AttemptRow]:
        return await self.store.read(lambda tx: db.attempts(tx, message_id))

    # -- delivery reports ---------------------------------------------------------------
    async def report(self, r: DeliveryReport) -> bool:
        """Apply a provider's delivery report; False if it matched no attempt (yet)."""
        if not r.provider_id or r.provider not in self.providers or r.status == "pending":
            return False
        now = self._now()
        res = await self.store.write(
            lambda tx: db.apply_report(tx, r.provider, r.provider_id, r.status, r.error, now)
        )
        if res.message_id is None:
            log.info("sms_report_unmatched", provider=r.provider, provider_id=r.provider_id)
            return False
        if res.applied:
            self._count_report(r.provider, res.kind, res.created_at, r.status, res.effect, now)
        return True

    def _count_report(
        self, provider: str, kind: str, created: int, status: str, effect: str, now: int
    ) -> None:
        if status == "delivered":
            self.health(provider).success()
            metrics.SENDS.labels(provider, kind, "delivered").inc()
            metrics.DELIVERY_SECONDS.labels(provider, kind).observe(max(0, now - created) / 1000)
            if effect == "finished":
                metrics.FINISHED.labels(kind, "delivered").inc()
        else:
            self._failed(provider)
            metrics.SENDS.labels(provider, kind, "undelivered").inc()
        if effect == "requeued":
            self._wake.set()

    async def handle_webhook(self, provider: str, req: WebhookRequest) -> int:
        """A request to /sms/reports/<provider>; returns how many reports matched."""
        p = self.providers.get(provider)
        if p is None:
            raise NotFound("SMS_PROVIDER_UNKNOWN", "no SMS provider of that name")
        try:
            reports = p.parse_webhook(req)
        except WebhookForbidden as e:
            raise Forbidden("SMS_WEBHOOK_FORBIDDEN", str(e)) from e
        except WebhookError as e:
            raise BadRequest("SMS_WEBHOOK_INVALID", str(e)) from e
        matched = 0
        for r in reports:
            if r.provider == provider and await self.report(r):
                matched += 1
        return matched

    # -- the worker -----------------------------------------------------------------------
    async def start(self) -> None:
        for p in self.providers.values():
            await p.start(self.report)
        self._task = asyncio.create_task(self._run(), name="sms-delivery")

    async def close(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
        if self._inflight:
            _, pending = await asyncio.wait(self._inflight, timeout=self.options.stop_seconds)
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.store.write(lambda tx: db.release(tx, self.node))
        for p in self.providers.values():
            try:
                await p.close()
            except Exception:
                log.exception("sms_provider_close_failed", provider=p.name)

    async def run_once(self, limit: int = 1000) -> int:
        """Claim what is due and process it to the end, at most ``max_in_flight`` at a time
        (as the background worker does); return how many messages were claimed. Tests and
        tools call this to drive the worker step by step."""
        total = 0
        while total < limit:
            claimed = await self._claim(min(self.options.max_in_flight, limit - total))
            if not claimed:
                break
            await asyncio.gather(*(self._process(m) for m in claimed))
            total += len(claimed)
        return total

    async def _has_due(self) -> bool:
        now = self._now()
        return await self.store.read(lambda tx: db.has_due(tx, now))

    async def _claim(self, limit: int) -> list[db.OutboxRow]:
        now = self._now()
        return await self.store.write(
            lambda tx: db.claim(tx, self.node, now, now + self.lease_ms, limit)
        )

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_purge = loop.time()
        while not self._stopping:
            self._wake.clear()
            free = self.options.max_in_flight - len(self._inflight)
            claimed: list[db.OutboxRow] = []
            try:
                if free > 0 and await self._has_due():
                    claimed = await self._claim(free)
                for m in claimed:
                    self._spawn(m)
                if loop.time() >= next_purge:
                    next_purge = loop.time() + self.options.purge_every_seconds
                    await self._purge()
            except Exception:
                log.exception("sms_worker_failed")
            if claimed and len(claimed) == free:
                continue  # more may be due
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.options.poll_seconds):
                    await self._wake.wait()

    def _spawn(self, m: db.OutboxRow) -> asyncio.Task[None]:
        task = asyncio.create_task(self._process(m), name=f"sms-{m.id}")
        self._inflight.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._inflight.discard(t)
            self._wake.set()  # room for another message

        task.add_done_callback(done)
        return task

    async def _purge(self) -> None:
        now, keep = self._now(), int(self.options.keep_days * 86_400_000)
        await self.store.write(lambda tx: db.purge(tx, now, keep))

    async def _process(self, m: db.OutboxRow) -> None:
        try:
            await self._deliver(m)
        except Exception:
            # The lease runs out and the message is taken up again.
            log.exception("sms_process_failed", message_id=m.id)

    async def _deliver(self, m: db.OutboxRow) -> None:
        if m.state == "sent" and not await self._report_overdue(m):
            return
        while True:
            now = self._now()
            if now >= m.expires_at:
                await self._finish(m, "expired", m.last_error or "too old to send")
                return
            choice = self.router.pick(m.phone, m.kind, m.tried)
            if isinstance(choice, Pick):
                outcome = await self._attempt(m, choice.provider)
                if outcome != "failed":
                    return  # accepted, or another node holds the message now
            elif isinstance(choice, RoundDone):
                m.rounds += 1
                if m.rounds >= self.options.max_rounds:
                    await self._finish(m, "failed", m.last_error or "every provider failed")
                    return
                m.tried = []
                due = now + int(self.options.retry_seconds * 1000 * m.rounds)
                await self._requeue(m, min(due, m.expires_at), "every provider failed; waiting")
                return
            elif isinstance(choice, WaitUntil):
                due = max(now + 1, int(choice.at * 1000))
                await self._requeue(m, min(due, m.expires_at), "every circuit is open; waiting")
                return
            else:
                assert isinstance(choice, NoRoute)
                await self._finish(m, "failed", f"no provider can send a {m.kind} to the number")
                return

    async def _report_overdue(self, m: db.OutboxRow) -> bool:
        provider = m.provider or ""
        if provider and provider not in m.tried:
            m.tried.append(provider)
        now = self._now()
        if not await self.store.write(lambda tx: db.overdue_report(tx, m, self.node, now)):
            return False
        m.state = "queued"
        m.last_error = f"{provider}: no delivery report"
        if provider in self.providers:
            metrics.SENDS.labels(provider, m.kind, "no_report").inc()
            self._failed(provider)
        log.warning("sms_no_report", message_id=m.id, provider=provider)
        return True

    async def _attempt(self, m: db.OutboxRow, name: str) -> str:
        """One hand-over: "accepted", "failed" (try the next provider) or "lost" (another
        node holds the message now)."""
        provider, policy = self.providers[name], self.policies[name]
        m.attempts += 1
        started, t0 = self._now(), time.perf_counter()
        msg = OutgoingSms(m.id, m.phone, m.body, m.kind, m.code, m.attempts)
        outcome, error, fault, provider_id = "accepted", "", False, ""
        deadlines = self._deadlines[name]
        try:
            async with asyncio.timeout(policy.timeout) as deadline:
                deadlines.add(deadline)
                try:
                    provider_id = (await provider.submit(msg)).provider_id
                finally:
                    deadlines.discard(deadline)
        except TimeoutError:
            outcome, error, fault = "timeout", f"no answer within {policy.timeout:g} s", True
        except SmsSendError as e:
            outcome, error, fault = (
                ("error" if e.provider_fault else "rejected"),
                str(e),
                e.provider_fault,
            )
        except Exception as e:  # a bug in an adapter must not stop the failover
            log.exception("sms_provider_crashed", provider=name)
            outcome, error, fault = "error", repr(e), True
        metrics.PROVIDER_CALL_SECONDS.labels(name, m.kind).observe(time.perf_counter() - t0)
        metrics.SENDS.labels(name, m.kind, outcome).inc()
        now = self._now()
        breaker = self.health(name)
        if outcome != "accepted":
            self._failed(name) if fault else breaker.release()
            m.tried.append(name)
            m.last_error = f"{name}: {error}"
            log.warning(
                "sms_send_failed", message_id=m.id, provider=name, outcome=outcome, error=error
            )
            lease = now + self.lease_ms
            held = await self.store.write(
                lambda tx: db.record_failure(
                    tx, m, self.node, name, outcome, error, started, now, lease
                )
            )
            return "failed" if held else "lost"
        expects_report = policy.report_timeout > 0 and m.kind == "sms"
        report_due = now + int(policy.report_timeout * 1000) if expects_report else None
        if not expects_report:
            breaker.success()
        res = await self.store.write(
            lambda tx: db.record_accepted(
                tx, m, self.node, name, provider_id, started, now, report_due
            )
        )
        if not res.held:
            return "lost"
        metrics.ACCEPT_SECONDS.labels(name, m.kind).observe(max(0, now - m.created_at) / 1000)
        if not expects_report:
            metrics.FINISHED.labels(m.kind, "sent").inc()
        if res.early_status is not None:
            self._count_report(name, m.kind, m.created_at, res.early_status, res.early_effect, now)
        log.info("sms_accepted", message_id=m.id, provider=name, attempt=m.attempts)
        return "accepted"

    def _failed(self, name: str) -> None:
        """Count a failure against a provider; if that opens its circuit, cut short every
        send still waiting on it (they fail over now, as timeouts)."""
        breaker = self.health(name)
        was_open = breaker.state is Circuit.OPEN
        breaker.failure()
        if not was_open and breaker.state is Circuit.OPEN:
            now = asyncio.get_running_loop().time()
            for deadline in self._deadlines[name]:
                deadline.reschedule(now)
            log.warning("sms_circuit_opened", provider=name, cut_short=len(self._deadlines[name]))

    async def _requeue(self, m: db.OutboxRow, due: int, why: str) -> None:
        await self.store.write(lambda tx: db.requeue(tx, m, self.node, due, why))

    async def _finish(self, m: db.OutboxRow, state: str, error: str) -> None:
        now = self._now()
        if await self.store.write(lambda tx: db.finish(tx, m, self.node, state, error, now)):
            metrics.FINISHED.labels(m.kind, state).inc()
            log.warning("sms_gave_up", message_id=m.id, state=state, error=error)


def build_delivery(
    settings: Settings,
    store: Store,
    providers: Sequence[SmsProvider],
    clock: Clock,
    rng: random.Random | None = None,
) -> SmsDelivery:
    """SmsDelivery as the settings describe it (the providers come from
    adapters/sms/factory.py, built from the same settings)."""
    configs = {c.name: c for c in settings.sms_providers}
    health = {
        c.name: CircuitBreaker(
            c.name,
            clock,
            failure_threshold=c.failure_threshold,
            open_seconds=c.open_seconds,
            probe_seconds=c.timeout_seconds + c.report_timeout_seconds + 5,
        )
        for c in configs.values()
    }
    names = [p.name for p in providers]
    router = SmsRouter(
        routes_from_settings(settings.sms_routes, names),
        {p.name: p.kinds for p in providers},
        health,
        rng,
    )
    policies = {
        c.name: ProviderPolicy(c.timeout_seconds, c.report_timeout_seconds)
        for c in configs.values()
    }
    d = settings.sms_delivery
    options = DeliveryOptions(
        max_rounds=d.max_rounds,
        retry_seconds=d.retry_seconds,
        ttl_seconds=d.ttl_seconds,
        max_in_flight=d.max_in_flight,
        poll_seconds=d.poll_seconds,
        keep_days=d.keep_days,
    )
    return SmsDelivery(store, providers, router, clock, policies, options)
