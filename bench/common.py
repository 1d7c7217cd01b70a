"""Helpers shared by the benchmark scripts: child processes, CPU accounting, latency
summaries and the printed table. Standard library only, so a script can import it before
deciding which event loop to run."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOCALHOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind((LOCALHOST, 0))
        return int(s.getsockname()[1])


class Child:
    """A server in a child process, with its output in a log file.

    Why a process and not a task in the benchmark's loop: the load generator and the
    server must not share a GIL or an event loop, or each one's cost hides in the other's.
    """

    def __init__(
        self, argv: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None
    ) -> None:
        self.argv = list(argv)
        self.log_path = log_path
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None, "the child is not running"
        return self.proc.pid

    def start(self, ready_url: str, timeout: float = 30.0) -> None:
        """Start the child and wait until ready_url answers 200."""
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.argv[:4]} exited early:\n{self.log_tail()}")
            if _answers_200(ready_url):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.argv[:4]} did not become ready in {timeout} s")

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM (a clean shutdown), then SIGKILL if it hangs; returns the exit code."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _answers_200(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return int(r.status) == 200
    except OSError:
        return False


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process and all its threads (Linux /proc), else None.

    Read from outside the process so the figure includes the SQLite writer thread.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; the fields after its ")" are fixed.
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float | None:
    """CPU time all cores spent not idle since boot (Linux /proc/stat), else None.

    Minus the server's and the load generator's share, it shows how much of the machine
    something else took during a measurement: these machines are shared.
    """
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0]
    except OSError:
        return None
    ticks = [int(x) for x in first.split()[1:]]
    idle, iowait = ticks[3], ticks[4]
    # guest time is already counted in user; steal is time another VM took from us.
    busy = sum(ticks[:8]) - idle - iowait
    return busy / os.sysconf("SC_CLK_TCK")


def wait_until_quiet(max_wait_s: float, busy_pct: float, period_s: float = 1.0) -> float | None:
    """Wait (at most max_wait_s) for a period_s in which the whole machine was busy less
    than busy_pct of one core; returns the last busy %, None if /proc is not readable."""
    deadline = time.monotonic() + max_wait_s
    while True:
        before = machine_busy_seconds()
        time.sleep(period_s)
        after = machine_busy_seconds()
        if before is None or after is None:
            return None
        pct = 100 * (after - before) / period_s
        if pct <= busy_pct or time.monotonic() >= deadline:
            return pct


@dataclass(frozen=True)
class LatencySummary:
    """Milliseconds; None when nothing was delivered."""

    count: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None


def summarize_us(latencies_us: Sequence[int]) -> LatencySummary:
    """Nearest-rank percentiles of latencies in microseconds."""
    if not latencies_us:
        return LatencySummary(0, None, None, None)
    ordered = sorted(latencies_us)

    def rank(q: float) -> float:
        i = min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.5) - 1))
        return ordered[i] / 1000

    return LatencySummary(len(ordered), rank(0.50), rank(0.99), ordered[-1] / 1000)


def machine_info() -> dict[str, Any]:
    """What a figure depends on, recorded next to it."""
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git": _git_revision(),
        "argv": " ".join(sys.argv),
    }


def _git_revision() -> str:
    """The commit measured, marked "+dirty" when the working tree has changes."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return rev + ("+dirty" if status.strip() else "")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """A plain-text table: the first ``left`` columns left-aligned, the others right-aligned."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        out = [c.ljust(w) for c, w in zip(cells[:left], widths[:left], strict=True)]
        out += [c.rjust(w) for c, w in zip(cells[left:], widths[left:], strict=True)]
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def fmt_num(x: float | None, digits: int = 0) -> str:
    if x is None:
        return "-"
    return f"{x:,.{digits}f}"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (other jobs on a shared machine), or "-"."""
    try:
        return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "-"


# -- a minimal WebSocket client for load generators -------------------------------------------
TextHandler = Callable[[bytes, int], None]  # (payload, time.monotonic_ns() at arrival)
_ZERO_MASK = b"\0\0\0\0"  # masking with zeros leaves the payload as is: no per-byte XOR


class RawWebSocket(asyncio.Protocol):
    """The client side of RFC 6455, reduced to what a load generator needs: unfragmented
    text frames in both directions, pings answered, no extensions.

    Why not aiohttp's client: with thousands of sockets in one process each frame there
    costs a task wake-up and a message object; here it is one callback, so the generator
    stays small next to the server on a 2-core machine and its own delay does not pass
    for the server's.
    """

    def __init__(self, on_text: TextHandler) -> None:
        self.on_text = on_text
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.close_code: int | None = None
        self._buf = b""
        self._upgraded = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns()
        buf = self._buf + data if self._buf else data
        if not self._upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self._buf = buf
                return
            status = buf[: buf.find(b"\r\n")]
            if not status.startswith(b"HTTP/1.1 101"):
                self.opened.set_exception(ConnectionError(status.decode(errors="replace")))
                self.abort()
                return
            self._upgraded = True
            self.opened.set_result(None)
            buf = buf[end + 4 :]
        i, n = 0, len(buf)
        while n - i >= 2:
            op, size, head = buf[i] & 0x0F, buf[i + 1] & 0x7F, 2
            if size == 126:
                if n - i < 4:
                    break
                size, head = int.from_bytes(buf[i + 2 : i + 4], "big"), 4
            elif size == 127:
                if n - i < 10:
                    break
                size, head = int.from_bytes(buf[i + 2 : i + 10], "big"), 10
            if n - i < head + size:
                break
            payload = buf[i + head : i + head + size]
            i += head + size
            if op in (0x1, 0x2):
                self.on_text(payload, now)
            elif op == 0x9:  # ping
                self._write(0xA, payload)
            elif op == 0x8:  # close: answer it and let the server end the connection
                self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 0
                self._write(0x8, payload[:2])
        self._buf = buf[i:]

    def send_text(self, payload: bytes) -> None:
        self._write(0x1, payload)

    def _write(self, op: int, payload: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        n = len(payload)
        if n < 126:
            head = bytes((0x80 | op, 0x80 | n))
        elif n < 65536:
            head = bytes((0x80 | op, 0x80 | 126)) + n.to_bytes(2, "big")
        else:
            head = bytes((0x80 | op, 0x80 | 127)) + n.to_bytes(8, "big")
        self.transport.write(head + _ZERO_MASK + payload)

    def close(self) -> None:
        """A normal close (1000) and the end of the connection."""
        self._write(0x8, (1000).to_bytes(2, "big"))
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


async def open_websocket(
    host: str, port: int, path: str, on_text: TextHandler, source: str | None = None
) -> RawWebSocket:
    """A RawWebSocket to ws://host:port/path, from the address ``source`` if given (one
    address has about 28,000 ephemeral ports toward one server port)."""
    loop = asyncio.get_running_loop()
    local = (source, 0) if source else None
    _, proto = await loop.create_connection(
        lambda: RawWebSocket(on_text), host, port, local_addr=local
    )
    key = base64.b64encode(os.urandom(16)).decode()
    assert proto.transport is not None
    proto.transport.write(
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    try:
        await proto.opened
    except BaseException:
        proto.abort()
        raise
    return proto
