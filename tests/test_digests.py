"""Streaming digests, and the shared bandwidth budget."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time

import pytest
import xxhash

from catalog.errors import ChecksumMismatchError
from mirror.bandwidth import TokenBucket
from mirror.bsd_sum import bsd_sum
from mirror.checksum_files import Digest
from mirror.digests import FileDigests, xxh3_128_of


async def test_digests_fed_in_chunks_equal_the_digests_of_the_whole() -> None:
    data = os.urandom(300_000)
    digests = FileDigests(("md5", "sha256"))
    await digests.update_async([data[:100], data[100:200_000]])
    digests.update(memoryview(data)[200_000:])
    assert digests.xxh3_128 == xxhash.xxh3_128(data).hexdigest()
    assert digests.hexdigest("md5") == hashlib.md5(data).hexdigest()
    assert digests.hexdigest("sha256") == hashlib.sha256(data).hexdigest()
    assert xxh3_128_of([data[:7], data[7:]]) == digests.xxh3_128


def test_a_mismatch_names_the_path_the_expected_and_the_actual_digest() -> None:
    digests = FileDigests(("md5",))
    digests.update(b"hello")
    digests.check("a.txt", Digest("md5", hashlib.md5(b"hello").hexdigest()))
    with pytest.raises(ChecksumMismatchError) as caught:
        digests.check("a.txt", Digest("md5", "0" * 32))
    error = caught.value
    assert (error.path, error.expected, error.actual) == (
        "a.txt",
        "0" * 32,
        hashlib.md5(b"hello").hexdigest(),
    )
    assert error.actual in str(error)


async def test_an_ensembl_bsd_sum_is_checked_like_any_published_digest() -> None:
    data = os.urandom(200_000)
    digests = FileDigests(("sum",))
    await digests.update_async([data[:1000], data[1000:]])
    digests.finish()
    digests.check("x.fa.gz", Digest("sum", bsd_sum(data)))
    with pytest.raises(ChecksumMismatchError, match=r"x\.fa\.gz"):
        digests.check("x.fa.gz", Digest("sum", "00001 196"))


def test_md5_is_computed_only_when_a_published_digest_needs_it() -> None:
    digests = FileDigests()
    digests.update(b"x")
    assert digests.hexdigest("md5") is None


async def test_the_token_bucket_holds_many_takers_to_the_shared_rate() -> None:
    bucket = TokenBucket(rate=1_000_000, burst=100_000)
    started = time.monotonic()
    await asyncio.gather(*(bucket.take(50_000) for _ in range(10)))
    # 500 kB at 1 MB/s after a 100 kB burst takes about 0.4 s, however many takers
    assert 0.3 < time.monotonic() - started < 2.0
