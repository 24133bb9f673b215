"""Hash one chunked file in file order, in its own thread, while its parts stream in out of
order.

Parts are numbered by their position (0, 1, ...) among the parts this attempt fetches. The
chunks of the part at the frontier go straight to the hashing thread; chunks of later parts
wait in memory (their part's share of the byte budget covers them) until the frontier
reaches them. The thread computes each part's xxh3-128 and, when the attempt fetches the
whole file, the whole-file digests, so nothing is read back from the store.

A part whose bytes are already stored (written at their offset) can `lend` its share of
the byte budget: the hasher gives it back as it hashes, so the next parts start while the
thread is still catching up, instead of waiting for whole parts.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Final, Self

import xxhash

from mirror.budget import ByteBudget
from mirror.digests import FileDigests

Chunk = bytes | memoryview
_STOP: Final = -1
GIVE_BACK_EVERY = 1024 * 1024


class OrderedHasher:
    """Per-part xxh3-128 (and optionally whole-file digests) fed in part order."""

    def __init__(
        self, parts: int, digests: FileDigests | None, budget: ByteBudget | None = None
    ) -> None:
        self._parts = parts
        self._digests = digests
        self._budget = budget
        self._lent: dict[int, int] = {}
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

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

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

    def lend(self, part: int, amount: int) -> None:
        """`part` holds `amount` of the budget; give it back as its bytes are hashed."""
        self._lent[part] = amount

    def forfeit(self, part: int) -> None:
        """Give back whatever of `part`'s loan the thread has not given back yet."""
        rest = self._lent.pop(part, 0)
        if rest and self._budget is not None:
            self._budget.release(rest)

    def _give_back(self, part: int, amount: int) -> None:
        lent = self._lent.get(part, 0)
        taken = min(lent, amount)
        if taken and self._budget is not None:
            self._lent[part] = lent - taken
            self._budget.release(taken)

    async def part_digest(self, part: int) -> str:
        """The part's xxh3-128, once the thread has hashed every byte before its end."""
        return await self._result(part)

    def _result(self, part: int) -> asyncio.Future[str]:
        if part not in self._results:
            assert self._loop is not None, "use the hasher in `async with`"
            self._results[part] = self._loop.create_future()
        return self._results[part]

    def _run(self) -> None:
        part, hashed, part_hash = 0, 0, xxhash.xxh3_128()
        try:
            while (item := self._queue.get()) != _STOP:
                if self._abandoned.is_set():
                    continue
                if isinstance(item, int):
                    self._call(self._give_back, part, hashed)
                    self._call(self._set, part, part_hash.hexdigest(), None)
                    part, hashed, part_hash = part + 1, 0, xxhash.xxh3_128()
                    continue
                part_hash.update(item)
                if self._digests is not None:
                    self._digests.update(item)
                hashed += len(item)
                if hashed >= GIVE_BACK_EVERY:
                    self._call(self._give_back, part, hashed)
                    hashed = 0
        except Exception as exc:  # noqa: BLE001 - handed to every waiter on the loop
            for waiter in range(self._parts):
                self._call(self._set, waiter, "", exc)

    def _call(self, function: Callable[..., None], *args: object) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(function, *args)

    def _set(self, part: int, digest: str, exc: BaseException | None) -> None:
        future = self._result(part)
        if future.done():
            return
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(digest)
