"""What every S3 user in datamirror shares: the store, the S3 source and the server's reads
of an S3 store.

- `make_client`: one pooled boto3 client (signed, or unsigned for public buckets); signed
  with boto3's chain (the store's credentials), or with a `KeyPair` named for a source.
- `classify`: the one table from an S3 error code and HTTP status to what it means.
- ETag helpers: servers quote ETags in some answers and not in others; a single-part
  upload's ETag is the object's MD5.
- `presigned_get`: a GET of a presigned URL through aiohttp on the event loop (no thread,
  no signing per read) whose answer is proven to be the bytes asked for: a ranged answer
  must name its range in `Content-Range`, since some servers (rclone's) answer ranges 200.
  Failures raise `S3FailureError`, which each caller translates into its own error once.
"""

from __future__ import annotations

import enum
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import aiohttp
import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from yarl import URL

from catalog.config import KeyPair
from catalog.store.base import ByteRange

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

READ_BUFFER = 256 * 1024
ERROR_CODE = re.compile(r"<Code>([^<]+)</Code>")
ERROR_MESSAGE = re.compile(r"<Message>([^<]*)</Message>")
MD5_ETAG = re.compile(r'^"?([0-9a-fA-F]{32})"?$')


class Problem(enum.Enum):
    NO_BUCKET = "no such bucket"
    NOT_FOUND = "no such key"
    DENIED = "access denied"
    CHANGED = "precondition failed"
    FULL = "no space left"
    TRANSIENT = "try again"
    OTHER = "failed"


NOT_FOUND = {"NoSuchKey", "NotFound", "404", "NoSuchUpload"}
DENIED = {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled"}
CHANGED = {"PreconditionFailed", "412", "InvalidRange", "416"}
FULL = {"QuotaExceeded", "XMinioStorageFull", "InsufficientStorage"}
TRANSIENT = {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "Throttling"}


RULES: tuple[tuple[Problem, set[str], set[int]], ...] = (
    (Problem.NO_BUCKET, {"NoSuchBucket"}, set()),
    (Problem.CHANGED, CHANGED, {412, 416}),
    (Problem.NOT_FOUND, NOT_FOUND, {404}),
    (Problem.DENIED, DENIED, {403}),
    (Problem.FULL, FULL, {507}),
)


def classify(code: str, status: int) -> Problem:
    """The first rule naming the code or the status; else any 5xx or 429 is transient."""
    for problem, codes, statuses in RULES:
        if code in codes or status in statuses:
            return problem
    if code in TRANSIENT or status >= 500 or status == 429:
        return Problem.TRANSIENT
    return Problem.OTHER


class S3FailureError(Exception):
    """An S3 error answer: its code, status, message and what they mean."""

    def __init__(self, code: str, status: int, message: str = "") -> None:
        super().__init__(f"S3 {code or status}: {message}".rstrip(": "))
        self.code = code
        self.status = status
        self.message = message
        self.problem = classify(code, status)

    @classmethod
    def from_client_error(cls, exc: ClientError) -> S3FailureError:
        error = exc.response.get("Error", {})
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        return cls(str(error.get("Code", "")), status, str(error.get("Message") or ""))

    @classmethod
    def from_body(cls, status: int, body: str) -> S3FailureError:
        code = ERROR_CODE.search(body)
        message = ERROR_MESSAGE.search(body)
        return cls(code.group(1) if code else "", status, message.group(1) if message else "")


class RangeNotHonouredError(Exception):
    """The answer is not the bytes asked for (another range, or another length)."""


def make_client(
    endpoint_url: str | None,
    region: str,
    *,
    unsigned: bool = False,
    connections: int = 64,
    max_attempts: int = 1,
    key_pair: KeyPair | None = None,
) -> S3Client:
    """A pooled S3 client; credentials from `key_pair`, else boto3's chain, unless
    `unsigned`. One attempt by default: retries are the caller's policy, not botocore's."""
    config = Config(
        max_pool_connections=connections,
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        signature_version=UNSIGNED if unsigned else "s3v4",
        s3={"addressing_style": "path" if endpoint_url else "auto"},
        # S3-compatible servers send whole-object checksums with ranged reads.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    session = boto3.session.Session()
    if key_pair is not None and not unsigned:
        session = boto3.session.Session(
            aws_access_key_id=key_pair.access_key_id,
            aws_secret_access_key=key_pair.secret_access_key,
            aws_session_token=key_pair.session_token,
        )
    return session.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)


def plain_etag(etag: str | None) -> str | None:
    """An ETag without quotes."""
    return etag.strip('"') if etag else None


def md5_of_etag(etag: str | None) -> str | None:
    """The MD5 an ETag is, for objects uploaded in one part (multipart ETags end `-N`)."""
    match = MD5_ETAG.match(etag or "")
    return match.group(1).lower() if match else None


def http_session(
    connections: int,
    *,
    read_timeout: float = 120,
    connector: aiohttp.TCPConnector | None = None,
) -> aiohttp.ClientSession:
    """A pooled session for presigned reads and writes: bytes as sent (no decompression);
    `connector`, if given, must pool `connections`."""
    return aiohttp.ClientSession(
        connector=connector or aiohttp.TCPConnector(limit=connections),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=read_timeout),
        auto_decompress=False,
        read_bufsize=READ_BUFFER,
    )


@asynccontextmanager
async def presigned_get(
    session: aiohttp.ClientSession,
    url: str,
    byte_range: ByteRange | None = None,
    *,
    headers: Mapping[str, str] | None = None,
) -> AsyncIterator[aiohttp.ClientResponse]:
    """The answer to a GET of `url` (sent exactly as signed), checked: an error status
    raises S3FailureError; a range answered with other bytes raises RangeNotHonouredError.
    The body is the caller's to read (its length is the range's, or Content-Length)."""
    sent = {"Accept-Encoding": "identity", **(headers or {})}
    if byte_range is not None:
        sent["Range"] = byte_range.range_header()
    async with session.get(URL(url, encoded=True), headers=sent) as response:
        if response.status >= 300:
            raise S3FailureError.from_body(response.status, await response.text(errors="replace"))
        if byte_range is not None:
            check_ranged_answer(response, byte_range)
        yield response


def check_ranged_answer(response: aiohttp.ClientResponse, byte_range: ByteRange) -> None:
    content_range = response.headers.get("Content-Range")
    if content_range is not None:
        if not byte_range.answered_by(content_range):
            raise RangeNotHonouredError(
                f"asked for {byte_range.range_header()}, got {content_range}"
            )
        return
    # rclone's S3 server answers a range 200 with just its bytes, and no Content-Range.
    if response.content_length != byte_range.length:
        raise RangeNotHonouredError(
            f"asked for {byte_range.range_header()}, got {response.status} with "
            f"{response.content_length} bytes and no Content-Range"
        )
