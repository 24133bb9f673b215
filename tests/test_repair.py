"""Which reads of a part win when a chunked file's published digest disagreed
(`mirror.repair`), against a real local store upload."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from catalog.store import open_store
from catalog.store.base import ByteRange, Store, SupportsWriteAt
from mirror.digests import FileDigests, xxh3_128_of
from mirror.plan import part_ranges
from mirror.repair import repair_parts

PART = 64 * 1024
FILE = os.urandom(3 * PART + 100)
PARTS = list(enumerate(part_ranges(len(FILE), PART), start=1))


def flipped(data: bytes) -> bytes:
    return bytes([data[0] ^ 1]) + data[1:]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = open_store((tmp_path / "store").as_uri())
    yield opened
    await opened.close()


async def repair(
    store: Store, stored: dict[int, bytes], reads: dict[int, list[bytes]]
) -> tuple[FileDigests | None, bytes]:
    """Upload the file with the `stored` parts in place of its own, repair it with the
    reads given per part (then the right bytes), complete it."""
    writer = await store.start_upload("f.bin", PART)
    assert isinstance(writer, SupportsWriteAt)
    for number, span in PARTS:
        await writer.write_at(span.start, stored.get(number, FILE[span.start : span.end]))
    recorded = {n: xxh3_128_of([stored.get(n, FILE[s.start : s.end])]) for n, s in PARTS}
    by_start = {span.start: number for number, span in PARTS}

    async def read(span: ByteRange) -> bytes:
        queue = reads.get(by_start[span.start])
        return queue.pop(0) if queue else FILE[span.start : span.end]

    digests = await repair_parts(read, writer, PARTS, recorded, ("md5",))
    await writer.complete()
    return digests, await store.get("f.bin")


async def test_a_part_stored_wrong_whose_two_new_reads_agree_is_written_again(
    store: Store,
) -> None:
    span = PARTS[1][1]
    digests, stored = await repair(store, {2: flipped(FILE[span.start : span.end])}, {})
    assert stored == FILE
    assert digests is not None
    assert digests.hexdigest("md5") == hashlib.md5(FILE).hexdigest()


async def test_a_wrong_second_read_loses_to_the_first_and_third_that_agree(store: Store) -> None:
    span = PARTS[0][1]
    digests, stored = await repair(store, {}, {1: [flipped(FILE[span.start : span.end])]})
    assert stored == FILE
    assert digests is not None
    assert digests.hexdigest("md5") == hashlib.md5(FILE).hexdigest()


async def test_a_part_whose_three_reads_all_differ_is_not_decided(store: Store) -> None:
    part = FILE[PARTS[2][1].start : PARTS[2][1].end]
    other = part[:-1] + bytes([part[-1] ^ 2])
    digests, _ = await repair(store, {3: flipped(part)}, {3: [other, part[:5] + b"x" + part[6:]]})
    assert digests is None
