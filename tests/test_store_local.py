"""What only the local store does: plain files for sendfile, a root that keys cannot leave,
parts streamed in at any offset, uploads that outlive the process that started them."""

from __future__ import annotations

import asyncio
import errno
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from catalog.errors import InvalidPathError, StoreError, StoreFullError
from catalog.store import SupportsLocalPath, SupportsPresign, SupportsWriteAt, open_store
from catalog.store.local import LocalStore
from catalog.store.os_errors import store_write_error
from tests.test_store_contract import listed


@pytest.fixture
async def local(tmp_path: Path) -> AsyncIterator[LocalStore]:
    store = LocalStore(tmp_path / "root")
    yield store
    await store.close()


def test_a_file_url_opens_a_local_store_and_creates_its_folder(tmp_path: Path) -> None:
    root = tmp_path / "made" / "here"
    store = open_store(root.as_uri())
    assert isinstance(store, LocalStore)
    assert root.is_dir()
    assert store.url == root.as_uri()


async def test_objects_are_plain_files_for_sendfile(local: LocalStore) -> None:
    assert isinstance(local, SupportsLocalPath)
    assert not isinstance(local, SupportsPresign)
    await local.put("objects/ds/r1/reads.fastq.gz", b"@r1\nACGT\n+\n!!!!\n")
    path = local.local_path("objects/ds/r1/reads.fastq.gz")
    assert path == local.root / "objects" / "ds" / "r1" / "reads.fastq.gz"
    assert path.read_bytes() == b"@r1\nACGT\n+\n!!!!\n"


@pytest.mark.parametrize(
    "key", ["../outside", "a/../../outside", "/etc/passwd", ".tmp/x", ".uploads/x", "a\x00b"]
)
async def test_a_key_that_leaves_the_root_or_names_an_internal_folder_is_refused(
    local: LocalStore, key: str
) -> None:
    with pytest.raises(InvalidPathError):
        local.local_path(key)
    with pytest.raises(InvalidPathError):
        await local.put(key, b"x")
    assert not (local.root.parent / "outside").exists()


async def test_a_put_leaves_no_temporary_file_behind(local: LocalStore) -> None:
    await local.put("a/b", b"bytes")
    assert [p for p in (local.root / ".tmp").rglob("*") if p.is_file()] == []


async def test_temporary_files_a_killed_put_left_are_removed_once_stale(local: LocalStore) -> None:
    shard = local.root / ".tmp" / "ab"
    shard.mkdir()
    (shard / "ab01").write_bytes(b"half of an object")
    (shard / "ab02").write_bytes(b"a put in progress")
    hours_ago = time.time() - 2 * 3600
    os.utime(shard / "ab01", (hours_ago, hours_ago))
    await local.abort_stale_uploads("objects/", set())
    assert [p.name for p in shard.iterdir()] == ["ab02"]


async def test_internal_folders_are_never_listed(local: LocalStore) -> None:
    await local.put("visible", b"v")
    await local.start_upload("pending", 1024)
    assert [info.key for info in await listed(local)] == ["visible"]


async def test_a_part_streams_in_at_offsets_without_being_whole(local: LocalStore) -> None:
    part_size = 1000
    data = os.urandom(2500)
    writer = await local.start_upload("streamed", part_size)
    assert isinstance(writer, SupportsWriteAt)
    for offset in range(part_size, 2500, 300):
        await writer.write_at(offset, data[offset : min(offset + 300, 2500)])
    await writer.write_part(1, data[:part_size])
    assert (await writer.complete()).size == 2500
    assert await local.get("streamed") == data


async def test_an_upload_outlives_the_store_object_that_started_it(tmp_path: Path) -> None:
    root = tmp_path / "root"
    first, second = os.urandom(4096), os.urandom(100)
    starter = LocalStore(root)
    writer = await starter.start_upload("objects/ds/r1/x", 4096)
    await writer.write_part(1, first)
    await starter.close()

    successor = LocalStore(root)
    try:
        landed = await successor.landed_parts("objects/ds/r1/x", writer.upload_id)
        assert [(part.number, part.size) for part in landed] == [(1, 4096)]
        resumed = await successor.resume_upload("objects/ds/r1/x", writer.upload_id, 4096)
        await resumed.write_part(2, second)
        await resumed.complete()
        assert await successor.get("objects/ds/r1/x") == first + second
    finally:
        await successor.close()
    assert list((root / ".uploads").iterdir()) == []


async def test_an_upload_id_cannot_name_a_path(local: LocalStore) -> None:
    with pytest.raises(InvalidPathError):
        await local.resume_upload("k", "../../etc", 1024)


async def test_deleting_prunes_empty_folders_but_not_the_root(local: LocalStore) -> None:
    await local.put("a/b/c/d", b"x")
    await local.put("a/keep", b"y")
    await local.delete("a/b/c/d")
    assert not (local.root / "a" / "b").exists()
    assert (local.root / "a" / "keep").is_file()
    await local.delete("a/keep")
    assert local.root.is_dir()
    assert sorted(p.name for p in local.root.iterdir()) == [".tmp", ".uploads"]


async def test_concurrent_puts_and_deletes_in_one_folder_never_fail(local: LocalStore) -> None:
    placed = 0
    for number in range(150):
        folder = f"race/{number % 5}"
        results = await asyncio.gather(
            local.put(f"{folder}/kept-{number}", b"x"),
            local.delete(f"{folder}/gone-{number}"),
            local.delete(f"{folder}/kept-{number - 5}"),
        )
        placed += results[0].size
    assert placed == 150
    remaining = [info.key for info in await listed(local, "race/")]
    assert remaining == sorted(f"race/{n % 5}/kept-{n}" for n in range(145, 150))


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
async def test_a_write_into_a_full_disk_is_a_no_space_error_naming_the_store(
    local: LocalStore,
) -> None:
    writer = await local.start_upload("objects/ds/r1/big.fa", 4)
    data = writer.folder / "data"
    data.unlink()
    data.symlink_to("/dev/full")  # every write there fails with ENOSPC
    with pytest.raises(StoreFullError) as raised:
        await writer.write_part(1, b"ACGT")
    assert str(local.root) in str(raised.value)
    assert "no space left" in str(raised.value)
    assert not raised.value.is_transient()
    assert raised.value.hint.startswith("free space")


@pytest.mark.parametrize(
    ("code", "kind", "transient"),
    [
        (errno.ENOSPC, StoreFullError, False),
        (errno.EDQUOT, StoreFullError, False),
        (errno.EAGAIN, StoreError, True),
        (errno.ESTALE, StoreError, True),
        (errno.EROFS, StoreError, False),
        (errno.EACCES, StoreError, False),
    ],
)
def test_failed_writes_say_whether_to_try_again(
    tmp_path: Path, code: int, kind: type[StoreError], transient: bool
) -> None:
    error = store_write_error(tmp_path, "objects/a", OSError(code, os.strerror(code)))
    assert type(error) is kind
    assert error.is_transient() is transient
    assert "objects/a" in str(error)
    assert os.strerror(code) in str(error)
