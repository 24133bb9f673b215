"""The one retry policy of the mirror: tenacity, exponential backoff with jitter,
Retry-After honoured, bounded in attempts and in time. Built once, passed around.

Only errors that say they are transient are retried (`DatamirrorError.is_transient()`, or
a raw network error that escaped translation); everything else is re-raised at once, and
so is the last error when the attempts or the time run out.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
)

from catalog.errors import DatamirrorError


def is_transient(error: BaseException) -> bool:
    """Whether the same request may succeed if tried again."""
    if isinstance(error, DatamirrorError):
        return error.is_transient()
    return isinstance(error, aiohttp.ClientError | asyncio.TimeoutError | ConnectionError)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP-date (RFC 9110
    §10.2.3). None when absent or unreadable; a date in the past means 0.
    """
    if not value or not (text := value.strip()):
        return None
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a transient failure is tried again.

    `attempts` counts the first try. Backoff doubles from `initial_wait` up to `max_wait`,
    with jitter; a server's Retry-After replaces the backoff, up to `max_retry_after`. No
    retry starts after `deadline` seconds from the first try.
    """

    attempts: int = 5
    initial_wait: float = 0.5
    max_wait: float = 30.0
    deadline: float = 600.0
    max_retry_after: float = 120.0

    def delay(self, error: BaseException | None, attempt_number: int) -> float:
        """Seconds to sleep after failed attempt `attempt_number` (1-based) raised `error`."""
        retry_after = getattr(error, "retry_after", None)
        if isinstance(retry_after, int | float) and retry_after >= 0:
            return float(min(retry_after, self.max_retry_after))
        exponential = self.initial_wait * 2.0 ** min(attempt_number - 1, 62)
        return min(exponential + random.uniform(0, self.initial_wait), self.max_wait)

    def gives_up(self, error: BaseException, failures: int, elapsed: float) -> bool:
        """Whether `failures` failed attempts, the last raising `error`, `elapsed` seconds
        after the first began, end it: what `retrying()` decides, for loops that cannot
        run under tenacity (an async generator cannot yield inside an attempt)."""
        return not is_transient(error) or failures >= self.attempts or elapsed >= self.deadline

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        return self.delay(error, state.attempt_number)

    def retrying(self) -> AsyncRetrying:
        """A fresh tenacity controller: `async for attempt in policy.retrying(): with attempt:`."""
        return AsyncRetrying(
            retry=retry_if_exception(is_transient),
            wait=self._wait,
            stop=stop_after_attempt(self.attempts) | stop_before_delay(self.deadline),
            reraise=True,
        )


DEFAULT_POLICY = RetryPolicy()
