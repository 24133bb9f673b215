"""A store in an S3 bucket (AWS, Ceph RGW, MinIO, `rclone serve s3`), through boto3.

Listings, heads and multipart bookkeeping go through boto3, which blocks, so those calls
run in threads; one client (thread-safe, pooled) serves them all. Bytes go another way:
the client's `Presigner` mints a GetObject, PutObject or UploadPart URL on the loop (no
thread, a tenth of botocore's cost) and the bytes travel through one pooled aiohttp
session on the event loop (`catalog.store.s3_client`).
S3 errors become datamirror errors in one place (`_translate`, `_translate_failure`).

Over plain HTTP (a cluster-internal Ceph RGW or MinIO) botocore would sign a PUT's payload,
a SHA-256 of every byte; a presigned URL signs `UNSIGNED-PAYLOAD`, and the transfer holds
no thread (a PUT per thread capped the small objects in flight at the pool's six threads;
reads through boto3 cost three thread hops per read).
"""

from __future__ import annotations

import asyncio
import builtins
import io
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)
from yarl import URL

from catalog.backoff import parse_retry_after
from catalog.errors import (
    AccessDeniedError,
    ConfigError,
    DatamirrorError,
    ObjectNotFoundError,
    StoreError,
    StoreFullError,
)
from catalog.store.base import STREAM_CHUNK, ByteRange, LandedPart, ObjectInfo, check_key
from catalog.store.retrying import STORE_RETRY
from catalog.store.s3_client import (
    Presigner,
    Problem,
    S3FailureError,
    http_session,
    make_client,
    plain_etag,
    presigned_get,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

T = TypeVar("T")

POOL_CONNECTIONS = 64
URL_SECONDS = 3600
STORE_ATTEMPTS = 5


def _translate(exc: Exception, bucket: str, key: str) -> DatamirrorError:
    """The one boundary where botocore errors become datamirror errors."""
    if isinstance(exc, ClientError):
        return _translate_failure(S3FailureError.from_client_error(exc), bucket, key)
    if isinstance(exc, NoCredentialsError):
        return StoreError(
            "no S3 credentials found",
            hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or an AWS profile)",
        )
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        return StoreError(f"object store unreachable: {exc}", transient=True)
    return StoreError(f"object store failed on {key!r}: {exc}")


def _translate_failure(failure: S3FailureError, bucket: str, key: str) -> DatamirrorError:
    problem = failure.problem
    if problem is Problem.NO_BUCKET:
        return StoreError(
            f"the bucket {bucket!r} does not exist",
            hint="create the bucket first (e.g. `aws s3 mb s3://BUCKET`) or fix DATAMIRROR_STORE",
        )
    if problem is Problem.NOT_FOUND:
        return ObjectNotFoundError(key)
    if problem is Problem.FULL:
        return StoreFullError(f"s3://{bucket}", f"{failure.code or failure.status} on {key!r}")
    if problem is Problem.DENIED:
        return AccessDeniedError(
            f"the object store refused access to {key!r} ({failure.code or failure.status})",
            hint="check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the bucket policy",
        )
    detail = f"object store error on {key!r}: {failure.code or failure.status}"
    return StoreError(detail, transient=problem is Problem.TRANSIENT)


def _parse_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ConfigError(
            f"invalid S3 store URL {url!r}", hint="use s3://bucket or s3://bucket/prefix"
        )
    prefix = parts.path.strip("/")
    return parts.netloc, f"{prefix}/" if prefix else ""


class S3Store:
    """`s3://bucket/prefix`: every key lives under the prefix."""

    def __init__(self, bucket: str, prefix: str, client: S3Client) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.client = client
        self._presigner = Presigner(client)
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_url(cls, url: str, *, endpoint_url: str | None, region: str) -> S3Store:
        bucket, prefix = _parse_url(url)
        client = make_client(
            endpoint_url, region, connections=POOL_CONNECTIONS, max_attempts=STORE_ATTEMPTS
        )
        return cls(bucket, prefix, client)

    def http(self) -> aiohttp.ClientSession:
        """The pooled session for presigned reads and writes (made inside the loop)."""
        if self._session is None:
            self._session = http_session(POOL_CONNECTIONS, read_timeout=300)
        return self._session

    async def put_presigned(self, key: str, url: str, data: bytes | memoryview) -> str | None:
        """PUT `data` to a presigned URL; the object's (or part's) ETag. A transient
        failure (a 500, SlowDown, a reset connection) is tried again: a PUT of the same
        bytes under the same key or part number is idempotent."""
        return await STORE_RETRY.call(lambda: self._put_once(key, url, data))

    async def _put_once(self, key: str, url: str, data: bytes | memoryview) -> str | None:
        try:
            # sent as signed: yarl must not re-encode the path; a BytesIO body goes out in
            # chunks that yield to the loop (aiohttp warns of raw bytes over 1 MiB)
            body = io.BytesIO(data)
            async with self.http().put(URL(url, encoded=True), data=body) as response:
                if response.status >= 300:
                    failure = S3FailureError.from_body(
                        response.status, await response.text(errors="replace")
                    )
                    error = _translate_failure(failure, self.bucket, key)
                    if isinstance(error, StoreError):
                        error.retry_after = parse_retry_after(response.headers.get("Retry-After"))
                    raise error
                return plain_etag(response.headers.get("ETag"))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise StoreError(f"object store unreachable: {exc!r}", transient=True) from exc

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    async def _run(self, key: str, call: Callable[[], T]) -> T:
        try:
            return await asyncio.to_thread(call)
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, self.bucket, key) from exc

    async def put(self, key: str, data: bytes) -> ObjectInfo:
        url = self.signed_url(key, "PUT", URL_SECONDS)
        return ObjectInfo(key, len(data), None, await self.put_presigned(key, url, data))

    def signed_url(
        self, key: str, method: str, expires_in: int, query: Mapping[str, str | int] | None = None
    ) -> str:
        """A presigned URL for `method` on the object `key` (with the operation's query
        parameters: a part's uploadId and partNumber)."""
        try:
            return self._presigner.url(
                self.bucket, self._key(key), expires_in, method=method, query=query
            )
        except BotoCoreError as exc:
            raise _translate(exc, self.bucket, key) from exc

    async def get(self, key: str, byte_range: ByteRange | None = None) -> bytes:
        return b"".join([chunk async for chunk in self.stream(key, byte_range, 1 << 30)])

    async def stream(
        self, key: str, byte_range: ByteRange | None = None, chunk_size: int = STREAM_CHUNK
    ) -> AsyncIterator[bytes]:
        """Through a presigned GET on the loop; a range past the end reads as empty."""
        if byte_range is not None and byte_range.length == 0:
            await self.stat(key)
            return
        url = self.signed_url(key, "GET", URL_SECONDS)
        headers = {"Range": byte_range.range_header()} if byte_range is not None else None
        try:
            async with presigned_get(self.http(), url, headers=headers) as response:
                async for chunk in response.content.iter_chunked(chunk_size):
                    yield chunk
        except S3FailureError as failure:
            if failure.status == 416:
                return
            raise _translate_failure(failure, self.bucket, key) from failure
        except aiohttp.ClientError as exc:
            raise StoreError(f"object store read of {key!r} failed: {exc}", transient=True) from exc

    async def stat(self, key: str) -> ObjectInfo:
        full = self._key(key)
        head = await self._run(key, lambda: self.client.head_object(Bucket=self.bucket, Key=full))
        etag = plain_etag(head["ETag"])
        return ObjectInfo(key, head["ContentLength"], head.get("LastModified"), etag)

    async def exists(self, key: str) -> bool:
        try:
            await self.stat(key)
        except ObjectNotFoundError:
            return False
        return True

    async def delete(self, key: str) -> None:
        full = self._key(key)
        try:
            await self._run(key, lambda: self.client.delete_object(Bucket=self.bucket, Key=full))
        except ObjectNotFoundError:
            return

    async def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + prefix
        )
        async for page in self._pages(prefix, iter(pages)):
            for item in page.get("Contents", []):
                key = item["Key"][len(self.prefix) :]
                etag = plain_etag(item.get("ETag"))
                yield ObjectInfo(key, item["Size"], item.get("LastModified"), etag)

    async def _pages(self, key: str, pages: Iterator[Any]) -> AsyncIterator[Any]:
        """Fetch each page of a paginator in a thread."""
        done = object()
        while (page := await self._run(key, lambda: next(pages, done))) is not done:
            yield page

    async def start_upload(self, key: str, part_size: int) -> S3PartWriter:
        full = self._key(key)
        created = await self._run(
            key, lambda: self.client.create_multipart_upload(Bucket=self.bucket, Key=full)
        )
        return S3PartWriter(self, key, created["UploadId"], part_size)

    async def resume_upload(self, key: str, upload_id: str, part_size: int) -> S3PartWriter:
        await self.landed_parts(key, upload_id)
        return S3PartWriter(self, key, upload_id, part_size)

    async def landed_parts(self, key: str, upload_id: str) -> builtins.list[LandedPart]:
        pages = self.client.get_paginator("list_parts").paginate(
            Bucket=self.bucket, Key=self._key(key), UploadId=upload_id
        )
        landed: builtins.list[LandedPart] = []
        async for page in self._pages(f"{key} (upload {upload_id})", iter(pages)):
            for part in page.get("Parts", []):
                landed.append(
                    LandedPart(part["PartNumber"], part["Size"], plain_etag(part["ETag"]))
                )
        return sorted(landed, key=lambda part: part.number)

    async def abort_stale_uploads(self, prefix: str, keep: set[str]) -> int:
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=self.prefix + prefix
        )
        stale: builtins.list[tuple[str, str]] = []
        try:
            async for page in self._pages(prefix, iter(pages)):
                for upload in page.get("Uploads", []):
                    if upload["UploadId"] not in keep:
                        stale.append((upload["Key"][len(self.prefix) :], upload["UploadId"]))
        except ObjectNotFoundError:
            return 0  # rclone's S3 server answers an empty uploads listing with NoSuchUpload
        for key, upload_id in stale:
            await S3PartWriter(self, key, upload_id, 0).abort()
        return len(stale)

    async def presign(self, key: str, expires_in: int) -> str:
        return self.signed_url(key, "GET", expires_in)

    async def flush(self) -> None:
        """Nothing to do: S3 answers a PUT only once the object is durable."""

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        await asyncio.to_thread(self.client.close)


class S3PartWriter:
    """A multipart upload. It keeps no local state: `complete` asks S3 which parts landed."""

    def __init__(self, store: S3Store, key: str, upload_id: str, part_size: int) -> None:
        self.store = store
        self.key = key
        self.part_size = part_size
        self._id = upload_id
        self._full = store._key(key)

    @property
    def upload_id(self) -> str:
        return self._id

    async def write_part(self, number: int, data: bytes | memoryview) -> LandedPart:
        query: dict[str, str | int] = {"uploadId": self._id, "partNumber": number}
        url = self.store.signed_url(self.key, "PUT", URL_SECONDS, query)
        etag = await self.store.put_presigned(f"{self.key} (part {number})", url, data)
        return LandedPart(number, len(data), etag)

    async def complete(self) -> ObjectInfo:
        landed = await self.store.landed_parts(self.key, self._id)
        if not landed:
            # S3 refuses to complete an upload without parts: an empty object is a plain put.
            await self.abort()
            return await self.store.put(self.key, b"")
        parts: builtins.list[CompletedPartTypeDef] = [
            {"PartNumber": part.number, "ETag": f'"{part.etag}"'} for part in landed
        ]
        client, bucket = self.store.client, self.store.bucket
        await self.store._run(
            self.key,
            lambda: client.complete_multipart_upload(
                Bucket=bucket, Key=self._full, UploadId=self._id, MultipartUpload={"Parts": parts}
            ),
        )
        return await self.store.stat(self.key)

    async def abort(self) -> None:
        client, bucket = self.store.client, self.store.bucket
        try:
            await self.store._run(
                self.key,
                lambda: client.abort_multipart_upload(
                    Bucket=bucket, Key=self._full, UploadId=self._id
                ),
            )
        except ObjectNotFoundError:
            return
