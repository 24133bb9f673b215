"""The retry policy: which errors are retried, how long it waits, when it gives up."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import aiohttp
import pytest

from catalog.backoff import parse_retry_after
from catalog.errors import ChecksumMismatchError, SourceChangedError, SourceError, StoreError
from mirror.retry import RetryPolicy, is_transient

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
FAST = RetryPolicy(attempts=4, initial_wait=0.001, max_wait=0.01, deadline=30)


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (SourceError("u", "HTTP 503", transient=True), True),
        (SourceError("u", "HTTP 404"), False),
        (SourceChangedError("u", "etag moved"), True),
        (ChecksumMismatchError("p", "md5", "a", "b"), True),
        (StoreError("disk full"), False),
        (aiohttp.ServerDisconnectedError(), True),
        (ConnectionResetError(), True),
        (TimeoutError(), True),
        (ValueError("bug"), False),
        (KeyError("bug"), False),
    ],
)
def test_only_errors_that_say_so_are_transient(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("120", 120.0),
        (" 7 ", 7.0),
        ("Fri, 02 Jan 2026 03:04:35 GMT", 30.0),
        ("Fri, 02 Jan 2026 03:00:00 GMT", 0.0),
        ("soon", None),
        ("-5", None),
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(
    header: str | None, seconds: float | None
) -> None:
    assert parse_retry_after(header, NOW) == seconds


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [(1, 0.5, 1.0), (2, 1.0, 1.5), (3, 2.0, 2.5), (4, 4.0, 4.5), (10, 8.0, 8.0)],
)
def test_backoff_doubles_with_jitter_up_to_the_cap(attempt: int, low: float, high: float) -> None:
    policy = RetryPolicy(initial_wait=0.5, max_wait=8.0)
    delays = [policy.delay(SourceError("u", "x", transient=True), attempt) for _ in range(50)]
    assert all(low <= d <= high for d in delays), delays


@pytest.mark.parametrize(("retry_after", "expected"), [(0.0, 0.0), (3.0, 3.0), (500.0, 120.0)])
def test_a_retry_after_replaces_the_backoff_up_to_its_cap(
    retry_after: float, expected: float
) -> None:
    error = SourceError("u", "HTTP 429", transient=True, retry_after=retry_after)
    assert RetryPolicy().delay(error, 1) == expected


async def _run(policy: RetryPolicy, failures: list[BaseException]) -> int:
    calls = 0
    async for attempt in policy.retrying():
        with attempt:
            calls += 1
            if failures:
                raise failures.pop(0)
    return calls


async def test_transient_failures_are_tried_again_until_one_succeeds() -> None:
    flaky: list[BaseException] = [SourceError("u", "HTTP 503", transient=True) for _ in range(3)]
    assert await _run(FAST, flaky) == 4


async def test_a_permanent_error_is_raised_on_the_first_attempt() -> None:
    failures: list[BaseException] = [SourceError("u", "HTTP 404"), SourceError("u", "again")]
    with pytest.raises(SourceError, match="HTTP 404"):
        await _run(FAST, failures)
    assert len(failures) == 1


async def test_the_last_error_is_raised_when_the_attempts_run_out() -> None:
    flaky: list[BaseException] = [SourceError("u", f"HTTP 50{i}", transient=True) for i in range(6)]
    with pytest.raises(SourceError, match="HTTP 503"):
        await _run(FAST, flaky)
    assert len(flaky) == 2


async def test_no_retry_starts_past_the_deadline() -> None:
    policy = RetryPolicy(attempts=100, initial_wait=0.2, max_wait=0.2, deadline=0.3)
    flaky: list[BaseException] = [SourceError("u", "HTTP 503", transient=True)] * 100
    started = time.monotonic()
    with pytest.raises(SourceError):
        await asyncio.wait_for(_run(policy, flaky), timeout=10)
    assert time.monotonic() - started < 2
    assert len(flaky) >= 97


def test_gives_up_decides_as_the_tenacity_controller_does() -> None:
    policy = RetryPolicy(attempts=3, deadline=60.0)
    transient = SourceError("http://x/f", "connection broke", transient=True)
    permanent = SourceError("http://x/f", "HTTP 404")
    assert policy.gives_up(permanent, 1, 0.0)
    assert not policy.gives_up(transient, 2, 0.0)
    assert policy.gives_up(transient, 3, 0.0)
    assert policy.gives_up(transient, 1, 60.0)
