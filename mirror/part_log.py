"""Landed parts of one chunked file, committed to the catalog in batches.

One commit per part costs more CPU than the part's bytes on a fast source; a batch every
`interval` seconds keeps the catalog close enough that a killed run's successor refetches
at most the parts of the last unflushed batch.
"""

from __future__ import annotations

import asyncio
import time

from catalog.repository import Catalog
from catalog.store.base import ByteRange

FLUSH_INTERVAL = 0.5


class PartLog:
    def __init__(self, catalog: Catalog, transfer_id: int, interval: float = FLUSH_INTERVAL):
        self._catalog = catalog
        self._transfer_id = transfer_id
        self._interval = interval
        self._pending: list[tuple[int, int, int, str]] = []
        self._flushed_at = time.monotonic()

    async def add(self, number: int, span: ByteRange, digest: str) -> None:
        self._pending.append((number, span.start, span.length, digest))
        if time.monotonic() - self._flushed_at >= self._interval:
            await self.flush()

    async def flush(self) -> None:
        batch, self._pending = self._pending, []
        self._flushed_at = time.monotonic()
        await asyncio.to_thread(self._catalog.add_parts, self._transfer_id, batch)
