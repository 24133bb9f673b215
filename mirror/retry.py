"""The one retry policy of the mirror: tenacity, exponential backoff with jitter,
Retry-After honoured, bounded in attempts and in time. Built once, passed around.

Only errors that say they are transient are retried (`DatamirrorError.is_transient()`, or
a raw network error that escaped translation); everything else is re-raised at once, and
so is the last error when the attempts or the time run out.

Bounds: `attempts` and `deadline` per request (a part resumed from its last good byte is
one request) and per file (the sync's file loop); a `RetryLog` bounds the whole run
(retries and seconds) and counts every retry by fault kind for the sync report.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field, replace

import aiohttp
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_any,
    stop_before_delay,
)
from tenacity.stop import stop_base

from catalog.backoff import backoff_delay
from catalog.errors import ChecksumMismatchError, DatamirrorError, SourceError

RESET = "reset"
TRUNCATION = "truncation"
SERVER_ERROR = "5xx"
IGNORED_RANGE = "ignored_range"
DIGEST = "digest"
TIMEOUT = "timeout"
OTHER = "other"
WORDS = {RESET: "resets", TRUNCATION: "truncations", SERVER_ERROR: "5xx",
         IGNORED_RANGE: "ignored ranges", DIGEST: "digest repairs", TIMEOUT: "timeouts",
         OTHER: "other"}  # fmt: skip
ALWAYS_SHOWN = (RESET, TRUNCATION, SERVER_ERROR, IGNORED_RANGE)


def is_transient(error: BaseException) -> bool:
    """Whether the same request may succeed if tried again."""
    if isinstance(error, DatamirrorError):
        return error.is_transient()
    return isinstance(error, aiohttp.ClientError | asyncio.TimeoutError | ConnectionError)


def fault_kind(error: BaseException) -> str:
    """The kind of fault a retried error was, as the sync report counts them."""
    if isinstance(error, ChecksumMismatchError):
        return DIGEST
    if isinstance(error, SourceError) and error.fault:
        return error.fault
    if isinstance(error, TimeoutError):
        return TIMEOUT
    return OTHER


@dataclass(eq=False)
class RetryLog:
    """The retries of one run, counted by fault kind, and the run's bound: no retry after
    `limit` of them or `seconds` after the run began."""

    limit: int = 10_000
    seconds: float = 3600.0
    counts: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)
    ignored: Counter[str] = field(default_factory=Counter)
    """Ignored Range answers in a row, by file path."""
    whole_files: set[str] = field(default_factory=set)
    """Files fetched as one stream because their server ignores Range requests."""

    def exhausted(self) -> bool:
        return self.counts.total() >= self.limit or time.monotonic() - self.started >= self.seconds

    def record(self, error: BaseException) -> None:
        self.counts[fault_kind(error)] += 1


class stop_when_run_exhausted(stop_base):  # noqa: N801 (tenacity's naming)
    """Stop when the run's retries or time are used up."""

    def __init__(self, log: RetryLog | None) -> None:
        self.log = log

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self.log is not None and self.log.exhausted()


def retries_summary(counts: dict[str, int]) -> str:
    """ "n retries (resets r, truncations t, 5xx s, ignored ranges i, ...)"; "" for none."""
    total = sum(counts.values())
    if not total:
        return ""
    shown = [k for k in WORDS if k in ALWAYS_SHOWN or counts.get(k)]
    parts = ", ".join(f"{WORDS[k]} {counts.get(k, 0)}" for k in shown)
    return f"{total} {'retry' if total == 1 else 'retries'} ({parts})"


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
    log: RetryLog | None = field(default=None, compare=False)

    def counting(self, log: RetryLog) -> RetryPolicy:
        """The same policy, its retries counted in (and bounded by) `log`."""
        return replace(self, log=log)

    def delay(self, error: BaseException | None, attempt_number: int) -> float:
        """Seconds to sleep after failed attempt `attempt_number` (1-based) raised `error`."""
        return backoff_delay(
            error, attempt_number, initial_wait=self.initial_wait, max_wait=self.max_wait,
            max_retry_after=self.max_retry_after,
        )  # fmt: skip

    def gives_up(self, error: BaseException, failures: int, elapsed: float) -> bool:
        """Whether `failures` failed attempts, the last raising `error`, `elapsed` seconds
        after the first began, end it: what `retrying()` decides, for loops that cannot
        run under tenacity (an async generator cannot yield inside an attempt). A retry it
        allows is counted."""
        if not is_transient(error) or failures >= self.attempts or elapsed >= self.deadline:
            return True
        if self.log is not None:
            if self.log.exhausted():
                return True
            self.log.record(error)
        return False

    def _count(self, state: RetryCallState) -> None:
        if self.log is not None and state.outcome is not None:
            error = state.outcome.exception()
            if error is not None:
                self.log.record(error)

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        return self.delay(error, state.attempt_number)

    def retrying(self) -> AsyncRetrying:
        """A fresh tenacity controller: `async for attempt in policy.retrying(): with attempt:`."""
        return AsyncRetrying(
            retry=retry_if_exception(is_transient),
            wait=self._wait,
            stop=stop_any(
                stop_after_attempt(self.attempts),
                stop_before_delay(self.deadline),
                stop_when_run_exhausted(self.log),
            ),
            before_sleep=self._count,
            reraise=True,
        )


DEFAULT_POLICY = RetryPolicy()
