"""HTTP(S) trees with directory listings (nginx, Apache, plain links), read with aiohttp.

fsspec's HTTPFileSystem gives no sizes from listings (one HEAD per file) and does not
check that a Range was honoured, so this reader is written here: listings are crawled
concurrently, sizes come from the listing where it prints them exactly, else from HEAD,
and every ranged read must come back as 206 with the Content-Range asked for.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from email.utils import parsedate_to_datetime
from urllib.parse import quote

import aiohttp

from catalog.errors import SourceChangedError, SourceError
from catalog.store.base import ByteRange
from mirror.retry import DEFAULT_POLICY, RetryPolicy
from mirror.sources.base import SourceEntry
from mirror.sources.http_listing import ListingItem, parse_listing

CHUNK = 256 * 1024
TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}
USER_AGENT = "datamirror/0.1 (+https://github.com/datamirror)"


class HTTPSource:
    """A folder URL whose pages list their children."""

    def __init__(
        self,
        url: str,
        *,
        connections_per_host: int = 16,
        listing_concurrency: int = 8,
        policy: RetryPolicy = DEFAULT_POLICY,
    ) -> None:
        self._url = url if url.endswith("/") else url + "/"
        self._connections = connections_per_host
        self._listing_slots = asyncio.Semaphore(listing_concurrency)
        self._policy = policy
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return self._url

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit_per_host=self._connections, limit=0),
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
        queue: builtins.list[str] = [""]
        while queue:
            folders, queue = queue, []
            pages = await asyncio.gather(*(self._list_folder(f) for f in folders))
            entries: builtins.list[SourceEntry] = []
            for folder, items in zip(folders, pages, strict=True):
                for item in items:
                    if item.is_dir:
                        queue.append(f"{folder}{item.name}/")
                    else:
                        entries.append(await self._entry(folder + item.name, item))
            for entry in await self._complete_sizes(entries):
                yield entry

    async def _list_folder(self, folder: str) -> builtins.list[ListingItem]:
        url = self.file_url(folder)
        async with self._listing_slots:
            async for attempt in self._policy.retrying():
                with attempt, client_errors(url):
                    async with self.session().get(url) as response:
                        check_status(response, url)
                        page = await response.text(errors="replace")
                        return parse_listing(page, str(response.url), response.content_type)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _entry(self, path: str, item: ListingItem) -> SourceEntry:
        return SourceEntry(path, item.size if item.size is not None else -1, item.mtime)

    async def _complete_sizes(
        self, entries: builtins.list[SourceEntry]
    ) -> builtins.list[SourceEntry]:
        """HEAD the files whose listing rows gave no exact size."""
        slots = asyncio.Semaphore(self._connections)

        async def complete(entry: SourceEntry) -> SourceEntry:
            if entry.size >= 0:
                return entry
            async with slots:
                return await self.stat(entry.path)

        return builtins.list(await asyncio.gather(*(complete(e) for e in entries)))

    async def stat(self, path: str) -> SourceEntry:
        url = self.file_url(path)
        async for attempt in self._policy.retrying():
            with attempt, client_errors(url):
                async with self.session().head(url, allow_redirects=True) as response:
                    check_status(response, url)
                    if response.content_length is None:
                        raise SourceError(url, "the server gives no Content-Length")
                    modified = response.headers.get("Last-Modified")
                    return SourceEntry(
                        path,
                        response.content_length,
                        parsedate_to_datetime(modified) if modified else None,
                        response.headers.get("ETag"),
                    )
        raise AssertionError("unreachable")  # pragma: no cover

    async def read(
        self, path: str, byte_range: ByteRange | None = None, *, version: str | None = None
    ) -> AsyncIterator[bytes]:
        url = self.file_url(path)
        headers = {"Accept-Encoding": "identity"}
        if byte_range is not None:
            if byte_range.length == 0:
                return
            headers["Range"] = f"bytes={byte_range.start}-{byte_range.end - 1}"
        if version and version.startswith("etag:"):
            headers["If-Match"] = version.removeprefix("etag:")
        with client_errors(url):
            async for chunk in self._get(url, headers, byte_range):
                yield chunk

    async def _get(
        self, url: str, headers: dict[str, str], byte_range: ByteRange | None
    ) -> AsyncIterator[bytes]:
        async with self.session().get(url, headers=headers) as response:
            if response.status == 412:
                raise SourceChangedError(url, "its ETag moved")
            check_status(response, url)
            expected = check_range(response, url, byte_range)
            received = 0
            async for chunk in response.content.iter_chunked(CHUNK):
                received += len(chunk)
                yield chunk
            if expected is not None and received != expected:
                raise SourceError(
                    url, f"body ended after {received} of {expected} bytes", transient=True
                )


def check_status(response: aiohttp.ClientResponse, url: str) -> None:
    status = response.status
    if status < 300:
        return
    retry_after = response.headers.get("Retry-After")
    delay = float(retry_after) if retry_after and retry_after.isdigit() else None
    if status in TRANSIENT_STATUS:
        raise SourceError(
            url, f"HTTP {status} {response.reason}", transient=True, retry_after=delay
        )
    hint = {
        401: "the source needs credentials datamirror does not have",
        403: "the server refuses access; check the URL and that the data is public",
        404: "check the URL: the server has no such file or folder",
    }.get(status)
    raise SourceError(url, f"HTTP {status} {response.reason}", hint=hint)


def check_range(
    response: aiohttp.ClientResponse, url: str, byte_range: ByteRange | None
) -> int | None:
    """The body length to expect; a server that ignored or changed the range is an error."""
    if byte_range is None:
        return response.content_length
    if response.status != 206:
        raise SourceError(
            url,
            f"the server ignored the Range request (HTTP {response.status})",
            hint="this server cannot resume or split downloads",
        )
    want = f"bytes {byte_range.start}-{byte_range.end - 1}/"
    got = response.headers.get("Content-Range", "")
    if not got.startswith(want):
        raise SourceChangedError(url, f"asked for {want}*, got {got or 'no Content-Range'}")
    return byte_range.length


@contextmanager
def client_errors(url: str) -> Iterator[None]:
    """Translate aiohttp's errors into one-line, transient SourceErrors."""
    try:
        yield
    except aiohttp.ClientConnectorError as exc:
        cause = exc.os_error.strerror or str(exc.os_error)
        raise SourceError(
            url, f"cannot connect to {exc.host}:{exc.port}: {cause}", transient=True
        ) from exc
    except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError) as exc:
        raise SourceError(url, f"connection broke: {exc}", transient=True) from exc
    except aiohttp.ClientError as exc:
        raise SourceError(url, str(exc) or type(exc).__name__, transient=True) from exc
    except TimeoutError as exc:
        raise SourceError(url, "timed out", transient=True) from exc
