"""The one retry policy of the mirror: tenacity, exponential backoff with jitter,
Retry-After honoured, bounded in attempts and in time. Built once, passed around.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from catalog.errors import DatamirrorError


def is_transient(error: BaseException) -> bool:
    """Whether the same request may succeed if tried again."""
    if isinstance(error, DatamirrorError):
        return error.is_transient()
    return isinstance(error, aiohttp.ClientError | asyncio.TimeoutError | ConnectionError)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 5
    initial_wait: float = 0.5
    max_wait: float = 30.0
    deadline: float = 600.0

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        retry_after = getattr(error, "retry_after", None)
        if isinstance(retry_after, int | float) and retry_after >= 0:
            return float(min(retry_after, self.max_wait))
        backoff = wait_exponential_jitter(initial=self.initial_wait, max=self.max_wait)
        return float(backoff(state))

    def retrying(self) -> AsyncRetrying:
        """A fresh tenacity controller: `async for attempt in policy.retrying(): with attempt:`."""
        return AsyncRetrying(
            retry=retry_if_exception(is_transient),
            wait=self._wait,
            stop=stop_after_attempt(self.attempts) | stop_after_delay(self.deadline),
            reraise=True,
        )


DEFAULT_POLICY = RetryPolicy()
