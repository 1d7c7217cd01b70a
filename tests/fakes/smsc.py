"""A small SMSC speaking SMPP 3.4 over asyncio, for tests of the SMPP provider.

It parses and builds PDUs itself with ``struct`` (not with the client's library, so the two
sides check each other): bind_transceiver (checking system_id and password),
enquire_link, unbind, submit_sm (decoding GSM/Latin-1 or UCS-2 text, and the
message_payload TLV), and it sends deliver_sm delivery receipts and reads their answers.

Modes, as in tests/fakes/http_providers.py: ok (answer and send a DELIVRD receipt),
silent (answer, no receipt), undelivered (answer, UNDELIV receipt), error
(ESME_RSYSERR), reject (ESME_RINVDSTADR), hang (no answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import itertools
import struct
from dataclasses import dataclass

BIND_TRANSCEIVER = 0x00000009
SUBMIT_SM = 0x00000004
DELIVER_SM = 0x00000005
UNBIND = 0x00000006
ENQUIRE_LINK = 0x00000015
GENERIC_NACK = 0x80000000
RESP = 0x80000000

ESME_ROK = 0x00
ESME_RSYSERR = 0x08
ESME_RINVDSTADR = 0x0B
ESME_RINVPASWD = 0x0E
MESSAGE_PAYLOAD = 0x0424


@dataclass
class Submitted:
    to: str
    text: str
    id: str
    data_coding: int
    registered_delivery: int


def _cstring(body: bytes, at: int) -> tuple[str, int]:
    end = body.index(b"\x00", at)
    return body[at:end].decode("latin-1"), end + 1


def _pdu(command: int, status: int, seq: int, body: bytes = b"") -> bytes:
    return struct.pack("!IIII", 16 + len(body), command, status, seq) + body


def _decode(data: bytes, coding: int) -> str:
    if coding == 0x08:
        return data.decode("utf-16-be")
    return data.decode("latin-1")


class FakeSmsc:
    def __init__(self, system_id: str = "chapar", password: str = "secret") -> None:
        self.system_id = system_id
        self.password = password
        self.mode = "ok"
        self.received: list[Submitted] = []
        self.submits = 0
        self.binds = 0
        self.receipts_acked = 0
        self._ids = itertools.count(5000)
        self._seq = itertools.count(1)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._stop = asyncio.Event()
        self.port = 0

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.close()
        for w in list(self._writers):
            w.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while not self._stop.is_set():
                header = await reader.readexactly(16)
                length, command, _status, seq = struct.unpack("!IIII", header)
                body = await reader.readexactly(length - 16)
                if not await self._handle(writer, command, seq, body):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _handle(
        self, writer: asyncio.StreamWriter, command: int, seq: int, body: bytes
    ) -> bool:
        if command == BIND_TRANSCEIVER:
            self.binds += 1
            system_id, at = _cstring(body, 0)
            password, _ = _cstring(body, at)
            ok = system_id == self.system_id and password == self.password
            status = ESME_ROK if ok else ESME_RINVPASWD
            writer.write(_pdu(BIND_TRANSCEIVER | RESP, status, seq, b"fakesmsc\x00"))
            return ok
        if command == ENQUIRE_LINK:
            writer.write(_pdu(ENQUIRE_LINK | RESP, ESME_ROK, seq))
        elif command == UNBIND:
            writer.write(_pdu(UNBIND | RESP, ESME_ROK, seq))
            await writer.drain()
            return False
        elif command == DELIVER_SM | RESP:
            self.receipts_acked += 1
        elif command == SUBMIT_SM:
            await self._submit(writer, seq, body)
        elif not command & RESP:
            writer.write(_pdu(GENERIC_NACK, 0x03, seq))  # ESME_RINVCMDID
        await writer.drain()
        return True

    async def _submit(self, writer: asyncio.StreamWriter, seq: int, body: bytes) -> None:
        self.submits += 1
        if self.mode == "hang":
            return
        if self.mode in ("error", "reject"):
            status = ESME_RSYSERR if self.mode == "error" else ESME_RINVDSTADR
            writer.write(_pdu(SUBMIT_SM | RESP, status, seq, b"\x00"))
            return
        _service_type, at = _cstring(body, 0)
        at += 2  # source ton, npi
        source, at = _cstring(body, at)
        at += 2  # destination ton, npi
        destination, at = _cstring(body, at)
        at += 3  # esm_class, protocol_id, priority_flag
        _schedule, at = _cstring(body, at)
        _validity, at = _cstring(body, at)
        registered_delivery = body[at]
        data_coding = body[at + 2]
        sm_length = body[at + 4]
        at += 5
        data = body[at : at + sm_length]
        at += sm_length
        while at + 4 <= len(body):  # optional parameters (TLVs)
            tag, length = struct.unpack_from("!HH", body, at)
            if tag == MESSAGE_PAYLOAD:
                data = body[at + 4 : at + 4 + length]
            at += 4 + length
        mid = f"{next(self._ids):x}"
        self.received.append(
            Submitted(
                destination, _decode(data, data_coding), mid, data_coding, registered_delivery
            )
        )
        writer.write(_pdu(SUBMIT_SM | RESP, ESME_ROK, seq, mid.encode() + b"\x00"))
        if registered_delivery & 1 and self.mode in ("ok", "undelivered"):
            stat = "DELIVRD" if self.mode == "ok" else "UNDELIV"
            writer.write(self._receipt(mid, destination, source, stat))

    def _receipt(self, mid: str, destination: str, source: str, stat: str) -> bytes:
        now = datetime.datetime.now(datetime.UTC).strftime("%y%m%d%H%M")
        err = "000" if stat == "DELIVRD" else "001"
        dlvrd = "001" if stat == "DELIVRD" else "000"
        text = (
            f"id:{mid} sub:001 dlvrd:{dlvrd} submit date:{now} done date:{now}"
            f" stat:{stat} err:{err} text:"
        ).encode()
        body = (
            b"\x00"  # service_type
            + b"\x01\x01"
            + destination.encode()
            + b"\x00"
            + b"\x05\x00"
            + source.encode()
            + b"\x00"
            + bytes([0x04, 0, 0])  # esm_class: delivery receipt
            + b"\x00\x00"  # schedule, validity
            + bytes([0, 0, 0, 0, len(text)])
            + text
        )
        return _pdu(DELIVER_SM, ESME_ROK, next(self._seq), body)
