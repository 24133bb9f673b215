"""One contract for every Store: the local folder, moto's S3 and `rclone serve s3`."""

from __future__ import annotations

import os

import pytest

from catalog.errors import InvalidPathError, ObjectNotFoundError
from catalog.store.base import ByteRange, ObjectInfo, Store
from tests.fixtures.aio import run

MIB = 1024 * 1024
PART = 5 * MIB  # the smallest part S3 takes (all but the last)


async def listed(store: Store, prefix: str = "") -> list[ObjectInfo]:
    return [info async for info in store.list(prefix)]


async def chunks_of(store: Store, key: str, byte_range: ByteRange | None, size: int) -> list[bytes]:
    return [chunk async for chunk in store.stream(key, byte_range, chunk_size=size)]


class TestStoreContract:
    def test_a_put_object_reads_back_whole_and_by_range(self, store: Store) -> None:
        data = bytes(range(256)) * 40
        info = run(store.put("objects/ds/r1/a.bin", data))
        assert (info.key, info.size) == ("objects/ds/r1/a.bin", len(data))
        assert run(store.get("objects/ds/r1/a.bin")) == data
        assert run(store.get("objects/ds/r1/a.bin", ByteRange(100, 1100))) == data[100:1100]
        assert run(store.get("objects/ds/r1/a.bin", ByteRange(5, 5))) == b""

    def test_a_range_past_the_end_reads_only_what_exists(self, store: Store) -> None:
        run(store.put("k", b"0123456789"))
        assert run(store.get("k", ByteRange(6, 50))) == b"6789"
        assert run(store.get("k", ByteRange(20, 30))) == b""

    def test_a_put_replaces_the_object_whole(self, store: Store) -> None:
        run(store.put("k", b"old bytes, longer than the new"))
        run(store.put("k", b"new"))
        assert run(store.get("k")) == b"new"
        assert run(store.stat("k")).size == 3

    def test_an_empty_object_is_an_object(self, store: Store) -> None:
        run(store.put("empty", b""))
        assert run(store.get("empty")) == b""
        assert run(store.stat("empty")).size == 0
        assert run(chunks_of(store, "empty", None, 10)) == []

    def test_a_stream_yields_bounded_chunks_that_join_to_the_bytes(self, store: Store) -> None:
        data = os.urandom(300_000)
        run(store.put("big", data))
        chunks = run(chunks_of(store, "big", None, 64 * 1024))
        assert all(0 < len(chunk) <= 64 * 1024 for chunk in chunks)
        assert b"".join(chunks) == data
        ranged = run(chunks_of(store, "big", ByteRange(1000, 250_000), 7000))
        assert all(0 < len(chunk) <= 7000 for chunk in ranged)
        assert b"".join(ranged) == data[1000:250_000]

    def test_stat_reports_size_and_exists_tells_presence(self, store: Store) -> None:
        run(store.put("dir/file.txt", b"hello"))
        info = run(store.stat("dir/file.txt"))
        assert (info.key, info.size) == ("dir/file.txt", 5)
        assert run(store.exists("dir/file.txt"))
        assert not run(store.exists("dir/other.txt"))
        assert not run(store.exists("dir"))

    def test_a_missing_object_is_object_not_found_and_file_not_found(self, store: Store) -> None:
        for attempt in (store.get("nope"), store.stat("nope"), chunks_of(store, "nope", None, 9)):
            with pytest.raises(ObjectNotFoundError) as caught:
                run(attempt)
            assert isinstance(caught.value, FileNotFoundError)
            assert caught.value.key == "nope"

    def test_delete_removes_and_deleting_a_missing_key_is_fine(self, store: Store) -> None:
        run(store.put("a/b/c", b"x"))
        run(store.delete("a/b/c"))
        assert not run(store.exists("a/b/c"))
        run(store.delete("a/b/c"))
        run(store.delete("never/was"))
        assert run(listed(store)) == []

    def test_list_is_in_key_order_and_filters_by_prefix(self, store: Store) -> None:
        keys = ["b", "a/z", "a/b/c", "a.txt", "ab", "a/b0", "c/d/e/f"]
        for key in keys:
            run(store.put(key, key.encode()))
        everything = run(listed(store))
        assert [info.key for info in everything] == sorted(keys)
        assert {info.key: info.size for info in everything} == {key: len(key) for key in keys}
        assert [info.key for info in run(listed(store, "a/"))] == ["a/b/c", "a/b0", "a/z"]
        assert [info.key for info in run(listed(store, "a/b"))] == ["a/b/c", "a/b0"]
        assert [info.key for info in run(listed(store, "a"))] == sorted(
            k for k in keys if k[0] == "a"
        )
        assert run(listed(store, "zzz")) == []

    def test_malformed_keys_are_refused(self, store: Store) -> None:
        for key in ["", "/abs", "a//b", "a/../../etc/passwd", "../up", "a/./b", "trailing/"]:
            with pytest.raises(InvalidPathError):
                run(store.put(key, b"x"))


class TestStoreUploads:
    def test_parts_written_out_of_order_complete_into_the_object(self, store: Store) -> None:
        first, second, last = os.urandom(PART), os.urandom(PART), os.urandom(1234)

        async def scenario() -> ObjectInfo:
            writer = await store.start_upload("objects/ds/r1/big.bin", PART)
            await writer.write_part(3, last)
            await writer.write_part(1, first)
            await writer.write_part(2, second)
            return await writer.complete()

        info = run(scenario())
        assert info.size == 2 * PART + 1234
        assert run(store.get("objects/ds/r1/big.bin")) == first + second + last

    def test_the_final_key_is_absent_until_complete(self, store: Store) -> None:
        async def scenario() -> tuple[bool, list[ObjectInfo], bool]:
            writer = await store.start_upload("pending", PART)
            await writer.write_part(1, b"only part")
            before = await store.exists("pending"), await listed(store)
            await writer.complete()
            return *before, await store.exists("pending")

        existed, listing, exists_after = run(scenario())
        assert (existed, listing, exists_after) == (False, [], True)
        assert run(store.get("pending")) == b"only part"

    def test_an_upload_resumes_by_id_and_finishes(self, store: Store) -> None:
        first, last = os.urandom(PART), os.urandom(99)

        async def begin() -> str:
            writer = await store.start_upload("resumed", PART)
            await writer.write_part(1, first)
            return writer.upload_id

        upload_id = run(begin())
        landed = run(store.landed_parts("resumed", upload_id))
        assert [(part.number, part.size) for part in landed] == [(1, PART)]

        async def finish() -> ObjectInfo:
            writer = await store.resume_upload("resumed", upload_id, PART)
            assert writer.upload_id == upload_id
            await writer.write_part(2, last)
            return await writer.complete()

        assert run(finish()).size == PART + 99
        assert run(store.get("resumed")) == first + last

    def test_an_aborted_upload_leaves_nothing(self, store: Store) -> None:
        async def scenario() -> str:
            writer = await store.start_upload("aborted", PART)
            await writer.write_part(1, b"doomed")
            await writer.abort()
            return writer.upload_id

        upload_id = run(scenario())
        assert not run(store.exists("aborted"))
        assert run(listed(store)) == []
        with pytest.raises(ObjectNotFoundError):
            run(store.resume_upload("aborted", upload_id, PART))
        with pytest.raises(ObjectNotFoundError):
            run(store.landed_parts("aborted", upload_id))

    def test_an_upload_with_no_parts_completes_as_an_empty_object(self, store: Store) -> None:
        async def scenario() -> ObjectInfo:
            writer = await store.start_upload("nothing", PART)
            return await writer.complete()

        assert run(scenario()).size == 0
        assert run(store.get("nothing")) == b""

    def test_resuming_an_unknown_upload_is_object_not_found(self, store: Store) -> None:
        run(store.start_upload("real", PART))
        with pytest.raises(ObjectNotFoundError):
            run(store.resume_upload("real", "0123456789abcdef0123456789abcdef", PART))

    def test_stale_uploads_under_a_prefix_are_aborted_except_those_kept(self, store: Store) -> None:
        async def scenario() -> tuple[str, str, str]:
            kept = await store.start_upload("objects/ds/r2/kept", PART)
            stale = await store.start_upload("objects/ds/r2/stale", PART)
            other = await store.start_upload("objects/other/r1/x", PART)
            return kept.upload_id, stale.upload_id, other.upload_id

        kept, stale, other = run(scenario())
        assert run(store.abort_stale_uploads("objects/ds/", {kept})) == 1
        assert run(store.landed_parts("objects/ds/r2/kept", kept)) == []
        assert run(store.landed_parts("objects/other/r1/x", other)) == []
        with pytest.raises(ObjectNotFoundError):
            run(store.landed_parts("objects/ds/r2/stale", stale))
