"""Catalog records written in batches: landed parts, fetched files.

One commit per record costs more than the record is worth when thousands land per second
(a 16 KiB file, a part from a fast source), and concurrent commits queue on SQLite's write
lock. A batch goes at most `interval` seconds after its first record, or as soon as the
records it holds stand for `max_bytes` of data, whichever comes first; batches are written
one at a time, and a record that fills a batch waits until that batch is committed. So a
killed run's successor refetches at most one batch's bytes (plus the records that arrived
while it was being committed) besides what was in flight, whatever the throughput.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
FLUSH_INTERVAL = 0.5
BATCH_BYTES = 16 * 1024 * 1024


class Batched(Generic[T]):
    """Collects records; `write` stores a batch. `size` tells how many bytes of data a
    record stands for (none: batches are bounded by time only). `flush` before relying on
    the records: it writes what is pending and waits for batches on their way, and raises
    what a batch written in the background raised."""

    def __init__(
        self,
        write: Callable[[Sequence[T]], Awaitable[None]],
        interval: float = FLUSH_INTERVAL,
        *,
        size: Callable[[T], int] | None = None,
        max_bytes: int = BATCH_BYTES,
    ) -> None:
        self._write = write
        self._interval = interval
        self._size = size
        self._max_bytes = max_bytes
        self._pending: list[T] = []
        self._pending_bytes = 0
        self._lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._writing: set[asyncio.Task[None]] = set()
        self._error: BaseException | None = None

    async def add(self, record: T) -> None:
        self._raise_background_error()
        self._pending.append(record)
        if self._size is not None:
            self._pending_bytes += self._size(record)
            if self._pending_bytes >= self._max_bytes:
                self._cancel_timer()
                # not cancelled with the caller: a batch taken is a batch committed
                await asyncio.wait({self._write_in_background()})
                self._raise_background_error()
                return
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._interval, self._write_in_background)

    async def flush(self) -> None:
        self._cancel_timer()
        await self._write_pending()
        if self._writing:
            await asyncio.wait(self._writing)
        self._raise_background_error()

    def _write_in_background(self) -> asyncio.Task[None]:
        self._timer = None
        task = asyncio.get_running_loop().create_task(self._write_pending())
        self._writing.add(task)
        task.add_done_callback(self._written)
        return task

    def _written(self, task: asyncio.Task[None]) -> None:
        self._writing.discard(task)
        if not task.cancelled() and task.exception() is not None and self._error is None:
            self._error = task.exception()

    async def _write_pending(self) -> None:
        async with self._lock:
            batch, self._pending, self._pending_bytes = self._pending, [], 0
            if batch:
                await self._write(batch)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _raise_background_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error
