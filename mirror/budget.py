"""A byte budget shared by every transfer of a sync: memory is bounded by bytes held, not
by a count of parts, whatever the part size.

Waiters are served first come, first served, so the parts of one file get their bytes in
file order; a request larger than the whole budget waits until the budget is free and then
takes all of it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class ByteBudget:
    """At most `capacity` bytes held at once."""

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError("a byte budget must be positive")
        self.capacity = capacity
        self._free = capacity
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    @property
    def free(self) -> int:
        return self._free

    async def acquire(self, nbytes: int) -> int:
        """Wait for `nbytes` (at most the capacity); return the amount taken."""
        amount = min(max(nbytes, 0), self.capacity)
        if not self._waiters and amount <= self._free:
            self._free -= amount
            return amount
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append((amount, waiter))
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release(amount)
            else:
                self._wake()
            raise
        return amount

    def release(self, amount: int) -> None:
        self._free += amount
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            amount, waiter = self._waiters[0]
            if waiter.done():
                self._waiters.popleft()
                continue
            if amount > self._free:
                return
            self._waiters.popleft()
            self._free -= amount
            waiter.set_result(None)

    @asynccontextmanager
    async def hold(self, nbytes: int) -> AsyncIterator[int]:
        amount = await self.acquire(nbytes)
        try:
            yield amount
        finally:
            self.release(amount)
