"""What only the S3 source does, against real S3 servers (moto and `rclone serve s3`):
folder markers and sibling prefixes, ETags as MD5s, versions by ETag or by size, AWS's
access-denied answer. What every source does is tests/test_source_contract.py."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import closing
from typing import Any

import pytest
from aiohttp import web

from catalog.errors import SourceChangedError, SourceError
from catalog.store.base import ByteRange
from catalog.store.s3_client import md5_of_etag
from mirror.sample_data import sample_files
from mirror.sources.base import SourceEntry
from mirror.sources.s3 import S3Source
from tests.fixtures.misbehaving import misbehaving
from tests.fixtures.s3_servers import S3Endpoint

pytestmark = pytest.mark.s3
PREFIX = "pub/data/"
FILES = {
    **sample_files(0),
    "odd dir/ünïcode & spaces.txt": b"x" * 12_345,
    "a/b/c/deep #1%.txt": b"deep\n",
    "a/empty.bin": b"",
    "zarr/0.0+1~a=b;c,d(e)!'*.txt": b"characters that URL encoders disagree on\n",
}
FA = "genomes/escherichia_coli/K-12_MG1655.fa"


@pytest.fixture
def aws_env(s3_endpoint: S3Endpoint, monkeypatch: pytest.MonkeyPatch) -> S3Endpoint:
    for name, value in s3_endpoint.env().items():
        monkeypatch.setenv(name, value)
    return s3_endpoint


@pytest.fixture(scope="module")
def bucket_cache() -> dict[str, str]:
    return {}


@pytest.fixture
def bucket(aws_env: S3Endpoint, bucket_cache: dict[str, str]) -> str:
    """A bucket holding FILES under PREFIX, a folder marker, and a sibling prefix."""
    if aws_env.name not in bucket_cache:
        name = aws_env.new_bucket()
        with closing(aws_env.client()) as client:
            for path, data in FILES.items():
                client.put_object(Bucket=name, Key=PREFIX + path, Body=data)
            if aws_env.name == "moto":  # rclone stores folders as folders, listed as files
                client.put_object(Bucket=name, Key=PREFIX + "empty folder/", Body=b"")
            client.put_object(Bucket=name, Key="pub/database/other.txt", Body=b"not mine")
        bucket_cache[aws_env.name] = name
    return bucket_cache[aws_env.name]


@pytest.fixture
async def source(aws_env: S3Endpoint, bucket: str) -> AsyncIterator[S3Source]:
    made = S3Source(f"s3://{bucket}/{PREFIX}", endpoint_url=aws_env.endpoint_url)
    yield made
    await made.close()


async def listing(source: S3Source) -> list[SourceEntry]:
    return [entry async for entry in source.list()]


async def read(
    source: S3Source, path: str, byte_range: ByteRange | None = None, **kw: Any
) -> bytes:
    return b"".join([chunk async for chunk in source.read(path, byte_range, **kw)])


async def test_the_listing_skips_folder_markers_and_sibling_prefixes(source: S3Source) -> None:
    entries = await listing(source)
    assert {e.path: e.size for e in entries} == {p: len(d) for p, d in FILES.items()}
    assert all(e.mtime is not None and e.etag for e in entries)


async def test_single_part_etags_are_the_md5_of_the_bytes(source: S3Source) -> None:
    for entry in await listing(source):
        assert md5_of_etag(entry.etag) == hashlib.md5(FILES[entry.path]).hexdigest()


async def test_stat_gives_size_and_etag(source: S3Source) -> None:
    entry = await source.stat(FA)
    assert entry.size == len(FILES[FA])
    assert md5_of_etag(entry.etag) == hashlib.md5(FILES[FA]).hexdigest()


async def test_an_object_replaced_since_the_listing_raises_source_changed(
    aws_env: S3Endpoint,
) -> None:
    bucket = aws_env.new_bucket()
    client = aws_env.client()
    client.put_object(Bucket=bucket, Key="d/f.txt", Body=b"first version")
    source = S3Source(f"s3://{bucket}/d", endpoint_url=aws_env.endpoint_url)
    try:
        [entry] = await listing(source)
        client.put_object(Bucket=bucket, Key="d/f.txt", Body=b"second version!")
        with pytest.raises(SourceChangedError):
            await read(source, "f.txt", ByteRange(0, 5), version=entry.version)
        by_size = SourceEntry("f.txt", 13, entry.mtime)
        with pytest.raises(SourceChangedError, match="13"):
            await read(source, "f.txt", ByteRange(0, 5), version=by_size.version)
    finally:
        client.close()
        await source.close()


ACCESS_DENIED = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    "<Message>Access Denied</Message><RequestId>R</RequestId><HostId>H</HostId></Error>"
)


@pytest.mark.parametrize("operation", ["list", "read"])
async def test_access_denied_is_a_permanent_error_with_a_hint(operation: str) -> None:
    """As AWS answers an unsigned request for a private bucket (moto and rclone do not):
    listings come through boto3, object bytes through aiohttp; both say the same."""

    async def deny(request: web.Request) -> web.Response:
        return web.Response(status=403, text=ACCESS_DENIED, content_type="application/xml")

    async with misbehaving(deny) as url:
        source = S3Source("s3://private/x/", endpoint_url=url, no_sign_request=True)
        try:
            with pytest.raises(SourceError, match="AccessDenied") as caught:
                await (listing(source) if operation == "list" else read(source, "a.txt"))
        finally:
            await source.close()
    assert not caught.value.is_transient()
    assert "--no-sign-request" in caught.value.hint
