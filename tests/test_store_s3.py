"""What only the S3 store does: prefixes, presigned URLs, the endpoint and credentials from the
environment, and botocore errors translated into datamirror errors."""

from __future__ import annotations

import hashlib
import os
import urllib.request
from collections.abc import AsyncIterator, Callable
from contextlib import closing
from pathlib import Path
from typing import TypeVar

import pytest

from catalog.config import Settings
from catalog.errors import AccessDeniedError, ObjectNotFoundError, StoreError
from catalog.store import SupportsLocalPath, SupportsPresign, SupportsWriteAt, open_store
from catalog.store.base import Store
from catalog.store.s3 import S3Store
from catalog.store.s3_client import make_client
from tests.fixtures.net import free_port
from tests.fixtures.s3_servers import S3Endpoint
from tests.test_store_contract import listed

StoreT = TypeVar("StoreT", bound=Store)
Keep = Callable[[StoreT], StoreT]


@pytest.fixture
def aws_env(s3_endpoint: S3Endpoint, monkeypatch: pytest.MonkeyPatch) -> S3Endpoint:
    """The endpoint, with its credentials and URL in this process's environment."""
    for name, value in s3_endpoint.env().items():
        monkeypatch.setenv(name, value)
    return s3_endpoint


@pytest.fixture
async def kept() -> AsyncIterator[Keep]:
    """`kept(store)` is the store, closed when the test ends."""
    stores: list[Store] = []

    def keep(store: StoreT) -> StoreT:
        stores.append(store)
        return store

    yield keep
    for store in stores:
        await store.close()


def from_env(url: str) -> Store:
    """A store as the CLI opens it: endpoint and region from the environment's settings."""
    settings = Settings.from_env()
    return open_store(url, s3_endpoint=settings.s3_endpoint, region=settings.aws_region)


def stored_keys(endpoint: S3Endpoint, bucket: str) -> list[str]:
    with closing(endpoint.client()) as client:
        listing = client.list_objects_v2(Bucket=bucket)
    return [item["Key"] for item in listing.get("Contents", [])]


async def test_keys_live_under_the_url_prefix(aws_env: S3Endpoint, kept: Keep) -> None:
    bucket = aws_env.new_bucket()
    store = kept(from_env(f"s3://{bucket}/some/prefix/"))
    await store.put("objects/ds/r1/a.txt", b"a")
    with closing(aws_env.client()) as client:
        client.put_object(Bucket=bucket, Key="outside.txt", Body=b"not ours")
    assert store.url == f"s3://{bucket}/some/prefix/"
    assert stored_keys(aws_env, bucket) == ["outside.txt", "some/prefix/objects/ds/r1/a.txt"]
    assert [info.key for info in await listed(store)] == ["objects/ds/r1/a.txt"]


async def test_a_store_without_a_prefix_uses_the_whole_bucket(
    aws_env: S3Endpoint, kept: Keep
) -> None:
    bucket = aws_env.new_bucket()
    store = kept(from_env(f"s3://{bucket}"))
    await store.put("k", b"v")
    assert stored_keys(aws_env, bucket) == ["k"]


async def test_the_endpoint_argument_wins_over_the_environment(
    aws_env: S3Endpoint, monkeypatch: pytest.MonkeyPatch, kept: Keep
) -> None:
    monkeypatch.setenv("DATAMIRROR_S3_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    bucket = aws_env.new_bucket()
    store = kept(open_store(f"s3://{bucket}/p", s3_endpoint=aws_env.endpoint_url))
    await store.put("k", b"v")
    assert stored_keys(aws_env, bucket) == ["p/k"]


async def test_a_single_part_etag_is_the_md5_of_the_bytes(aws_env: S3Endpoint, kept: Keep) -> None:
    store = kept(from_env(f"s3://{aws_env.new_bucket()}/p"))
    data = os.urandom(10_000)
    await store.put("k", data)
    assert (await store.stat("k")).etag == hashlib.md5(data).hexdigest()


async def test_a_presigned_url_fetches_the_object_without_credentials(
    aws_env: S3Endpoint, kept: Keep
) -> None:
    store = kept(from_env(f"s3://{aws_env.new_bucket()}/p"))
    assert isinstance(store, SupportsPresign)
    assert not isinstance(store, SupportsLocalPath)
    await store.put("dir/file.vcf", b"##fileformat=VCFv4.2\n")
    url = await store.presign("dir/file.vcf", expires_in=60)
    assert url.startswith(aws_env.endpoint_url)
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"##fileformat=VCFv4.2\n"


async def test_s3_part_writers_take_whole_parts(aws_env: S3Endpoint, kept: Keep) -> None:
    store = kept(from_env(f"s3://{aws_env.new_bucket()}/p"))
    writer = await store.start_upload("k", 5 * 1024 * 1024)
    assert not isinstance(writer, SupportsWriteAt)
    await writer.abort()


async def test_a_part_goes_up_presigned_and_lands_with_its_md5_etag(
    aws_env: S3Endpoint, kept: Keep
) -> None:
    store = kept(from_env(f"s3://{aws_env.new_bucket()}/p"))
    data = os.urandom(5 * 1024 * 1024)
    writer = await store.start_upload("k", len(data))
    landed = await writer.write_part(1, data)
    await writer.complete()
    assert landed.etag == hashlib.md5(data).hexdigest()
    assert await store.get("k") == data


async def test_a_part_for_an_aborted_upload_is_refused_as_not_found(
    rclone_endpoint: S3Endpoint, monkeypatch: pytest.MonkeyPatch, kept: Keep
) -> None:
    # rclone only: moto answers any part for an aborted upload with a bare HTTP 500
    for name, value in rclone_endpoint.env().items():
        monkeypatch.setenv(name, value)
    store = kept(from_env(f"s3://{rclone_endpoint.new_bucket()}/p"))

    writer = await store.start_upload("k", 5 * 1024 * 1024)
    await writer.abort()
    with pytest.raises(ObjectNotFoundError) as caught:
        await writer.write_part(1, b"late")
    assert "part 1" in str(caught.value)


async def test_a_missing_bucket_is_a_store_error_that_says_to_create_it(
    aws_env: S3Endpoint, kept: Keep
) -> None:
    store = kept(from_env("s3://dm-no-such-bucket-here/p"))
    with pytest.raises(StoreError) as caught:
        await store.put("k", b"v")
    assert not isinstance(caught.value, ObjectNotFoundError)
    assert "dm-no-such-bucket-here" in caught.value.message
    assert "create the bucket" in caught.value.hint
    assert not caught.value.is_transient()


async def test_wrong_credentials_are_access_denied(
    rclone_endpoint: S3Endpoint, monkeypatch: pytest.MonkeyPatch, kept: Keep
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "DMWRONGACCESSKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
    store = kept(S3Store("anything", "", make_client(rclone_endpoint.endpoint_url, "us-east-1")))
    with pytest.raises(AccessDeniedError) as caught:
        await store.get("k")
    assert isinstance(caught.value, PermissionError)
    assert "AWS_ACCESS_KEY_ID" in caught.value.hint


async def test_an_unreachable_endpoint_is_a_transient_store_error(
    monkeypatch: pytest.MonkeyPatch, kept: Keep
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    dead = f"http://127.0.0.1:{free_port()}"
    store = kept(S3Store("bucket", "", make_client(dead, "us-east-1")))
    with pytest.raises(StoreError) as caught:
        await store.stat("k")
    assert caught.value.is_transient()
    assert "unreachable" in caught.value.message


async def test_missing_credentials_are_a_store_error_with_a_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kept: Keep
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    store = kept(S3Store("bucket", "", make_client(f"http://127.0.0.1:{free_port()}", "us-east-1")))
    with pytest.raises(StoreError) as caught:
        await store.stat("k")
    assert "AWS_ACCESS_KEY_ID" in caught.value.hint
    assert not caught.value.is_transient()
