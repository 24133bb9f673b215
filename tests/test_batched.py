"""Catalog records go in batches, each at most one interval after its first record."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence

import pytest

from mirror.batched import Batched


def recorder(written: list[list[int]]) -> Callable[[Sequence[int]], Awaitable[None]]:
    async def write(batch: Sequence[int]) -> None:
        written.append(list(batch))

    return write


async def test_a_lone_record_is_written_one_interval_later_without_more_records() -> None:
    written: list[list[int]] = []
    batched = Batched[int](recorder(written), interval=0.05)
    await batched.add(1)
    before = list(written)
    await asyncio.sleep(0.3)
    assert before == []
    assert written == [[1]]


async def test_records_that_arrive_together_go_in_one_batch() -> None:
    written: list[list[int]] = []
    batched = Batched[int](recorder(written), interval=10)
    for n in range(100):
        await batched.add(n)
    await batched.flush()
    assert written == [list(range(100))]


async def test_flush_waits_for_a_batch_being_written_in_the_background() -> None:
    written: list[int] = []
    release = threading.Event()

    async def slow_write(batch: Sequence[int]) -> None:
        await asyncio.to_thread(release.wait, 5)
        written.extend(batch)

    batched = Batched[int](slow_write, interval=0.01)
    await batched.add(1)
    await asyncio.sleep(0.1)  # the background write has started and blocks
    await batched.add(2)
    asyncio.get_running_loop().call_later(0.1, release.set)
    await batched.flush()
    assert sorted(written) == [1, 2]


async def test_a_failed_background_write_is_raised_by_the_next_flush() -> None:
    async def failing(batch: Sequence[int]) -> None:
        raise OSError("database is locked")

    batched = Batched[int](failing, interval=0.01)
    await batched.add(1)
    await asyncio.sleep(0.2)
    with pytest.raises(OSError, match="database is locked"):
        await batched.flush()
