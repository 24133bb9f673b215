"""One contract for every Store: the local folder, moto's S3 and `rclone serve s3`."""

from __future__ import annotations

import os

import pytest

from catalog.errors import InvalidPathError, ObjectNotFoundError
from catalog.store.base import ByteRange, ObjectInfo, Store

MIB = 1024 * 1024
PART = 5 * MIB  # the smallest part S3 takes (all but the last)


async def listed(store: Store, prefix: str = "") -> list[ObjectInfo]:
    return [info async for info in store.list(prefix)]


async def chunks_of(store: Store, key: str, byte_range: ByteRange | None, size: int) -> list[bytes]:
    return [chunk async for chunk in store.stream(key, byte_range, chunk_size=size)]


class TestStoreContract:
    async def test_a_put_object_reads_back_whole_and_by_range(self, store: Store) -> None:
        data = bytes(range(256)) * 40
        info = await store.put("objects/ds/r1/a.bin", data)
        assert (info.key, info.size) == ("objects/ds/r1/a.bin", len(data))
        assert await store.get("objects/ds/r1/a.bin") == data
        assert await store.get("objects/ds/r1/a.bin", ByteRange(100, 1100)) == data[100:1100]
        assert await store.get("objects/ds/r1/a.bin", ByteRange(5, 5)) == b""

    async def test_a_range_past_the_end_reads_only_what_exists(self, store: Store) -> None:
        await store.put("k", b"0123456789")
        assert await store.get("k", ByteRange(6, 50)) == b"6789"
        assert await store.get("k", ByteRange(20, 30)) == b""

    async def test_a_put_replaces_the_object_whole(self, store: Store) -> None:
        await store.put("k", b"old bytes, longer than the new")
        await store.put("k", b"new")
        assert await store.get("k") == b"new"
        assert (await store.stat("k")).size == 3

    async def test_an_empty_object_is_an_object(self, store: Store) -> None:
        await store.put("empty", b"")
        assert await store.get("empty") == b""
        assert (await store.stat("empty")).size == 0
        assert await chunks_of(store, "empty", None, 10) == []

    async def test_a_stream_yields_bounded_chunks_that_join_to_the_bytes(
        self, store: Store
    ) -> None:
        data = os.urandom(300_000)
        await store.put("big", data)
        chunks = await chunks_of(store, "big", None, 64 * 1024)
        assert all(0 < len(chunk) <= 64 * 1024 for chunk in chunks)
        assert b"".join(chunks) == data
        ranged = await chunks_of(store, "big", ByteRange(1000, 250_000), 7000)
        assert all(0 < len(chunk) <= 7000 for chunk in ranged)
        assert b"".join(ranged) == data[1000:250_000]

    async def test_stat_reports_size_and_exists_tells_presence(self, store: Store) -> None:
        await store.put("dir/file.txt", b"hello")
        info = await store.stat("dir/file.txt")
        assert (info.key, info.size) == ("dir/file.txt", 5)
        assert await store.exists("dir/file.txt")
        assert not await store.exists("dir/other.txt")
        assert not await store.exists("dir")

    async def test_a_missing_object_is_object_not_found_and_file_not_found(
        self, store: Store
    ) -> None:
        for attempt in (store.get("nope"), store.stat("nope"), chunks_of(store, "nope", None, 9)):
            with pytest.raises(ObjectNotFoundError) as caught:
                await attempt
            assert isinstance(caught.value, FileNotFoundError)
            assert caught.value.key == "nope"

    async def test_delete_removes_and_deleting_a_missing_key_is_fine(self, store: Store) -> None:
        await store.put("a/b/c", b"x")
        await store.delete("a/b/c")
        assert not await store.exists("a/b/c")
        await store.delete("a/b/c")
        await store.delete("never/was")
        assert await listed(store) == []

    async def test_list_is_in_key_order_and_filters_by_prefix(self, store: Store) -> None:
        keys = ["b", "a/z", "a/b/c", "a.txt", "ab", "a/b0", "c/d/e/f"]
        for key in keys:
            await store.put(key, key.encode())
        everything = await listed(store)
        assert [info.key for info in everything] == sorted(keys)
        assert {info.key: info.size for info in everything} == {key: len(key) for key in keys}
        assert [info.key for info in await listed(store, "a/")] == ["a/b/c", "a/b0", "a/z"]
        assert [info.key for info in await listed(store, "a/b")] == ["a/b/c", "a/b0"]
        assert [info.key for info in await listed(store, "a")] == sorted(
            k for k in keys if k[0] == "a"
        )
        assert await listed(store, "zzz") == []

    async def test_malformed_keys_are_refused(self, store: Store) -> None:
        for key in ["", "/abs", "a//b", "a/../../etc/passwd", "../up", "a/./b", "trailing/"]:
            with pytest.raises(InvalidPathError):
                await store.put(key, b"x")


class TestStoreUploads:
    async def test_parts_written_out_of_order_complete_into_the_object(self, store: Store) -> None:
        first, second, last = os.urandom(PART), os.urandom(PART), os.urandom(1234)
        writer = await store.start_upload("objects/ds/r1/big.bin", PART)
        await writer.write_part(3, last)
        await writer.write_part(1, first)
        await writer.write_part(2, second)
        info = await writer.complete()
        assert info.size == 2 * PART + 1234
        assert await store.get("objects/ds/r1/big.bin") == first + second + last

    async def test_the_final_key_is_absent_until_complete(self, store: Store) -> None:
        writer = await store.start_upload("pending", PART)
        await writer.write_part(1, b"only part")
        existed, listing = await store.exists("pending"), await listed(store)
        await writer.complete()
        exists_after = await store.exists("pending")
        assert (existed, listing, exists_after) == (False, [], True)
        assert await store.get("pending") == b"only part"

    async def test_an_upload_resumes_by_id_and_finishes(self, store: Store) -> None:
        first, last = os.urandom(PART), os.urandom(99)
        writer = await store.start_upload("resumed", PART)
        await writer.write_part(1, first)
        upload_id = writer.upload_id
        landed = await store.landed_parts("resumed", upload_id)
        assert [(part.number, part.size) for part in landed] == [(1, PART)]

        resumed = await store.resume_upload("resumed", upload_id, PART)
        assert resumed.upload_id == upload_id
        await resumed.write_part(2, last)
        assert (await resumed.complete()).size == PART + 99
        assert await store.get("resumed") == first + last

    async def test_an_aborted_upload_leaves_nothing(self, store: Store) -> None:
        writer = await store.start_upload("aborted", PART)
        await writer.write_part(1, b"doomed")
        await writer.abort()
        upload_id = writer.upload_id
        assert not await store.exists("aborted")
        assert await listed(store) == []
        with pytest.raises(ObjectNotFoundError):
            await store.resume_upload("aborted", upload_id, PART)
        with pytest.raises(ObjectNotFoundError):
            await store.landed_parts("aborted", upload_id)

    async def test_an_upload_with_no_parts_completes_as_an_empty_object(self, store: Store) -> None:
        writer = await store.start_upload("nothing", PART)
        assert (await writer.complete()).size == 0
        assert await store.get("nothing") == b""

    async def test_resuming_an_unknown_upload_is_object_not_found(self, store: Store) -> None:
        await store.start_upload("real", PART)
        with pytest.raises(ObjectNotFoundError):
            await store.resume_upload("real", "0123456789abcdef0123456789abcdef", PART)

    async def test_stale_uploads_under_a_prefix_are_aborted_except_those_kept(
        self, store: Store
    ) -> None:
        kept = (await store.start_upload("objects/ds/r2/kept", PART)).upload_id
        stale = (await store.start_upload("objects/ds/r2/stale", PART)).upload_id
        other = (await store.start_upload("objects/other/r1/x", PART)).upload_id
        assert await store.abort_stale_uploads("objects/ds/", {kept}) == 1
        assert await store.landed_parts("objects/ds/r2/kept", kept) == []
        assert await store.landed_parts("objects/other/r1/x", other) == []
        with pytest.raises(ObjectNotFoundError):
            await store.landed_parts("objects/ds/r2/stale", stale)
