"""S3 prefixes as sources (EBI's Embassy buckets, AWS Open Data).

Listing and HEAD go through boto3 in threads: boto3 is already the store's dependency and
credential chain (AWS_* env, profiles, instance roles). Object bytes come another way:
boto3 mints a presigned GET URL (a plain one for an unsigned public bucket) and aiohttp
reads it on the event loop. A GET per thread would cap the objects in flight at the
thread pool's size (six on two cores) and cost three thread hops per object: a Zarr store
of small chunks mirrored ten times slower than rclone. s3fs would add aiobotocore's pinned
botocore for no gain here. Retries are the mirror's policy, not botocore's (one attempt).

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

import aiohttp
import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from botocore.exceptions import ConnectionError as BotoConnectionError
from yarl import URL

from catalog.errors import InvalidSourceURLError, SourceChangedError, SourceError
from catalog.http_session import SessionPerLoop
from catalog.store.base import ByteRange
from mirror.retry import DEFAULT_POLICY, RetryPolicy
from mirror.sources.base import SourceEntry
from mirror.sources.checks import check_size_unchanged
from mirror.sources.http import checked_body, client_errors

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

T = TypeVar("T")
URL_SECONDS = 3600
ERROR_CODE = re.compile(r"<Code>([^<]+)</Code>")
ERROR_MESSAGE = re.compile(r"<Message>([^<]*)</Message>")
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
        self._http = SessionPerLoop(
            lambda: aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit_per_host=connections, limit=0),
                auto_decompress=False,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=120),
            )
        )

    @property
    def url(self) -> str:
        return self._url

    async def close(self) -> None:
        await self._http.close()
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
        params = {"Bucket": self.bucket, "Key": self.prefix + path}
        with s3_errors(where):
            url = await asyncio.to_thread(
                self._client.generate_presigned_url, "get_object", Params=params,
                ExpiresIn=URL_SECONDS,
            )  # fmt: skip
        headers = {"Accept-Encoding": "identity"}
        if byte_range is not None:
            headers["Range"] = f"bytes={byte_range.start}-{byte_range.end - 1}"
        if version and version.startswith("etag:"):
            headers["If-Match"] = f'"{version.removeprefix("etag:")}"'
        with client_errors(where):
            # sent as signed: yarl must not re-encode the path
            async with self._http.get().get(URL(url, encoded=True), headers=headers) as response:
                if response.status >= 300:
                    raise status_error(where, response.status, await response.text())
                want = checked_length(where, response, byte_range, version)
                async for chunk in checked_body(response, where, want):
                    yield chunk


def checked_length(
    where: str, response: aiohttp.ClientResponse, byte_range: ByteRange | None,
    version: str | None,
) -> int:  # fmt: skip
    """The body length to expect; a range other than the one asked is an error."""
    etag = plain_etag(response.headers.get("ETag"))
    if version and version.startswith("etag:") and etag and etag != version[len("etag:") :]:
        raise SourceChangedError(where, f"its ETag moved to {etag}")  # If-Match was ignored
    if byte_range is None:
        if response.content_length is None:
            raise SourceError(where, "the answer gives no Content-Length", transient=True)
        check_size_unchanged(where, response.content_length, version)
        return response.content_length
    want = f"bytes {byte_range.start}-{byte_range.end - 1}/"
    got = response.headers.get("Content-Range", "")
    # the Content-Range is the proof, not the status: rclone's S3 server answers 200
    if not got.startswith(want):
        raise SourceChangedError(where, f"asked for {want}*, got {got or 'no Content-Range'}")
    total_text = got.removeprefix(want)
    if total_text.isdigit():
        check_size_unchanged(where, int(total_text), version)
    return byte_range.length


def status_error(where: str, status: int, body: str) -> SourceError:
    """The SourceError an S3 error answer (status and XML body) means."""
    code = ERROR_CODE.search(body)
    message = ERROR_MESSAGE.search(body)
    return s3_error(where, code.group(1) if code else "", status,
                    message.group(1) if message else "")  # fmt: skip


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
    return s3_error(where, code, status, str(error.get("Message") or ""))


def s3_error(where: str, code: str, status: int, message: str) -> SourceError:
    cause = f"S3 {code or status}: {message}".rstrip(": ")
    if code in CHANGED or status in {412, 416}:
        return SourceChangedError(where, cause)
    if code == "NoSuchBucket":
        return SourceError(where, cause, hint="check the bucket name (and --endpoint-url)")
    if code in NOT_FOUND or status == 404:
        return SourceError(where, cause, hint="check the URL: no such object or prefix")
    if code in DENIED or status == 403:
        return SourceError(where, cause, hint=DENIED_HINT)
    return SourceError(where, cause, transient=code in TRANSIENT or status >= 500 or status == 429)
