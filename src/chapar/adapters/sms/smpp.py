"""SMPP 3.4 straight to an operator's SMSC, through aiosmpplib (a maintained asyncio ESME).

Why aiosmpplib: it keeps the bind alive (enquire_link, reconnection with backoff), encodes
GSM 03.38 or UCS-2 by itself (Persian needs UCS-2) and parses delivery receipts; it is
plain asyncio, so no thread per connection. Its interface is a queue (broker) and
callbacks (hook); this adapter turns that into "submit and await the submit_sm_resp":

- ``submit`` puts a ``SubmitSm`` in the broker and waits for the answer with the same
  sequence number (mapped in the ``sending`` hook, since a generic_nack carries nothing
  else). A message whose caller gave up (timeout) is dropped by the broker instead of
  being sent late, after failover already sent it elsewhere.
- Not bound (SMSC down, bind refused) fails at once with ``UNBOUND`` so failover does not
  wait for a timeout.
- Delivery receipts (deliver_sm with the receipt flag) become ``DeliveryReport``s keyed by
  the SMSC's message id, which is what ``submit`` returned.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from typing import Any

import structlog
from aiosmpplib import (
    ESME,
    NPI,
    TON,
    AbstractBroker,
    AbstractHook,
    DeliverSm,
    GenericNack,
    PhoneNumber,
    SmppCommandStatus,
    SubmitSm,
    SubmitSmResp,
)

from chapar.adapters.sms.base import Provider
from chapar.ports.sms_provider import (
    Accepted,
    DeliveryReport,
    OutgoingSms,
    ReportSink,
    SmsSendError,
)
from chapar.sms_settings import SmppProvider as SmppConfig

log = structlog.get_logger(__name__)

# Refusals about the message or number, not the SMSC's health.
MESSAGE_ERRORS = frozenset(
    {
        SmppCommandStatus.ESME_RINVMSGLEN,
        SmppCommandStatus.ESME_RINVDSTADR,
        SmppCommandStatus.ESME_RINVDSTTON,
        SmppCommandStatus.ESME_RINVDSTNPI,
    }
)
DELIVERED = "DELIVRD"
FAILED = frozenset({"EXPIRED", "DELETED", "UNDELIV", "REJECTD", "UNKNOWN"})


class _ToStructlog(logging.Handler):
    """aiosmpplib logs through its own logger; send its warnings to ours."""

    def emit(self, record: logging.LogRecord) -> None:
        log.warning("smpp_library", message=record.getMessage()[:500])


class _Broker(AbstractBroker):  # type: ignore[misc]
    def __init__(self, owner: SmppSms) -> None:
        self.owner = owner
        self.queue: asyncio.Queue[SubmitSm] = asyncio.Queue()

    async def enqueue(self, message: SubmitSm) -> None:
        await self.queue.put(message)

    async def dequeue(self) -> SubmitSm:
        while True:
            message = await self.queue.get()
            fut = self.owner.pending.get(message.log_id)
            if fut is not None and not fut.done():
                return message


class _Hook(AbstractHook):  # type: ignore[misc]
    def __init__(self, owner: SmppSms) -> None:
        self.owner = owner

    async def sending(self, smpp_message: Any, pdu: bytes, client_id: str) -> None:
        if isinstance(smpp_message, SubmitSm):
            self.owner.by_sequence[smpp_message.sequence_num] = smpp_message.log_id

    async def received(self, smpp_message: Any, pdu: bytes, client_id: str) -> None:
        if isinstance(smpp_message, SubmitSmResp | GenericNack):
            log_id = self.owner.by_sequence.pop(smpp_message.sequence_num, None)
            fut = self.owner.pending.get(log_id) if log_id else None
            if fut is not None and not fut.done():
                fut.set_result(smpp_message)
        elif isinstance(smpp_message, DeliverSm) and smpp_message.is_receipt():
            await self.owner.receipt(smpp_message)

    async def send_error(self, smpp_message: Any, error: Exception, client_id: str) -> None:
        fut = self.owner.pending.get(getattr(smpp_message, "log_id", ""))
        if fut is not None and not fut.done():
            fut.set_exception(SmsSendError("SMPP_SEND", f"{type(error).__name__}: {error}"))


class SmppSms(Provider):
    def __init__(self, cfg: SmppConfig) -> None:
        super().__init__(cfg.name)
        self.cfg = cfg
        self.pending: dict[str, asyncio.Future[Any]] = {}
        self.by_sequence: dict[int, str] = {}
        self._ids = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        self.esme = ESME(
            smsc_host=cfg.host,
            smsc_port=cfg.port,
            system_id=cfg.system_id,
            password=cfg.password,
            system_type=cfg.system_type,
            client_id=f"chapar-{cfg.name}",
            enquire_link_interval=float(cfg.enquire_link_seconds),
            socket_timeout=float(cfg.timeout_seconds),
            log_level=logging.WARNING,
            log_handler=_ToStructlog(),
            log_include_timestamp=False,
            hook=_Hook(self),
            broker=_Broker(self),
        )
        self.source = PhoneNumber(cfg.source_addr, TON(cfg.source_ton), NPI(cfg.source_npi))

    @property
    def bound(self) -> bool:
        return bool(self.esme.session_state == self.esme.bind_mode.session_state)

    async def start(self, reports: ReportSink) -> None:
        await super().start(reports)
        # Connects, binds and reconnects with backoff until close().
        self._task = asyncio.create_task(self.esme.start(), name=f"smpp-{self.name}")

    async def submit(self, msg: OutgoingSms) -> Accepted:
        if not self.bound:
            raise SmsSendError("UNBOUND", f"{self.name}: not bound to the SMSC")
        log_id = f"{msg.id}.{msg.attempt}.{next(self._ids)}"
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[log_id] = fut
        try:
            await self.esme.broker.enqueue(
                SubmitSm(
                    short_message=msg.text,
                    source=self.source,
                    destination=PhoneNumber(msg.to.lstrip("+"), TON.INTERNATIONAL, NPI.ISDN),
                    log_id=log_id,
                    registered_delivery=1,
                )
            )
            answer = await fut
        finally:
            del self.pending[log_id]
            if fut.cancelled() or not fut.done():  # given up: forget its sequence number
                for seq in [k for k, v in self.by_sequence.items() if v == log_id]:
                    del self.by_sequence[seq]
        status = answer.command_status
        if isinstance(answer, SubmitSmResp) and status == SmppCommandStatus.ESME_ROK:
            return Accepted(provider_id=answer.message_id)
        raise SmsSendError(
            f"SMPP_{status.name}",
            f"{self.name}: {type(answer).__name__}",
            provider_fault=status not in MESSAGE_ERRORS,
        )

    async def receipt(self, deliver: Any) -> None:
        data = deliver.parse_receipt()
        pid, stat = str(data.get("id", "")), str(data.get("stat", ""))
        if not pid or self.reports is None:
            return
        if stat == DELIVERED:
            report = DeliveryReport(self.name, pid, "delivered")
        elif stat in FAILED:
            report = DeliveryReport(self.name, pid, "failed", f"{stat} err:{data.get('err', '')}")
        else:
            return
        try:
            await self.reports(report)
        except Exception:
            # The receipt is acknowledged anyway: a store hiccup must not drop the bind.
            log.exception("smpp_receipt_failed", provider=self.name, provider_id=pid)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await self.esme.stop()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
