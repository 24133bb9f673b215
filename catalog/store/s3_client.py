"""What every S3 user in datamirror shares: the store, the S3 source and the server's reads
of an S3 store.

- `make_client`: one pooled boto3 client (signed, or unsigned for public buckets); signed
  with boto3's chain (the store's credentials), or with a `KeyPair` named for a source.
- `Presigner`: SigV4 query-string URLs (AWS "Authenticating Requests: Using Query
  Parameters") with the very credentials the client signs with, ~20x cheaper than botocore's
  `generate_presigned_url`, which rebuilds the request and the signing key every call.
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
import hashlib
import hmac
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

import aiohttp
import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError, NoCredentialsError
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


class Presigner:
    """Presigned URLs for `client`'s objects, as botocore's `generate_presigned_url` makes
    them. botocore resolves each bucket's endpoint once (its probe URL gives the scheme,
    host, path prefix and signing region); the signing key is derived once a day."""

    def __init__(self, client: S3Client) -> None:
        self._client = client
        self._unsigned = getattr(client.meta.config, "signature_version", None) is UNSIGNED
        self._bases: dict[str, tuple[str, str, str, str]] = {}
        self._key_for: tuple[str, str, str] = ("", "", "")
        self._signing_key = b""

    def url(
        self, bucket: str, key: str, expires_in: int, *, method: str = "GET",
        query: Mapping[str, str | int] | None = None, now: datetime | None = None,
    ) -> str:  # fmt: skip
        """A URL for `method` on `bucket`/`key` with the operation's `query` parameters
        (a part's `partNumber` and `uploadId`), valid `expires_in` seconds from `now`."""
        base, path, host, region = self._base(bucket)
        key_path = quote(key, safe="/~")
        operation = _encoded(query)
        if self._unsigned:
            return base + key_path + (f"?{'&'.join(operation)}" if operation else "")
        # Private botocore API, but the only way to the client's own (refreshable) credentials.
        credentials = self._client._request_signer._credentials  # type: ignore[attr-defined]
        if credentials is None:
            raise NoCredentialsError()
        frozen = credentials.get_frozen_credentials()
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        scope = f"{stamp[:8]}/{region}/s3/aws4_request"
        auth: dict[str, str | int] = {
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Credential": f"{frozen.access_key}/{scope}",
            "X-Amz-Date": stamp,
            "X-Amz-Expires": expires_in,
            "X-Amz-SignedHeaders": "host",
        }
        if frozen.token is not None:
            auth["X-Amz-Security-Token"] = frozen.token
        pairs = operation + _encoded(auth)
        canonical = (
            f"{method}\n{path}{key_path}\n{'&'.join(sorted(pairs))}\n"
            f"host:{host}\n\nhost\nUNSIGNED-PAYLOAD"
        )
        to_sign = (
            f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n" + hashlib.sha256(canonical.encode()).hexdigest()
        )
        signing_key = self._signing_key_for(frozen.secret_key, stamp[:8], region)
        signature = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
        return f"{base}{key_path}?{'&'.join(pairs)}&X-Amz-Signature={signature}"

    def _base(self, bucket: str) -> tuple[str, str, str, str]:
        """The URL and path prefixes of `bucket`'s keys, the host header botocore signs and
        the signing region."""
        if (known := self._bases.get(bucket)) is None:
            probe = urlsplit(
                self._client.generate_presigned_url(
                    "get_object", Params={"Bucket": bucket, "Key": "k"}
                )
            )
            host = probe.hostname or ""
            if probe.port is not None and probe.port != {"http": 80, "https": 443}.get(
                probe.scheme
            ):
                host = f"{host}:{probe.port}"
            region = self._client.meta.region_name
            for pair in probe.query.split("&"):
                name, _, value = pair.partition("=")
                if name == "X-Amz-Credential":
                    region = value.split("%2F")[2]
            path = probe.path.removesuffix("k")
            known = self._bases[bucket] = (
                f"{probe.scheme}://{probe.netloc}{path}",
                path,
                host,
                region,
            )
        return known

    def _signing_key_for(self, secret: str, day: str, region: str) -> bytes:
        if self._key_for != (secret, day, region):
            key = f"AWS4{secret}".encode()
            for part in (day, region, "s3", "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            self._key_for, self._signing_key = (secret, day, region), key
        return self._signing_key


def _encoded(params: Mapping[str, str | int] | None) -> list[str]:
    """`name=value` pairs, both percent-encoded per RFC 3986 (as SigV4 wants)."""
    return [
        f"{quote(k, safe='-_.~')}={quote(str(v), safe='-_.~')}" for k, v in (params or {}).items()
    ]


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
