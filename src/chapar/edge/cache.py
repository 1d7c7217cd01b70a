"""The edge's cache: encrypted parts as files on disk, the hottest of them also in RAM,
evicted least-recently-used first.

Files, because an edge's cache is meant to be far larger than its RAM and to survive a
restart. The LRU order lives in memory (an OrderedDict of key -> size) and is rebuilt from
the files' modification times on start, so a restarted edge keeps its cache and roughly
its order. The cache never holds more than ``capacity`` bytes on disk.

RAM holds a subset: the most recently used parts, up to ``memory`` bytes. Serving a part
from a bytes object costs the edge about half the CPU of sending the file (measured with
aiohttp: ~0.45 ms against ~1 ms a 512 KiB part, sendfile included), and a hot file — the
case an edge exists for — is a few parts read by thousands. A part leaves RAM when it leaves
the disk, so RAM never serves what the disk no longer has.

A hit that is not in RAM reads the whole file (in a worker thread) and serves the bytes:
no file stays open while a response is sent, so eviction may delete any file at any time;
a read that finds its file gone is simply a miss.

Everything but ``write_file`` and ``read_file`` (blocking; run them in a worker thread)
runs on the event loop thread, so the bookkeeping needs no lock.

Layout: ``<root>/<file_id % 256, 2 hex digits>/<file_id>.<n>``, so no directory grows to
millions of entries. Writes go to a temporary file renamed into place: a crash leaves no
half part that a later hit would serve.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections import OrderedDict
from pathlib import Path

_TMP = ".tmp-"


def part_key(file_id: int, n: int) -> str:
    return f"{file_id}.{n}"


class PartCache:
    def __init__(self, root: Path, capacity: int, memory: int = 0) -> None:
        if capacity <= 0 or memory < 0:
            raise ValueError("the cache size must be positive")
        self.root = root
        self.capacity = capacity
        self.memory = memory
        self.size = 0
        self.hot_size = 0
        self.evictions = 0
        self._entries: OrderedDict[str, int] = OrderedDict()  # on disk, oldest first
        self._hot: OrderedDict[str, bytes] = OrderedDict()  # in RAM too, oldest first

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def path(self, key: str) -> Path:
        file_id = int(key.split(".", 1)[0])
        return self.root / f"{file_id % 256:02x}" / key

    def load(self) -> None:
        """Blocking: adopt the parts already on disk (oldest first), drop temp files."""
        self.root.mkdir(parents=True, exist_ok=True)
        found: list[tuple[float, str, int]] = []
        for path in self.root.glob("*/*"):
            if path.name.startswith(_TMP):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                continue
            try:
                st = path.stat()
                file_id, n = path.name.split(".")
                key = part_key(int(file_id), int(n))
            except (ValueError, FileNotFoundError):
                continue
            found.append((st.st_mtime, key, st.st_size))
        for _, key, size in sorted(found):
            self._entries[key] = size
            self.size += size
        self._evict()

    # -- reads --------------------------------------------------------------------------------
    def hot(self, key: str) -> bytes | None:
        """The part from RAM, marking it most recently used; None if it is not there."""
        data = self._hot.get(key)
        if data is not None:
            self._hot.move_to_end(key)
            self._entries.move_to_end(key)
        return data

    def lookup(self, key: str) -> Path | None:
        """The part's file if it is on disk, marking it most recently used."""
        if key not in self._entries:
            return None
        self._entries.move_to_end(key)
        return self.path(key)

    def read_file(self, key: str) -> bytes | None:
        """Blocking: the file's bytes, or None if it was evicted (or removed) meanwhile."""
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            return None

    # -- writes -------------------------------------------------------------------------------
    def fits(self, nbytes: int) -> bool:
        return nbytes <= self.capacity

    def write_file(self, key: str, data: bytes) -> None:
        """Blocking: put the bytes in place (run it in a worker thread), then ``admit``."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_TMP)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def admit(self, key: str, data: bytes) -> None:
        """Record a part written by ``write_file``, keep it in RAM, evict down to size."""
        self.forget(key)
        self._entries[key] = len(data)
        self.size += len(data)
        self._evict()
        self.remember(key, data)

    def remember(self, key: str, data: bytes) -> None:
        """Keep a part that is on disk in RAM too, evicting older RAM copies."""
        if key not in self._entries or len(data) > self.memory:
            return
        old = self._hot.pop(key, None)
        if old is not None:
            self.hot_size -= len(old)
        self._hot[key] = data
        self.hot_size += len(data)
        while self.hot_size > self.memory:
            _, dropped = self._hot.popitem(last=False)
            self.hot_size -= len(dropped)

    def forget(self, key: str) -> None:
        """Drop an entry (its file vanished, or it is being replaced)."""
        nbytes = self._entries.pop(key, None)
        if nbytes is not None:
            self.size -= nbytes
        data = self._hot.pop(key, None)
        if data is not None:
            self.hot_size -= len(data)

    def _evict(self) -> None:
        while self.size > self.capacity and self._entries:
            key = next(iter(self._entries))  # the least recently used
            self.forget(key)
            self.evictions += 1
            with contextlib.suppress(FileNotFoundError):
                self.path(key).unlink()
