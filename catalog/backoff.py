"""How long to wait before trying again: a server's Retry-After (RFC 9110 §10.2.3), else
exponential backoff with jitter. One rule for the mirror's retry policy (`mirror/retry.py`)
and the store's (`catalog/store/retrying.py`)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP-date. None when
    absent or unreadable; a date in the past means 0."""
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


def backoff_delay(
    error: BaseException | None, attempt_number: int, *, initial_wait: float,
    max_wait: float, max_retry_after: float,
) -> float:  # fmt: skip
    """Seconds to sleep after failed attempt `attempt_number` (1-based) raised `error`: its
    `retry_after` (up to `max_retry_after`), else `initial_wait` doubled per attempt, with
    jitter, up to `max_wait`."""
    retry_after = getattr(error, "retry_after", None)
    if isinstance(retry_after, int | float) and retry_after >= 0:
        return float(min(retry_after, max_retry_after))
    exponential = initial_wait * 2.0 ** min(attempt_number - 1, 62)
    return min(exponential + random.uniform(0, initial_wait), max_wait)
