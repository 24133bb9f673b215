"""Open local object files shared by every request, in a least-recently-used set bounded in
count, so a hot file costs no `open`/`stat` (and no executor hop) per request.

Objects under a key never change (copy-on-change releases), so an open file stays right for
as long as it is cached; its size is checked against the catalog once, when it is opened.
A file evicted while requests still read from it is closed when the last of them is done.
Reads of small spans are attempted on the event loop with `RWF_NOWAIT`, which succeeds only
when the bytes are already in the page cache (so the loop never waits on a disk); otherwise
the caller falls back to a thread.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO

from cachetools import LRUCache

from catalog.errors import ObjectNotFoundError, StoreError

DEFAULT_CAPACITY = 256
_NOWAIT: int | None = getattr(os, "RWF_NOWAIT", None)


class OpenFile:
    """One open object file; `users` requests hold it."""

    __slots__ = ("evicted", "file", "key", "users")

    def __init__(self, key: str, file: IO[bytes]) -> None:
        self.key = key
        self.file = file
        self.users = 0
        self.evicted = False

    def read_cached(self, offset: int, length: int) -> bytearray | None:
        """The bytes at `offset` if the page cache holds them all, else None (never waits)."""
        if _NOWAIT is None:
            return None
        buffer = bytearray(length)
        try:
            got = os.preadv(self.file.fileno(), [buffer], offset, _NOWAIT)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:
            return None  # RWF_NOWAIT unsupported on this file system: the thread path reads
        return buffer if got == length else None

    def evict(self) -> None:
        """Out of the cache: closed now if no request reads it, else by its last reader."""
        self.evicted = True
        if self.users == 0:
            self.file.close()


class _Evicting(LRUCache[str, OpenFile]):
    """cachetools' way to act on eviction: `popitem` is what drops the least recently used."""

    def popitem(self) -> tuple[str, OpenFile]:
        key, handle = super().popitem()
        handle.evict()
        return key, handle


class OpenFiles:
    """`locate` maps a store key to its file (a local store's `local_path`)."""

    def __init__(self, locate: Callable[[str], Path], capacity: int = DEFAULT_CAPACITY) -> None:
        self.locate = locate
        self._files = _Evicting(capacity)

    async def acquire(self, key: str, size: int) -> OpenFile:
        """The open file of `key` (opened in a thread on a miss); `release` it when done."""
        try:
            found = self._files[key]
        except KeyError:
            found = await self._open(key, size)
        found.users += 1
        return found

    async def _open(self, key: str, size: int) -> OpenFile:
        opened = await asyncio.to_thread(_open_checked, key, self.locate(key), size)
        found = self._files.get(key)
        if found is not None:
            opened.close()  # another request opened it meanwhile
            return found
        handle = self._files[key] = OpenFile(key, opened)
        return handle

    def release(self, handle: OpenFile) -> None:
        handle.users -= 1
        if handle.evicted and handle.users == 0:
            handle.file.close()

    def close(self) -> None:
        for handle in self._files.values():
            handle.evict()
        self._files.clear()

    def __len__(self) -> int:
        return len(self._files)


def _open_checked(key: str, path: Path, size: int) -> IO[bytes]:
    try:
        file = path.open("rb", buffering=0)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise ObjectNotFoundError(key) from None
    actual = os.fstat(file.fileno()).st_size
    if actual != size:
        file.close()
        raise StoreError(f"object {key} has {actual} bytes, the catalog says {size}")
    return file
