"""Catalog records written in batches: landed parts, fetched files.

One commit per record costs more than the record is worth when thousands land per second
(a 16 KiB file, a part from a fast source), and concurrent commits queue on SQLite's write
lock. A batch every `interval` seconds keeps the catalog close enough that a killed run's
successor refetches at most what landed since the last batch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
FLUSH_INTERVAL = 0.5


class Batched(Generic[T]):
    """Collects records; `write` (blocking, run in a thread) stores a batch."""

    def __init__(
        self, write: Callable[[Sequence[T]], None], interval: float = FLUSH_INTERVAL
    ) -> None:
        self._write = write
        self._interval = interval
        self._pending: list[T] = []
        self._flushed_at = time.monotonic()

    async def add(self, record: T) -> None:
        self._pending.append(record)
        if time.monotonic() - self._flushed_at >= self._interval:
            await self.flush()

    async def flush(self) -> None:
        batch, self._pending = self._pending, []
        self._flushed_at = time.monotonic()
        if batch:
            await asyncio.to_thread(self._write, batch)
