"""The edge's disk cache: encrypted parts as files, evicted least-recently-used first.

Files, not memory, because an edge's cache is meant to be far larger than its RAM and to
survive a restart; hits are then served with sendfile. The LRU order lives in memory (an
OrderedDict of key -> size) and is rebuilt from the files' modification times on start,
so a restarted edge keeps its cache and roughly its order. Every method runs on the event
loop thread except ``write_file`` (blocking, called through a worker thread), so the
bookkeeping needs no lock.

An entry that a response is reading from is pinned: eviction passes over it, so a hit
never finds its file deleted under it. The cache never exceeds its size: if every older
part is pinned, the part just fetched is the one not kept (it is served from memory).

Layout: ``<root>/<file_id % 256, 2 hex digits>/<file_id>.<n>``, so no directory grows to
millions of entries. Writes go to a temporary file renamed into place: a crash leaves no
half part that a later hit would serve.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections import Counter, OrderedDict
from pathlib import Path

_TMP = ".tmp-"


def part_key(file_id: int, n: int) -> str:
    return f"{file_id}.{n}"


class DiskLru:
    def __init__(self, root: Path, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError("the cache size must be positive")
        self.root = root
        self.capacity = capacity
        self.size = 0
        self.evictions = 0
        self._entries: OrderedDict[str, int] = OrderedDict()  # oldest first
        self._pins: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def path(self, key: str) -> Path:
        file_id = int(key.split(".", 1)[0])
        return self.root / f"{file_id % 256:02x}" / key

    def load(self) -> None:
        """Adopt the parts already on disk (oldest first) and drop leftover temp files."""
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

    def lookup(self, key: str) -> Path | None:
        """The cached part's path, marking it most recently used; None on a miss."""
        if key not in self._entries:
            return None
        self._entries.move_to_end(key)
        return self.path(key)

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

    def admit(self, key: str, nbytes: int) -> None:
        """Record a part written by ``write_file`` and evict down to the capacity."""
        old = self._entries.pop(key, None)
        if old is not None:
            self.size -= old
        self._entries[key] = nbytes
        self.size += nbytes
        self._evict()

    def forget(self, key: str) -> None:
        """Drop an entry whose file vanished (an operator cleaned the directory)."""
        nbytes = self._entries.pop(key, None)
        if nbytes is not None:
            self.size -= nbytes

    def pin(self, key: str) -> None:
        self._pins[key] += 1

    def unpin(self, key: str) -> None:
        self._pins[key] -= 1
        if self._pins[key] <= 0:
            del self._pins[key]
        if self.size > self.capacity:
            self._evict()

    def _evict(self) -> None:
        if self.size <= self.capacity:
            return
        for key in list(self._entries):  # oldest first
            if self.size <= self.capacity:
                break
            if self._pins[key]:
                continue
            nbytes = self._entries.pop(key)
            self.size -= nbytes
            self.evictions += 1
            with contextlib.suppress(FileNotFoundError):
                self.path(key).unlink()
