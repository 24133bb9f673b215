"""S3 prefixes as sources (EBI's Embassy buckets, AWS Open Data).

Listing and HEAD go through boto3 in threads: boto3 is already the store's dependency and
credential chain (AWS_* env, profiles, instance roles). Object bytes come another way:
the shared `Presigner` mints a presigned GET URL on the loop with the client's credentials
(a plain one for an unsigned public bucket) and aiohttp reads it. A GET per thread would
cap the objects in flight at the thread pool's size (six on two cores) and cost three
thread hops per object: a Zarr store of small chunks mirrored ten times slower than
rclone. s3fs would add aiobotocore's pinned botocore for no gain here. Retries are the
mirror's policy, not botocore's (one attempt).

`no_sign_request` reads public buckets unsigned, as `aws s3 --no-sign-request` does;
`key_pair` signs with credentials named for the source instead of boto3's chain. With an
address rule (a source registered through the curator API) boto3's and aiohttp's
connections go to public addresses only (`public_peers`).
Single-part ETags are the object's MD5 (`md5_of_etag`), which the engine may verify.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, NoCredentialsError
from botocore.exceptions import ConnectionError as BotoConnectionError

from catalog.config import KeyPair
from catalog.errors import (
    InvalidSourceURLError,
    NotPublicAddressError,
    PeerRefusedError,
    SourceChangedError,
    SourceError,
    UnresolvableHostError,
)
from catalog.public_address import PublicAddressRule
from catalog.store.base import ByteRange, content_range_total
from catalog.store.s3_client import (
    Presigner,
    Problem,
    RangeNotHonouredError,
    S3FailureError,
    http_session,
    make_client,
    md5_of_etag,
    plain_etag,
    presigned_get,
)
from mirror.retry import DEFAULT_POLICY, RetryPolicy
from mirror.sources.base import SourceEntry
from mirror.sources.checks import check_size_unchanged
from mirror.sources.http import checked_body, client_errors
from mirror.sources.public_peers import guard_boto_client, tcp_connector

T = TypeVar("T")
URL_SECONDS = 3600
DENIED_HINT = (
    "check the credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or a profile), "
    "or for a public bucket register the source with --no-sign-request"
)


class S3Source:
    """`s3://bucket/prefix/`: every object under the prefix, paths relative to it."""

    def __init__(
        self,
        url: str,
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        no_sign_request: bool = False,
        connections: int = 16,
        policy: RetryPolicy = DEFAULT_POLICY,
        address_rule: PublicAddressRule | None = None,
        key_pair: KeyPair | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise InvalidSourceURLError(url, "an S3 source URL looks like s3://bucket/prefix/")
        self.bucket = parts.netloc
        prefix = parts.path.strip("/")
        self.prefix = f"{prefix}/" if prefix else ""
        self._url = f"s3://{self.bucket}/{self.prefix}"
        self._client = make_client(
            endpoint_url, region, unsigned=no_sign_request, connections=connections,
            key_pair=key_pair,
        )  # fmt: skip
        if address_rule is not None:
            guard_boto_client(self._client, address_rule)
        self._presigner = Presigner(self._client)
        self._rule = address_rule
        self._connections = connections
        self._policy = policy
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return self._url

    def http(self) -> aiohttp.ClientSession:
        """The pooled session for object reads (made inside the running loop)."""
        if self._session is None:
            connector = tcp_connector(self._rule, limit=self._connections)
            self._session = http_session(self._connections, connector=connector)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
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
        with s3_errors(where):
            url = self._presigner.url(self.bucket, self.prefix + path, URL_SECONDS)
        headers: dict[str, str] = {}
        if version and version.startswith("etag:"):
            headers["If-Match"] = f'"{version.removeprefix("etag:")}"'
        with client_errors(where), s3_errors(where):
            async with presigned_get(self.http(), url, byte_range, headers=headers) as response:
                want = checked_length(where, response, byte_range, version)
                async for chunk in checked_body(response, where, want):
                    yield chunk


def checked_length(
    where: str, response: aiohttp.ClientResponse, byte_range: ByteRange | None,
    version: str | None,
) -> int:  # fmt: skip
    """The body length to expect; an answer for another version of the file is an error."""
    etag = plain_etag(response.headers.get("ETag"))
    if version and version.startswith("etag:") and etag and etag != version[len("etag:") :]:
        raise SourceChangedError(where, f"its ETag moved to {etag}")  # If-Match was ignored
    if byte_range is not None:
        total = content_range_total(response.headers.get("Content-Range"))
        if total is not None:
            check_size_unchanged(where, total, version)
        return byte_range.length
    if response.content_length is None:
        raise SourceError(where, "the answer gives no Content-Length", transient=True)
    check_size_unchanged(where, response.content_length, version)
    return response.content_length


@contextmanager
def s3_errors(where: str) -> Iterator[None]:
    """The one boundary where botocore's errors become SourceErrors."""
    try:
        yield
    except ClientError as exc:
        raise s3_error(where, S3FailureError.from_client_error(exc)) from exc
    except S3FailureError as exc:
        raise s3_error(where, exc) from exc
    except RangeNotHonouredError as exc:
        raise SourceChangedError(where, str(exc)) from exc
    except NoCredentialsError as exc:
        raise SourceError(where, "no AWS credentials found", hint=DENIED_HINT) from exc
    except HTTPClientError as exc:
        cause = exc.kwargs.get("error")
        if isinstance(cause, NotPublicAddressError):
            raise PeerRefusedError(where, cause) from exc
        if isinstance(cause, UnresolvableHostError):
            raise SourceError(where, cause.message, transient=True, hint=cause.hint) from exc
        raise SourceError(where, str(exc), transient=True) from exc
    except BotoConnectionError as exc:
        raise SourceError(where, f"cannot connect: {exc}", transient=True) from exc
    except BotoCoreError as exc:
        raise SourceError(where, str(exc), transient=True) from exc


def s3_error(where: str, failure: S3FailureError) -> SourceError:
    cause = str(failure)
    problem = failure.problem
    if problem is Problem.CHANGED:
        return SourceChangedError(where, cause)
    if problem is Problem.NO_BUCKET:
        return SourceError(where, cause, hint="check the bucket name (and --endpoint-url)")
    if problem is Problem.NOT_FOUND:
        return SourceError(where, cause, hint="check the URL: no such object or prefix")
    if problem is Problem.DENIED:
        return SourceError(where, cause, hint=DENIED_HINT)
    return SourceError(where, cause, transient=problem is Problem.TRANSIENT)
