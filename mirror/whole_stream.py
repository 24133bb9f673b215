"""One file read as one stream, for a server that keeps ignoring Range requests (as aiohttp
users, aria2c and rclone fall back to): its parts are asked for in file order and served
from a single GET of the whole file. A stream that breaks off is asked for again from the
start, the bytes before the part skipped (no Range can resume it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from catalog.errors import SourceError
from catalog.store.base import ByteRange
from mirror.retry import IGNORED_RANGE
from mirror.sources.base import Source, SourceEntry

IGNORED_IN_A_ROW = 3
"""Ignored Range answers in a row for one file after which it is fetched as one stream."""


class RangesIgnoredError(SourceError):
    """The server keeps ignoring Range requests: the file starts again as one stream."""

    def __init__(self, url: str) -> None:
        super().__init__(
            url, f"the server ignored Range {IGNORED_IN_A_ROW} times in a row",
            transient=True, fault=IGNORED_RANGE,
            hint="the file is fetched again as one stream, without ranges",
        )  # fmt: skip


class WholeStream:
    """A reader of one file's ranges, in increasing order, from one whole-file GET."""

    def __init__(self, source: Source, entry: SourceEntry) -> None:
        self._source = source
        self._entry = entry
        self._stream: AsyncIterator[bytes] | None = None
        self._position = 0  # the file offset of `_left`'s first byte
        self._left = b""

    @property
    def url(self) -> str:
        return self._source.url

    def list(self) -> AsyncIterator[SourceEntry]:
        return self._source.list()

    async def stat(self, path: str) -> SourceEntry:
        return await self._source.stat(path)

    async def read(
        self, path: str, byte_range: ByteRange | None = None, *, version: str | None = None
    ) -> AsyncIterator[bytes]:
        span = byte_range or ByteRange(0, self._entry.size)
        if span.start < self._position or self._stream is None:
            await self.close()
            self._stream = aiter(self._source.read(path, version=version))
            self._position, self._left = 0, b""
        while self._position < span.end:
            if not self._left:
                self._left = await self._next()
                if not self._left:
                    return
            chunk, self._left = self._left, b""
            start, end = self._position, self._position + len(chunk)
            if end > span.end:
                chunk, self._left = chunk[: span.end - start], chunk[span.end - start :]
                end = span.end
            self._position = end
            if end <= span.start:
                continue
            yield chunk[span.start - start :] if start < span.start else chunk

    async def _next(self) -> bytes:
        assert self._stream is not None
        try:
            return await anext(self._stream, b"")
        except BaseException:
            self._stream = None  # broken: the next read starts it again
            raise

    async def close(self) -> None:
        """Stop the stream (the source stays open: it is the sync's)."""
        stream, self._stream = self._stream, None
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
