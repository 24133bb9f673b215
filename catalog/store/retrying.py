"""Store writes tried again when the store fails transiently (an S3 500 or SlowDown, a
connection reset during a part upload, a local file system that says "try again").

The same shape as the mirror's policy (`mirror/retry.py`), with the same waits
(`catalog.backoff`): tenacity, exponential backoff with jitter, a server's Retry-After
honoured, bounded in attempts and in time, and only errors that say they are transient
(`is_transient()`) are retried; the last error is re-raised. It lives here because
catalog may not import mirror. Only idempotent writes go through it: a whole object put
again, a part uploaded again under its number, bytes written again at their offset.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
)

from catalog.backoff import backoff_delay
from catalog.errors import DatamirrorError

T = TypeVar("T")


def is_transient(error: BaseException) -> bool:
    return isinstance(error, DatamirrorError) and error.is_transient()


@dataclass(frozen=True, slots=True)
class StoreRetry:
    """`attempts` counts the first try; no retry starts `deadline` seconds after it."""

    attempts: int = 5
    initial_wait: float = 0.2
    max_wait: float = 10.0
    deadline: float = 120.0
    max_retry_after: float = 60.0

    def delay(self, error: BaseException | None, attempt_number: int) -> float:
        return backoff_delay(
            error, attempt_number, initial_wait=self.initial_wait, max_wait=self.max_wait,
            max_retry_after=self.max_retry_after,
        )  # fmt: skip

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        return self.delay(error, state.attempt_number)

    def retrying(self) -> AsyncRetrying:
        return AsyncRetrying(
            retry=retry_if_exception(is_transient),
            wait=self._wait,
            stop=stop_after_attempt(self.attempts) | stop_before_delay(self.deadline),
            reraise=True,
        )

    async def call(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """`attempt()` until it succeeds, or fails for good. The first try runs without
        tenacity (a write that succeeds, nearly every one, pays for no retry controller);
        each later try awaits what `attempt()` returns: tenacity calls a plain function (a
        lambda) without awaiting its result, which would hand back the coroutine unrun."""
        try:
            return await attempt()
        except DatamirrorError as exc:
            if not exc.is_transient() or self.attempts <= 1:
                raise
            await asyncio.sleep(self.delay(exc, 1))

        async def once() -> T:
            return await attempt()

        return await replace(self, attempts=self.attempts - 1).retrying()(once)


STORE_RETRY = StoreRetry()
