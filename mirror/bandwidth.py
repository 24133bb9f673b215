"""A token bucket shared by every connection of a sync, so `--bandwidth-limit` caps the sum."""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    """`rate` bytes per second on average, bursts of at most `burst` bytes."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("the rate must be positive")
        self.rate = rate
        self.burst = burst if burst is not None else max(rate, 64 * 1024)
        self._tokens = self.burst
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def take(self, nbytes: int) -> None:
        """Wait until `nbytes` may pass; callers are served in turn."""
        async with self._lock:
            self._refill()
            self._tokens -= nbytes
            if self._tokens < 0:
                await asyncio.sleep(-self._tokens / self.rate)
