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


async def test_a_batch_goes_as_soon_as_its_records_stand_for_max_bytes() -> None:
    written: list[list[int]] = []
    batched = Batched[int](recorder(written), interval=60, size=lambda n: n, max_bytes=100)
    await batched.add(60)
    assert written == []
    await batched.add(50)
    assert written == [[60, 50]]
    await batched.add(30)
    assert written == [[60, 50]]


async def test_without_a_size_records_are_bounded_by_time_only() -> None:
    written: list[list[int]] = []
    batched = Batched[int](recorder(written), interval=60, max_bytes=1)
    for n in range(10):
        await batched.add(n)
    assert written == []
    await batched.flush()
    assert written == [list(range(10))]


async def test_batches_are_written_one_at_a_time() -> None:
    active, most = 0, 0
    written: list[int] = []

    async def write(batch: Sequence[int]) -> None:
        nonlocal active, most
        active += 1
        most = max(most, active)
        await asyncio.sleep(0.01)
        written.extend(batch)
        active -= 1

    batched = Batched[int](write, interval=0.001, size=lambda n: n, max_bytes=3)
    await asyncio.gather(*(batched.add(n % 5) for n in range(200)))
    await batched.flush()
    assert most == 1
    assert sorted(written) == sorted(n % 5 for n in range(200))


async def test_a_batch_filled_by_a_cancelled_caller_is_still_committed() -> None:
    written: list[int] = []
    release = asyncio.Event()

    async def slow_write(batch: Sequence[int]) -> None:
        await release.wait()
        written.extend(batch)

    batched = Batched[int](slow_write, interval=60, size=lambda n: n, max_bytes=10)
    adding = asyncio.create_task(batched.add(10))
    await asyncio.sleep(0.05)
    adding.cancel()
    with pytest.raises(asyncio.CancelledError):
        await adding
    release.set()
    await batched.flush()
    assert written == [10]
