"""HTTP(S) trees with directory listings (nginx, Apache, plain links), read with aiohttp.

fsspec's HTTPFileSystem gives no sizes from listings (one HEAD per file) and does not
check that a Range was honoured, so this reader is written here: listings are crawled
concurrently, sizes come from the listing where it prints them exactly, else from HEAD,
and every ranged read must come back as 206 with the Content-Range asked for. Bytes arrive
as sent (`auto_decompress=False`): a `.gz` file stays gzip. With an address rule (a
source registered through the curator API) every connection goes to public peers only
(`public_peers.tcp_connector`).
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from email.utils import parsedate_to_datetime
from urllib.parse import quote, urlsplit

import aiohttp
from yarl import URL

from catalog.backoff import parse_retry_after
from catalog.errors import (
    InvalidSourceURLError,
    NotPublicAddressError,
    PeerRefusedError,
    SourceChangedError,
    SourceError,
)
from catalog.public_address import PublicAddressRule
from catalog.source_spec import check_source_url
from catalog.store.base import ByteRange
from mirror.retry import (
    DEFAULT_POLICY,
    IGNORED_RANGE,
    RESET,
    SERVER_ERROR,
    TIMEOUT,
    TRUNCATION,
    RetryPolicy,
)
from mirror.sources.base import Skipped, SourceEntry
from mirror.sources.checks import check_size_unchanged, os_error_cause
from mirror.sources.http_listing import ListingItem, parse_listing
from mirror.sources.listing_guard import (
    MAX_LISTING_PAGE,
    inside,
    read_page,
    repeated_ancestor,
    signature,
)
from mirror.sources.public_peers import tcp_connector

MAX_DEPTH = 64
MAX_REDIRECTS = 10
REDIRECTS = {301, 302, 303, 307, 308}
TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}
USER_AGENT = "datamirror/0.1"
STATUS_HINTS = {
    401: "the source needs credentials datamirror does not have",
    403: "the server refuses access; check the URL and that the data is public",
    404: "check the URL: the server has no such file or folder",
    410: "the server says the file is gone for good",
}


class HTTPSource:
    """A folder URL whose pages list their children."""

    def __init__(
        self,
        url: str,
        *,
        connections_per_host: int = 16,
        listing_concurrency: int = 32,
        policy: RetryPolicy = DEFAULT_POLICY,
        address_rule: PublicAddressRule | None = None,
        max_listing_page: int = MAX_LISTING_PAGE,
    ) -> None:
        self._url = url if url.endswith("/") else url + "/"
        self._max_page = max_listing_page
        self._skipped: builtins.list[Skipped] = []
        self._landed = self._url
        self._rule = address_rule
        self._connections = connections_per_host
        self._listing_concurrency = listing_concurrency
        self._policy = policy
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return self._url

    @property
    def skipped(self) -> builtins.list[Skipped]:
        """The folders the last `list` did not follow, and why."""
        return builtins.list(self._skipped)

    def session(self) -> aiohttp.ClientSession:
        """The one session of this source (made on first use, inside the running loop)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=tcp_connector(self._rule, limit_per_host=self._connections, limit=0),
                auto_decompress=False,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=120),
                headers={"User-Agent": USER_AGENT},
            )
        return self._session

    def file_url(self, path: str) -> str:
        return self._url + quote(path)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def list(self) -> AsyncIterator[SourceEntry]:
        """Crawl folder by folder, one level at a time, pages fetched concurrently; a
        folder that lists what an ancestor lists (a loop) is not followed."""
        slots = asyncio.Semaphore(self._listing_concurrency)
        self._skipped = []
        seen: dict[str, int] = {}
        folders = [""]
        for _ in range(MAX_DEPTH):
            pages = await asyncio.gather(*(self._list_folder(f, slots) for f in folders))
            files: builtins.list[SourceEntry] = []
            deeper: builtins.list[str] = []
            for folder, items in zip(folders, pages, strict=True):
                if items is None or self._repeats(folder, items, seen):
                    continue
                for item in items:
                    if item.is_dir:
                        deeper.append(f"{folder}{item.name}/")
                    else:
                        files.append(listed_entry(folder + item.name, item))
            for entry in await self._complete_sizes(files):
                yield entry
            if not deeper:
                return
            folders = deeper
        reason = f"folders nest deeper than {MAX_DEPTH} levels here: not followed"
        self._skipped.extend(Skipped(folder, reason) for folder in folders)

    def _repeats(
        self, folder: str, items: builtins.list[ListingItem], seen: dict[str, int]
    ) -> bool:
        listed = seen[folder] = signature(items)
        ancestor = repeated_ancestor(folder, listed, seen) if folder else None
        if ancestor is not None:
            reason = f"it lists what {ancestor or 'the root'} lists (a loop?): not followed"
            self._skipped.append(Skipped(folder, reason))
        return ancestor is not None

    async def _list_folder(
        self, folder: str, slots: asyncio.Semaphore
    ) -> builtins.list[ListingItem] | None:
        """The folder's children; None (and a skip) when its page redirects out of the
        folder where the root's page is: such a redirect is not followed."""
        url = self.file_url(folder)
        async with slots:
            async for attempt in self._policy.retrying():
                with attempt, client_errors(url):
                    return await self._read_listing(folder, url)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _read_listing(self, folder: str, url: str) -> builtins.list[ListingItem] | None:
        target = URL(url, encoded=True)
        for _ in range(MAX_REDIRECTS):
            async with self.session().get(target, allow_redirects=not folder) as response:
                if folder and response.status in REDIRECTS:
                    target = response.url.join(URL(response.headers.get("Location", "")))
                    if not inside(target, self._landed):
                        reason = f"its page redirects out of the source, to {target}"
                        self._skipped.append(Skipped(folder, reason))
                        return None
                    continue
                check_status(response, url)
                if not folder:  # where the root's page is (http -> https, say)
                    self._landed = str(response.url)
                page = await read_page(response, url, self._max_page)
                return parse_listing(page, str(response.url), response.content_type)
        self._skipped.append(Skipped(folder, f"its page redirects {MAX_REDIRECTS} times"))
        return None

    async def _complete_sizes(
        self, entries: builtins.list[SourceEntry]
    ) -> builtins.list[SourceEntry]:
        """HEAD the files whose listing rows gave no exact size, in parallel, bounded."""
        slots = asyncio.Semaphore(self._connections)

        async def complete(entry: SourceEntry) -> SourceEntry:
            if entry.size >= 0:
                return entry
            async with slots:
                return await self.stat(entry.path)

        return builtins.list(await asyncio.gather(*(complete(e) for e in entries)))

    async def stat(self, path: str) -> SourceEntry:
        """HEAD the file; where HEAD gives no length (Apache, empty files), GET one byte."""
        url = self.file_url(path)
        async for attempt in self._policy.retrying():
            with attempt, client_errors(url):
                async with self.session().head(url, allow_redirects=True) as response:
                    check_status(response, url)
                    if response.content_length is not None:
                        return head_entry(path, response, response.content_length)
                probe = {"Range": "bytes=0-0", "Accept-Encoding": "identity"}
                async with self.session().get(url, headers=probe) as response:
                    return head_entry(path, response, probed_size(response, url))
        raise AssertionError("unreachable")  # pragma: no cover

    async def read(
        self, path: str, byte_range: ByteRange | None = None, *, version: str | None = None
    ) -> AsyncIterator[bytes]:
        """GET the file or a range of it; the response must be exactly what was asked."""
        if byte_range is not None and byte_range.length == 0:
            return
        url = self.file_url(path)
        headers = {"Accept-Encoding": "identity"}
        if byte_range is not None:
            headers["Range"] = f"bytes={byte_range.start}-{byte_range.end - 1}"
        if version and version.startswith("etag:"):
            headers["If-Match"] = version.removeprefix("etag:")
        with client_errors(url):
            async with self.session().get(url, headers=headers) as response:
                expected = check_response(response, url, byte_range, version)
                async for chunk in checked_body(response, url, expected):
                    yield chunk


def listed_entry(path: str, item: ListingItem) -> SourceEntry:
    """An entry from a listing row; size -1 until a HEAD tells it."""
    return SourceEntry(path, item.size if item.size is not None else -1, item.mtime)


def head_entry(path: str, response: aiohttp.ClientResponse, size: int) -> SourceEntry:
    modified = response.headers.get("Last-Modified")
    try:
        mtime = parsedate_to_datetime(modified) if modified else None
    except (TypeError, ValueError):
        mtime = None
    return SourceEntry(path, size, mtime, response.headers.get("ETag"))


def probed_size(response: aiohttp.ClientResponse, url: str) -> int:
    """The size from the answer to `Range: bytes=0-0` (RFC 9110 §14.4: `bytes */0` for 416)."""
    if response.status in {206, 416}:
        total = response.headers.get("Content-Range", "").rpartition("/")[2]
    else:
        check_status(response, url)
        total = str(response.content_length) if response.content_length is not None else ""
    if not total.isdigit():
        raise SourceError(
            url,
            "the server tells the size of the file neither to HEAD nor to a ranged GET",
            hint="datamirror needs exact sizes; this server does not give them",
        )
    return int(total)


def check_status(response: aiohttp.ClientResponse, url: str) -> None:
    """Raise the SourceError an error status means; transient ones carry Retry-After."""
    status = response.status
    if status < 300:
        return
    cause = f"HTTP {status} {response.reason or ''}".rstrip()
    if status in TRANSIENT_STATUS:
        delay = parse_retry_after(response.headers.get("Retry-After"))
        fault = SERVER_ERROR if status >= 500 else None
        raise SourceError(url, cause, transient=True, retry_after=delay, fault=fault)
    raise SourceError(url, cause, hint=STATUS_HINTS.get(status))


def check_response(
    response: aiohttp.ClientResponse,
    url: str,
    byte_range: ByteRange | None,
    version: str | None,
) -> int | None:
    """The body length to expect; a changed file or an ignored range is an error."""
    if response.status == 412:
        raise SourceChangedError(url, "its ETag no longer matches (HTTP 412)")
    if response.status == 416:
        raise SourceChangedError(url, "the range lies past its end now (HTTP 416)")
    check_status(response, url)
    check_version(response, url, version)
    if byte_range is None:
        total = response.content_length
    else:
        total = check_range(response, url, byte_range)
    if total is not None:
        check_size_unchanged(url, total, version)
    return byte_range.length if byte_range is not None else response.content_length


def check_version(response: aiohttp.ClientResponse, url: str, version: str | None) -> None:
    """A server that ignores If-Match still tells its ETag; it must be the one listed."""
    if not version or not version.startswith("etag:"):
        return
    etag = response.headers.get("ETag")
    if etag and etag.removeprefix("W/") != version.removeprefix("etag:").removeprefix("W/"):
        raise SourceChangedError(url, f"its ETag moved to {etag}")


def check_range(response: aiohttp.ClientResponse, url: str, byte_range: ByteRange) -> int | None:
    """The complete size from Content-Range, after checking it names the range asked."""
    if response.status != 206:
        raise SourceError(
            url,
            f"the server ignored the Range request (HTTP {response.status})",
            hint="this server cannot resume or split downloads",
            transient=response.status == 200,
            fault=IGNORED_RANGE,
        )
    want = f"bytes {byte_range.start}-{byte_range.end - 1}/"
    got = response.headers.get("Content-Range", "")
    if not got.startswith(want):
        raise SourceChangedError(url, f"asked for {want}*, got {got or 'no Content-Range'}")
    total = got.removeprefix(want)
    return int(total) if total.isdigit() else None


async def checked_body(
    response: aiohttp.ClientResponse, url: str, expected: int | None
) -> AsyncIterator[bytes]:
    """The body in chunks; a body that ends short (or runs long) is a transient error."""
    received = 0
    async for chunk in response.content.iter_any():  # as received: no re-chunking copies
        received += len(chunk)
        if expected is not None and received > expected:
            raise SourceError(url, f"body ran past the {expected} bytes announced")
        yield chunk
    if expected is not None and received != expected:
        raise SourceError(
            url, f"body ended after {received} of {expected} bytes", transient=True,
            fault=TRUNCATION,
        )  # fmt: skip


@contextmanager
def client_errors(url: str) -> Iterator[None]:
    """Translate aiohttp's errors into one-line, transient SourceErrors."""
    try:
        yield
    except NotPublicAddressError as exc:
        raise PeerRefusedError(url, exc) from exc
    except aiohttp.ClientConnectorError as exc:
        cause = os_error_cause(exc.os_error)
        raise SourceError(
            url,
            f"cannot connect to {exc.host}:{exc.port}: {cause}",
            transient=True,
            hint=f"check that {urlsplit(url).hostname} is the right host and is reachable",
        ) from exc
    except aiohttp.InvalidURL as exc:
        reason = exc.description or _url_problem(url)
        hint = "fix the source's URL (`datamirror source add` checks it)"
        raise SourceError(url, f"not a URL datamirror can fetch: {reason}", hint=hint) from exc
    except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError) as exc:
        fault = TRUNCATION if is_truncation(exc) else RESET
        raise SourceError(url, f"connection broke: {exc}", transient=True, fault=fault) from exc
    except aiohttp.ServerTimeoutError as exc:
        raise SourceError(url, f"timed out: {exc}", transient=True, fault=TIMEOUT) from exc
    except aiohttp.ClientOSError as exc:
        raise SourceError(url, str(exc) or type(exc).__name__, transient=True, fault=RESET) from exc
    except aiohttp.ClientError as exc:
        raise SourceError(url, str(exc) or type(exc).__name__, transient=True) from exc
    except TimeoutError as exc:
        raise SourceError(url, "timed out", transient=True, fault=TIMEOUT) from exc


def is_truncation(error: aiohttp.ClientError) -> bool:
    """A body that ended (cleanly) before its Content-Length, not a connection reset
    (aiohttp tells them apart only in its message, which names the reset)."""
    text = str(error)
    return (
        isinstance(error, aiohttp.ClientPayloadError)
        and "ContentLengthError" in text
        and "ConnectionResetError" not in text
    )


def _url_problem(url: str) -> str:
    """What is wrong with a URL aiohttp refused, as the source URL check words it."""
    try:
        check_source_url(url)
    except InvalidSourceURLError as exc:
        return exc.reason
    return "it does not parse"
