"""Connection slots: a host's cap holds across holders (processes, machines); a holder
that died or stopped renewing gives its slots back."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from catalog.models import ConnectionSlot
from catalog.repository import Catalog

HOST = "https://ftp.example.org:"


async def test_holders_share_a_hosts_cap_and_get_back_what_is_released(catalog: Catalog) -> None:
    slots = catalog.slots
    assert await slots.take(HOST, 4, 3, "a:1:x") == 3
    assert await slots.take(HOST, 4, 3, "b:1:y") == 1
    assert await slots.take(HOST, 4, 3, "c:1:z") == 0
    assert await slots.in_use(HOST) == 4
    await slots.release(HOST, "a:1:x")
    assert await slots.take(HOST, 4, 3, "c:1:z") == 3
    assert await slots.take("https://other.example.org:", 4, 4, "c:1:z") == 4


async def test_a_raised_cap_adds_slots_and_a_lowered_one_takes_no_more(catalog: Catalog) -> None:
    slots = catalog.slots
    assert await slots.take(HOST, 2, 5, "a:1:x") == 2
    assert await slots.take(HOST, 5, 5, "b:1:y") == 3
    await slots.release(HOST, "a:1:x")
    await slots.release(HOST, "b:1:y")
    assert await slots.take(HOST, 1, 5, "c:1:z") == 1


async def test_slots_of_a_dead_or_silent_holder_are_taken_over(catalog: Catalog) -> None:
    slots = catalog.slots
    dead = f"{socket.gethostname()}:999999999:gone"  # no such process on this host
    assert await slots.take(HOST, 2, 1, dead) == 1
    assert await slots.take(HOST, 2, 1, "elsewhere:1:silent") == 1
    assert await slots.take(HOST, 2, 2, "me:1:a") == 1  # the dead holder's
    past = datetime.now(UTC) - timedelta(seconds=1)
    query = update(ConnectionSlot).where(ConnectionSlot.holder == "elsewhere:1:silent")
    await catalog.db.run(lambda session: session.execute(query.values(expires_at=past)))
    assert await slots.take(HOST, 2, 2, "me:1:b") == 1  # the silent holder's, lapsed


async def test_hold_waits_for_a_slot_and_gives_its_own_back(catalog: Catalog) -> None:
    slots = catalog.slots
    assert await slots.take(HOST, 1, 1, "other:1:x") == 1

    async def held() -> int:
        async with slots.hold(HOST, 1, 4, poll=0.01) as got:
            assert await slots.in_use(HOST) == 1
            return got

    waiting = asyncio.create_task(held())
    await asyncio.sleep(0.1)
    assert not waiting.done()
    await slots.release(HOST, "other:1:x")
    assert await asyncio.wait_for(waiting, 10) == 1
    assert await slots.in_use(HOST) == 0
