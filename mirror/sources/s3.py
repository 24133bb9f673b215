"""S3 prefixes as sources (EBI's Embassy buckets, AWS Open Data), through boto3 in threads.

Why boto3 and not s3fs: boto3 is already the store's dependency and credential chain
(AWS_* env, profiles, instance roles), its client is thread-safe and pooled, and a call
per thread hop (one list page, one 256 KiB body read) costs nothing next to the network.
s3fs would add aiobotocore's pinned botocore and an instance cache bound to one event
loop, for no gain here. Retries are the mirror's policy, not botocore's (one attempt).

`no_sign_request` reads public buckets unsigned, as `aws s3 --no-sign-request` does.
Single-part ETags are the object's MD5 (`md5_of_etag`), which the engine may verify.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from botocore.exceptions import ConnectionError as BotoConnectionError

from catalog.errors import InvalidSourceURLError, SourceChangedError, SourceError
from catalog.store.base import ByteRange
from mirror.retry import DEFAULT_POLICY, RetryPolicy
from mirror.sources.base import SourceEntry
from mirror.sources.checks import check_size_unchanged

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

T = TypeVar("T")
CHUNK = 256 * 1024
MD5_ETAG = re.compile(r'^"?([0-9a-fA-F]{32})"?$')
NOT_FOUND = {"NoSuchKey", "NotFound", "404"}
DENIED = {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled"}
CHANGED = {"PreconditionFailed", "412", "InvalidRange", "416"}
TRANSIENT = {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "Throttling"}
DENIED_HINT = (
    "check the credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or a profile), "
    "or for a public bucket register the source with --no-sign-request"
)


def plain_etag(etag: str | None) -> str | None:
    """An ETag without quotes: servers quote it in some answers and not in others."""
    return etag.strip('"') if etag else None


def md5_of_etag(etag: str | None) -> str | None:
    """The MD5 an ETag is, for objects uploaded in one part (multipart ETags end `-N`)."""
    match = MD5_ETAG.match(etag or "")
    return match.group(1).lower() if match else None


def source_client(
    endpoint_url: str | None = None, *, no_sign_request: bool = False, connections: int = 16
) -> S3Client:
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    config = Config(
        max_pool_connections=connections,
        retries={"total_max_attempts": 1},
        signature_version=UNSIGNED if no_sign_request else "s3v4",
        s3={"addressing_style": "path" if endpoint_url else "auto"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    session = boto3.session.Session()
    return session.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)


class S3Source:
    """`s3://bucket/prefix/`: every object under the prefix, paths relative to it."""

    def __init__(
        self,
        url: str,
        *,
        endpoint_url: str | None = None,
        no_sign_request: bool = False,
        connections: int = 16,
        policy: RetryPolicy = DEFAULT_POLICY,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise InvalidSourceURLError(url, "an S3 source URL looks like s3://bucket/prefix/")
        self.bucket = parts.netloc
        prefix = parts.path.strip("/")
        self.prefix = f"{prefix}/" if prefix else ""
        self._url = f"s3://{self.bucket}/{self.prefix}"
        self._client = source_client(
            endpoint_url, no_sign_request=no_sign_request, connections=connections
        )
        self._policy = policy

    @property
    def url(self) -> str:
        return self._url

    async def close(self) -> None:
        await asyncio.to_thread(self._client.close)

    async def _call(self, where: str, fn: Callable[..., T], **kwargs: Any) -> T:
        """One boto3 call in a thread, retried by the policy, its errors translated."""
        async for attempt in self._policy.retrying():
            with attempt, s3_errors(where):
                return await asyncio.to_thread(fn, **kwargs)
        raise AssertionError("unreachable")  # pragma: no cover

    async def list(self) -> AsyncIterator[SourceEntry]:
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix}
            if token:
                kwargs["ContinuationToken"] = token
            page = await self._call(self._url, self._client.list_objects_v2, **kwargs)
            for item in page.get("Contents", []):
                key = item["Key"]
                if key.endswith("/"):
                    continue  # a "folder" marker, not a file
                yield SourceEntry(
                    key[len(self.prefix) :],
                    item["Size"],
                    item.get("LastModified"),
                    plain_etag(item.get("ETag")),
                    md5_of_etag(item.get("ETag")),
                )
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return

    async def stat(self, path: str) -> SourceEntry:
        key = self.prefix + path
        head = await self._call(
            self._url + path, self._client.head_object, Bucket=self.bucket, Key=key
        )
        etag = head.get("ETag")
        return SourceEntry(
            path, head["ContentLength"], head.get("LastModified"), plain_etag(etag),
            md5_of_etag(etag),
        )  # fmt: skip

    async def read(
        self, path: str, byte_range: ByteRange | None = None, *, version: str | None = None
    ) -> AsyncIterator[bytes]:
        """A ranged GET (If-Match the listed ETag); the bytes must be exactly the range."""
        if byte_range is not None and byte_range.length == 0:
            return
        where = self._url + path
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self.prefix + path}
        if byte_range is not None:
            kwargs["Range"] = f"bytes={byte_range.start}-{byte_range.end - 1}"
        if version and version.startswith("etag:"):
            kwargs["IfMatch"] = f'"{version.removeprefix("etag:")}"'
        with s3_errors(where):
            response = await asyncio.to_thread(self._client.get_object, **kwargs)
        body = response["Body"]
        try:
            want = checked_length(where, response, byte_range, version)
            async for chunk in read_body(where, body, want):
                yield chunk
        finally:
            body.close()


def checked_length(
    where: str, response: Any, byte_range: ByteRange | None, version: str | None
) -> int:
    """The body length to expect; a range other than the one asked is an error."""
    etag = plain_etag(response.get("ETag"))
    if version and version.startswith("etag:") and etag and etag != version[len("etag:") :]:
        raise SourceChangedError(where, f"its ETag moved to {etag}")  # If-Match was ignored
    if byte_range is None:
        total = int(response["ContentLength"])
        check_size_unchanged(where, total, version)
        return total
    want = f"bytes {byte_range.start}-{byte_range.end - 1}/"
    got = str(response.get("ContentRange") or "")
    if not got.startswith(want):
        raise SourceChangedError(where, f"asked for {want}*, got {got or 'no Content-Range'}")
    total_text = got.removeprefix(want)
    if total_text.isdigit():
        check_size_unchanged(where, int(total_text), version)
    return byte_range.length


async def read_body(where: str, body: Any, want: int) -> AsyncIterator[bytes]:
    received = 0
    while received < want:
        with s3_errors(where):
            chunk: bytes = await asyncio.to_thread(body.read, min(CHUNK, want - received))
        if not chunk:
            raise SourceError(where, f"body ended after {received} of {want} bytes", transient=True)
        received += len(chunk)
        yield chunk


@contextmanager
def s3_errors(where: str) -> Iterator[None]:
    """The one boundary where botocore's errors become SourceErrors."""
    try:
        yield
    except ClientError as exc:
        raise client_error(where, exc) from exc
    except NoCredentialsError as exc:
        raise SourceError(where, "no AWS credentials found", hint=DENIED_HINT) from exc
    except BotoConnectionError as exc:
        raise SourceError(where, f"cannot connect: {exc}", transient=True) from exc
    except BotoCoreError as exc:
        raise SourceError(where, str(exc), transient=True) from exc


def client_error(where: str, exc: ClientError) -> SourceError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    cause = f"S3 {code or status}: {error.get('Message') or ''}".rstrip(": ")
    if code in CHANGED or status in {412, 416}:
        return SourceChangedError(where, cause)
    if code == "NoSuchBucket":
        return SourceError(where, cause, hint="check the bucket name (and --endpoint-url)")
    if code in NOT_FOUND or status == 404:
        return SourceError(where, cause, hint="check the URL: no such object or prefix")
    if code in DENIED or status == 403:
        return SourceError(where, cause, hint=DENIED_HINT)
    return SourceError(where, cause, transient=code in TRANSIENT or status >= 500 or status == 429)
