"""A store in an S3 bucket (AWS, Ceph RGW, MinIO, `rclone serve s3`), through boto3.

boto3 blocks, so every call runs in a thread; one client (thread-safe, pooled) serves them
all. botocore errors become datamirror errors in one place, `_translate`.

Writes go another way: boto3 mints a presigned PutObject or UploadPart URL and the
bytes are PUT through one pooled aiohttp session. Over plain HTTP (a cluster-internal
Ceph RGW or MinIO) botocore signs the payload itself, a SHA-256 of every byte; a
presigned URL signs `UNSIGNED-PAYLOAD`, and the upload holds no thread (a PUT per thread
capped the small objects in flight at the pool's six threads).
"""

from __future__ import annotations

import asyncio
import builtins
import io
import os
import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlsplit

import aiohttp
import boto3
from botocore.config import Config
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

from catalog.errors import (
    AccessDeniedError,
    ConfigError,
    DatamirrorError,
    ObjectNotFoundError,
    StoreError,
)
from catalog.http_session import SessionPerLoop
from catalog.store.base import STREAM_CHUNK, ByteRange, LandedPart, ObjectInfo, check_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

T = TypeVar("T")

POOL_CONNECTIONS = 64
PUT_URL_SECONDS = 3600
_ERROR_CODE = re.compile(r"<Code>([^<]+)</Code>")
NOT_FOUND = {"NoSuchKey", "NotFound", "404", "NoSuchUpload"}
DENIED = {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled"}
TRANSIENT = {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "Throttling"}


def s3_client(endpoint_url: str | None = None, *, max_attempts: int = 5) -> S3Client:
    """A pooled S3 client; credentials from boto3's chain, region from AWS_REGION."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    config = Config(
        max_pool_connections=POOL_CONNECTIONS,
        retries={"mode": "standard", "max_attempts": max_attempts},
        signature_version="s3v4",
        s3={"addressing_style": "path" if endpoint_url else "auto"},
        # S3-compatible servers send whole-object checksums with ranged reads.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    session = boto3.session.Session()
    return session.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)


def _translate(exc: Exception, bucket: str, key: str) -> DatamirrorError:
    """The one boundary where botocore errors become datamirror errors."""
    if isinstance(exc, ClientError):
        return _translate_response(exc, bucket, key)
    if isinstance(exc, NoCredentialsError):
        return StoreError(
            "no S3 credentials found",
            hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or an AWS profile)",
        )
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        return StoreError(f"object store unreachable: {exc}", transient=True)
    return StoreError(f"object store failed on {key!r}: {exc}")


def _translate_response(exc: ClientError, bucket: str, key: str) -> DatamirrorError:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    return _translate_code(code, status, bucket, key)


def _translate_code(code: str, status: int, bucket: str, key: str) -> DatamirrorError:
    if code == "NoSuchBucket":
        return StoreError(
            f"the bucket {bucket!r} does not exist",
            hint="create the bucket first (e.g. `aws s3 mb s3://BUCKET`) or fix DATAMIRROR_STORE",
        )
    if code in NOT_FOUND:
        return ObjectNotFoundError(key)
    if code in DENIED:
        return AccessDeniedError(
            f"the object store refused access to {key!r} ({code})",
            hint="check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the bucket policy",
        )
    transient = code in TRANSIENT or status >= 500
    return StoreError(f"object store error on {key!r}: {code or status}", transient=transient)


def _parse_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ConfigError(
            f"invalid S3 store URL {url!r}", hint="use s3://bucket or s3://bucket/prefix"
        )
    prefix = parts.path.strip("/")
    return parts.netloc, f"{prefix}/" if prefix else ""


def _etag(raw: str | None) -> str | None:
    return raw.strip('"') if raw else None


class S3Store:
    """`s3://bucket/prefix`: every key lives under the prefix."""

    def __init__(self, bucket: str, prefix: str, client: S3Client) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.client = client
        self._http = SessionPerLoop(
            lambda: aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=POOL_CONNECTIONS),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=300),
            )
        )

    async def put_presigned(self, key: str, url: str, data: bytes | memoryview) -> str | None:
        """PUT `data` to a presigned URL; the object's (or part's) ETag."""
        try:
            # sent as signed: yarl must not re-encode the path; a BytesIO body goes out in
            # chunks that yield to the loop (aiohttp warns of raw bytes over 1 MiB)
            body = io.BytesIO(data)
            async with self._http.get().put(URL(url, encoded=True), data=body) as response:
                if response.status >= 300:
                    code = _ERROR_CODE.search(await response.text(errors="replace"))
                    error = code.group(1) if code else ""
                    raise _translate_code(error, response.status, self.bucket, key)
                return _etag(response.headers.get("ETag"))
        except aiohttp.ClientError as exc:
            raise StoreError(f"object store unreachable: {exc}", transient=True) from exc

    @classmethod
    def from_url(cls, url: str, *, endpoint_url: str | None = None) -> S3Store:
        bucket, prefix = _parse_url(url)
        endpoint = endpoint_url or os.environ.get("DATAMIRROR_S3_ENDPOINT") or None
        return cls(bucket, prefix, s3_client(endpoint))

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
        url = await self.signed_url(key, "put_object", PUT_URL_SECONDS)
        return ObjectInfo(key, len(data), None, await self.put_presigned(key, url, data))

    async def signed_url(
        self, key: str, operation: str, expires_in: int, **params: str | int
    ) -> str:
        """A presigned URL for `operation` on the object `key` (with the operation's other
        parameters: a part's UploadId and PartNumber)."""
        full = {"Bucket": self.bucket, "Key": self._key(key), **params}
        return await self._run(
            key,
            lambda: self.client.generate_presigned_url(
                operation, Params=full, ExpiresIn=expires_in
            ),
        )

    async def get(self, key: str, byte_range: ByteRange | None = None) -> bytes:
        if byte_range is not None and byte_range.length == 0:
            await self.stat(key)
            return b""
        return await self._run(key, lambda: self._read_whole(key, byte_range))

    def _read_whole(self, key: str, byte_range: ByteRange | None) -> bytes:
        body = self._open_body(key, byte_range)
        try:
            return body.read()
        finally:
            body.close()

    def _open_body(self, key: str, byte_range: ByteRange | None) -> _Body:
        """The streaming body of a (ranged) GET; a range past the end reads as empty."""
        options: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(key)}
        if byte_range is not None:
            options["Range"] = f"bytes={byte_range.start}-{byte_range.end - 1}"
        try:
            body: _Body = self.client.get_object(**options)["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "InvalidRange":
                raise
            return _EmptyBody()
        return body

    async def stream(
        self, key: str, byte_range: ByteRange | None = None, chunk_size: int = STREAM_CHUNK
    ) -> AsyncIterator[bytes]:
        if byte_range is not None and byte_range.length == 0:
            await self.stat(key)
            return
        body = await self._run(key, lambda: self._open_body(key, byte_range))
        try:
            while chunk := await self._run(key, lambda: body.read(chunk_size)):
                yield chunk
        finally:
            await asyncio.to_thread(body.close)

    async def stat(self, key: str) -> ObjectInfo:
        full = self._key(key)
        head = await self._run(key, lambda: self.client.head_object(Bucket=self.bucket, Key=full))
        return ObjectInfo(key, head["ContentLength"], head.get("LastModified"), _etag(head["ETag"]))

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
                etag = _etag(item.get("ETag"))
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
                landed.append(LandedPart(part["PartNumber"], part["Size"], _etag(part["ETag"])))
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
        return await self.signed_url(key, "get_object", expires_in)

    async def flush(self) -> None:
        """Nothing to do: S3 answers a PUT only once the object is durable."""

    async def close(self) -> None:
        await self._http.close()
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
        url = await self.store.signed_url(
            self.key, "upload_part", PUT_URL_SECONDS, UploadId=self._id, PartNumber=number
        )
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


class _Body(Protocol):
    def read(self, amt: int | None = None) -> bytes: ...

    def close(self) -> None: ...


class _EmptyBody:
    """The body of a range that starts past the end of the object."""

    def read(self, amt: int | None = None) -> bytes:
        return b""

    def close(self) -> None:
        return None
