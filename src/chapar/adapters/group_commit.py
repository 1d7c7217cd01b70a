"""What both SQL stores share: the queue a writer thread drains in batches, splitting a
batch into runs of operations that can be written together, and handing each operation's
outcome back to the event loop once the batch is committed.

Batchable operations: an operation whose class has ``run_many(tx, ops) -> results`` (see
``services.messages.PrivateSend`` and ``services.chat_messages.ChatPost``) may be run
together with its neighbours of the same class in the batch, all inside one SAVEPOINT,
writing the rows of all of them in a few statements. If ``run_many`` raises, the store rolls the group back to that savepoint and
runs each operation alone (``op(tx)``, with a savepoint each) as it would any other, so an
operation that must fail fails alone and with its own error. ``run_many`` must therefore
change nothing outside the transaction (no pushes, no caller-visible state) until it has
written everything."""

from __future__ import annotations

import asyncio
import queue
import time
from collections.abc import Callable, Iterator
from typing import Any

from chapar import metrics

Job = tuple[Callable[[Any], Any], asyncio.Future[Any]]
Outcome = tuple[asyncio.Future[Any], Any, BaseException | None]

MAX_BATCH = 512
_STOP = object()


class JobQueue:
    """``spacing``: the least time between the starts of two batches. A writer whose
    commits are quick (a fast fsync) takes batches of two or three operations at a
    moderate rate, and then pays the commit's fixed cost (the WAL pages every commit
    rewrites, the fsync, the hand-offs between threads) for every few messages: that cost,
    not the statements, saturates the process well below its peak. Waiting for the rest
    of ``spacing`` before taking a batch makes batches grow with the load instead. It
    costs nothing at low load (an operation arriving after a quiet spell is taken at once)
    nor at peak load (commits then take longer than ``spacing`` anyway); in between it
    adds at most ``spacing`` to an answer."""

    def __init__(self, spacing: float = 0.0) -> None:
        self._q: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._stopping = False
        self._spacing = spacing
        self._last_start = 0.0

    def put(self, fn: Callable[[Any], Any], fut: asyncio.Future[Any]) -> None:
        self._q.put((fn, fut))

    def qsize(self) -> int:
        return self._q.qsize()

    def stop(self) -> None:
        self._q.put(_STOP)

    def take(self) -> list[Job] | None:
        """Block for the next job, then take every job already waiting (up to MAX_BATCH):
        the batch one commit will cover. None once stopped and drained."""
        if self._stopping:
            return None
        first = self._q.get()
        if first is _STOP:
            return None
        if self._spacing:
            wait = self._last_start + self._spacing - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._last_start = time.monotonic()
        batch: list[Job] = [first]  # type: ignore[list-item]
        while len(batch) < MAX_BATCH:
            try:
                item = self._q.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                self._stopping = True  # commit what came before the stop, then end
                break
            batch.append(item)  # type: ignore[arg-type]
        return batch


def runs(batch: list[Job]) -> Iterator[tuple[Any, list[Job]]]:
    """Split a batch, in order, into runs of two or more neighbouring operations of one
    batchable class (yielded with that class) and single operations (with None)."""
    i, n = 0, len(batch)
    while i < n:
        kind = type(batch[i][0])
        j = i + 1
        if getattr(kind, "run_many", None) is not None:
            while j < n and type(batch[j][0]) is kind:
                j += 1
        yield (kind if j - i > 1 else None), batch[i:j]
        i = j


def observe(engine: str, started: float, ops: int) -> None:
    metrics.STORE_COMMIT_SECONDS.labels(engine).observe(time.perf_counter() - started)
    metrics.STORE_BATCH_SIZE.labels(engine).observe(ops)


def settle_threadsafe(loop: asyncio.AbstractEventLoop, outcomes: list[Outcome]) -> None:
    loop.call_soon_threadsafe(_settle, outcomes)


def _settle(outcomes: list[Outcome]) -> None:
    for fut, result, err in outcomes:
        if fut.done():  # the caller went away (cancelled); the write stands regardless
            continue
        if err is not None:
            fut.set_exception(err)
        else:
            fut.set_result(result)
