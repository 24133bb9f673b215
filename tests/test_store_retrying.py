"""The store's write retry runs every attempt it is given: a plain function returning an
awaitable (a lambda over `asyncio.to_thread`, as the stores pass) is awaited, not handed
back unrun; transient store errors are tried again."""

from __future__ import annotations

import asyncio

import pytest

from catalog.errors import StoreError, StoreFullError
from catalog.store.retrying import StoreRetry

FAST = StoreRetry(attempts=3, initial_wait=0.001, max_wait=0.01)


async def test_an_attempt_given_as_a_lambda_over_to_thread_is_run_and_its_result_returned() -> None:
    done: list[str] = []

    def write() -> str:
        done.append("written")
        return "info"

    assert await FAST.call(lambda: asyncio.to_thread(write)) == "info"
    assert done == ["written"]


async def test_a_transient_store_error_from_a_lambda_attempt_is_tried_again() -> None:
    tries: list[int] = []

    async def flaky() -> int:
        tries.append(1)
        if len(tries) < 3:
            raise StoreError("HTTP 503 SlowDown", transient=True)
        return len(tries)

    assert await FAST.call(lambda: flaky()) == 3  # noqa: PLW0108 (a lambda, as the stores pass)


async def test_a_full_store_is_raised_at_once_from_a_lambda_attempt() -> None:
    tries: list[int] = []

    async def full() -> None:
        tries.append(1)
        raise StoreFullError("/data", "No space left on device")

    with pytest.raises(StoreFullError):
        await FAST.call(lambda: full())  # noqa: PLW0108
    assert tries == [1]


async def test_a_store_error_that_stays_transient_is_tried_exactly_the_attempts_given() -> None:
    tries: list[int] = []

    async def down() -> None:
        tries.append(1)
        raise StoreError("HTTP 500 InternalError", transient=True)

    with pytest.raises(StoreError, match="InternalError"):
        await FAST.call(lambda: down())  # noqa: PLW0108
    assert len(tries) == FAST.attempts
