"""The sync's byte budget and the in-order hasher of chunked files."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path
from typing import cast

import pytest
import xxhash

from catalog.store.base import Store
from catalog.store.local import LocalStore
from mirror.budget import ByteBudget
from mirror.digests import FileDigests
from mirror.ordered_hash import OrderedHasher
from mirror.sync import MiB, effective_part_size


async def test_a_budget_never_lends_more_than_its_capacity_and_serves_waiters_in_turn() -> None:
    budget = ByteBudget(100)
    order: list[str] = []
    first = await budget.acquire(70)

    async def want(name: str, amount: int) -> None:
        async with budget.hold(amount):
            order.append(name)
            assert budget.free >= 0

    waiters = [asyncio.create_task(want(n, a)) for n, a in (("big", 60), ("small", 10))]
    await asyncio.sleep(0)
    assert order == []
    assert budget.free == 30
    budget.release(first)
    await asyncio.wait_for(asyncio.gather(*waiters), timeout=5)
    assert budget.free == 100
    assert order == ["big", "small"]


async def test_a_request_larger_than_the_budget_waits_for_all_of_it_then_takes_it_whole() -> None:
    budget = ByteBudget(100)
    held = await budget.acquire(1)
    task = asyncio.create_task(budget.acquire(500))
    await asyncio.sleep(0)
    assert not task.done()
    budget.release(held)
    taken = await asyncio.wait_for(task, timeout=5)
    assert (taken, budget.free) == (100, 0)


async def test_a_cancelled_waiter_gives_its_place_to_the_next() -> None:
    budget = ByteBudget(10)
    held = await budget.acquire(10)
    cancelled = asyncio.create_task(budget.acquire(8))
    later = asyncio.create_task(budget.acquire(5))
    await asyncio.sleep(0)
    cancelled.cancel()
    budget.release(held)
    taken = await asyncio.wait_for(later, timeout=5)
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert taken + budget.free == 10


async def test_parts_submitted_out_of_order_are_hashed_in_file_order() -> None:
    data = os.urandom(5 * 70_000 + 123)
    parts = [data[i : i + 70_000] for i in range(0, len(data), 70_000)]
    digests = FileDigests(("md5",))
    async with OrderedHasher(len(parts), digests) as hasher:
        for index in (3, 1, 5, 0, 4, 2):
            part = parts[index]
            for start in range(0, len(part), 9_000):
                hasher.submit(index, memoryview(part)[start : start + 9_000])
            hasher.part_done(index)
        found = [await hasher.part_digest(i) for i in range(len(parts))]
    assert found == [xxhash.xxh3_128(p).hexdigest() for p in parts]
    assert digests.hexdigest("md5") == hashlib.md5(data).hexdigest()
    assert digests.xxh3_128 == xxhash.xxh3_128(data).hexdigest()


async def test_an_abandoned_hasher_stops_its_thread() -> None:
    hasher = OrderedHasher(2, FileDigests())

    async def failing_part() -> None:
        async with hasher:
            hasher.submit(1, b"x" * 1000)
            raise RuntimeError("a part failed")

    with pytest.raises(RuntimeError, match="a part failed"):
        await failing_part()
    assert hasher.running is False


def test_a_part_never_exceeds_what_the_memory_budget_can_hold(tmp_path: Path) -> None:
    local = LocalStore(tmp_path)
    remote = cast(Store, object())  # any store whose objects are not local files
    assert effective_part_size(local, 64 * MiB, 48 * MiB) == 48 * MiB
    assert effective_part_size(local, 2 * MiB, 48 * MiB) == 2 * MiB
    assert effective_part_size(remote, 64 * MiB, 48 * MiB) == 24 * MiB
    assert effective_part_size(remote, 2 * MiB, 48 * MiB) == 5 * MiB
