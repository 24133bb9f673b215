"""Writing a response body made of segments: literal bytes (multipart headers) and byte
ranges of one object, through one of three senders:

- `SendfileSender`: a local file, zero-copy with `loop.sendfile` on the transport (the
  machinery aiohttp's FileResponse uses), falling back to reads in a thread.
- `StreamSender`: any store, streamed in bounded chunks; `write` awaits the transport's
  drain, so a slow client holds back the reads (backpressure).
- `BytesSender`: bytes already in memory (small hot objects, generated documents).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Protocol

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter

from catalog.errors import ObjectNotFoundError
from catalog.store.base import STREAM_CHUNK, ByteRange, Store

Segment = bytes | ByteRange


class Sender(Protocol):
    async def send(self, response: web.StreamResponse, span: ByteRange) -> None: ...

    async def close(self) -> None: ...


class BytesSender:
    def __init__(self, data: bytes) -> None:
        self.data = data

    async def send(self, response: web.StreamResponse, span: ByteRange) -> None:
        await response.write(memoryview(self.data)[span.start : span.end])

    async def close(self) -> None:
        return None


class StreamSender:
    def __init__(self, store: Store, key: str, chunk_size: int = STREAM_CHUNK) -> None:
        self.store = store
        self.key = key
        self.chunk_size = chunk_size

    async def send(self, response: web.StreamResponse, span: ByteRange) -> None:
        async for chunk in self.store.stream(self.key, span, self.chunk_size):
            await response.write(chunk)

    async def close(self) -> None:
        return None


class SendfileSender:
    """An open local file; build it with `await SendfileSender.open(path)`."""

    def __init__(self, handle: IO[bytes], chunk_size: int = STREAM_CHUNK) -> None:
        self.handle = handle
        self.chunk_size = chunk_size

    @classmethod
    async def open(cls, path: Path, key: str) -> SendfileSender:
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFoundError(key) from None
        return cls(handle)

    async def send(self, response: web.StreamResponse, span: ByteRange) -> None:
        request = _request_of(response)
        transport = request.transport
        if transport is None:
            raise ConnectionResetError("connection lost")
        loop = asyncio.get_running_loop()
        try:
            await loop.sendfile(transport, self.handle, span.start, span.length, fallback=False)
        except (NotImplementedError, asyncio.SendfileNotAvailableError):
            await self._send_by_reads(response, span)

    async def _send_by_reads(self, response: web.StreamResponse, span: ByteRange) -> None:
        offset = span.start
        fd = self.handle.fileno()
        while offset < span.end:
            size = min(self.chunk_size, span.end - offset)
            chunk = await asyncio.to_thread(os.pread, fd, size, offset)
            if not chunk:
                raise ConnectionResetError("the file shrank while it was sent")
            await response.write(chunk)
            offset += len(chunk)

    async def close(self) -> None:
        await asyncio.to_thread(self.handle.close)


def _request_of(response: web.StreamResponse) -> web.BaseRequest:
    request = getattr(response, "_req", None)
    assert isinstance(request, web.BaseRequest), "the response is not prepared"
    return request


class BodyResponse(web.StreamResponse):
    """A response whose body is `segments`; HEAD and 304 answers send the headers only."""

    def __init__(
        self,
        *,
        status: int,
        headers: dict[str, str],
        segments: Sequence[Segment],
        sender: Sender | None,
    ) -> None:
        super().__init__(status=status, headers=headers)
        self.segments = segments
        self.sender = sender
        self.content_length = sum(len(s) if isinstance(s, bytes) else s.length for s in segments)

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        if self.prepared:
            return await super().prepare(request)
        try:
            writer = await super().prepare(request)
            if request.method != "HEAD" and self.status not in {204, 304}:
                await self._write_segments()
            return writer
        finally:
            if self.sender is not None:
                await self.sender.close()

    async def _write_segments(self) -> None:
        for segment in self.segments:
            if isinstance(segment, bytes):
                await self.write(segment)
            elif segment.length:
                assert self.sender is not None
                await self.sender.send(self, segment)
