"""Hash one chunked file in file order, in its own thread, while its parts stream in out of
order.

Parts are numbered by their position (0, 1, ...) among the parts this attempt fetches. The
chunks of the part at the frontier go straight to the hashing thread; chunks of later parts
wait in memory (their part's share of the byte budget covers them) until the frontier
reaches them. The thread computes each part's xxh3-128 and, when the attempt fetches the
whole file, the whole-file digests, so nothing is read back from the store.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from types import TracebackType
from typing import Final, Self

import xxhash

from mirror.digests import FileDigests

Chunk = bytes | memoryview
_STOP: Final = -1


class OrderedHasher:
    """Per-part xxh3-128 (and optionally whole-file digests) fed in part order."""

    def __init__(self, parts: int, digests: FileDigests | None) -> None:
        self._parts = parts
        self._digests = digests
        self._frontier = 0
        self._finished: set[int] = set()
        self._waiting: dict[int, list[Chunk]] = {}
        self._queue: queue.SimpleQueue[Chunk | int] = queue.SimpleQueue()
        self._results: dict[int, asyncio.Future[str]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._abandoned = threading.Event()

    async def __aenter__(self) -> Self:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="ordered-hash", daemon=True)
        self._thread.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is not None:
            self._abandoned.set()
        self._queue.put(_STOP)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)

    def submit(self, part: int, chunk: Chunk) -> None:
        """The next chunk of `part`, in the part's own order; the caller keeps it unchanged."""
        if part == self._frontier:
            self._queue.put(chunk)
        else:
            self._waiting.setdefault(part, []).append(chunk)

    def part_done(self, part: int) -> None:
        """Every chunk of `part` was submitted; advance the frontier past finished parts."""
        self._finished.add(part)
        while self._frontier in self._finished:
            self._queue.put(self._frontier)
            self._frontier += 1
            for chunk in self._waiting.pop(self._frontier, ()):
                self._queue.put(chunk)

    async def part_digest(self, part: int) -> str:
        """The part's xxh3-128, once the thread has hashed every byte before its end."""
        return await self._result(part)

    def _result(self, part: int) -> asyncio.Future[str]:
        if part not in self._results:
            assert self._loop is not None, "use the hasher in `async with`"
            self._results[part] = self._loop.create_future()
        return self._results[part]

    def _run(self) -> None:
        part_hash = xxhash.xxh3_128()
        try:
            while (item := self._queue.get()) != _STOP:
                if self._abandoned.is_set():
                    continue
                if isinstance(item, int):
                    self._settle(item, part_hash.hexdigest(), None)
                    part_hash = xxhash.xxh3_128()
                    continue
                part_hash.update(item)
                if self._digests is not None:
                    self._digests.update(item)
        except Exception as exc:  # noqa: BLE001 - handed to every waiter on the loop
            for part in range(self._parts):
                self._settle(part, "", exc)

    def _settle(self, part: int, digest: str, exc: BaseException | None) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._set, part, digest, exc)

    def _set(self, part: int, digest: str, exc: BaseException | None) -> None:
        future = self._result(part)
        if future.done():
            return
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(digest)
