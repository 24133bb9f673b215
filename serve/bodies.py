"""Writing a response body made of segments: literal bytes (multipart headers) and byte
ranges of one object, through one of three senders:

- `LocalFileSender`: a local file held open, zero-copy with `loop.sendfile` on the transport
  (the machinery aiohttp's FileResponse uses), falling back to reads in a thread.
- `StreamSender`: any store, streamed in bounded chunks; `write` awaits the transport's
  drain, so a slow client holds back the reads (backpressure).
- `BytesSender`: bytes already in memory (small hot objects, generated documents).

Every sender can also offer a span's bytes at once (`read_now`) when that needs no wait:
small answers then go out as one plain `web.Response`, headers and body in one write.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from typing import Protocol

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter

from catalog.store.base import STREAM_CHUNK, ByteRange, Store
from serve.open_files import OpenFile, OpenFiles

Segment = bytes | ByteRange
DIRECT_SENDFILE = 1024 * 1024
WRITE_SLICE = 64 * 1024
"""What `BytesSender` hands the transport at a time: aiohttp waits for the socket after
64 KiB, so a client that reads slowly holds about two slices of the server's memory, not
a copy of the whole body (asyncio's transport copies what the socket refuses)."""


class Sender(Protocol):
    def read_now(self, span: ByteRange) -> bytes | bytearray | None:
        """The span's bytes if they can be had without waiting (memory, page cache)."""
        ...

    async def send(
        self, request: web.BaseRequest, response: web.StreamResponse, span: ByteRange
    ) -> None:
        """Write the span's bytes into `response`, prepared for `request`."""
        ...

    async def close(self) -> None: ...


class BytesSender:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read_now(self, span: ByteRange) -> bytes | None:
        return self.data[span.start : span.end]

    async def send(
        self, request: web.BaseRequest, response: web.StreamResponse, span: ByteRange
    ) -> None:
        view = memoryview(self.data)
        for start in range(span.start, span.end, WRITE_SLICE):
            await response.write(view[start : min(start + WRITE_SLICE, span.end)])

    async def close(self) -> None:
        return None


class StreamSender:
    def __init__(self, store: Store, key: str, chunk_size: int = STREAM_CHUNK) -> None:
        self.store = store
        self.key = key
        self.chunk_size = chunk_size

    def read_now(self, span: ByteRange) -> bytes | None:
        return None

    async def send(
        self, request: web.BaseRequest, response: web.StreamResponse, span: ByteRange
    ) -> None:
        async for chunk in self.store.stream(self.key, span, self.chunk_size):
            await response.write(chunk)

    async def close(self) -> None:
        return None


class LocalFileSender:
    """A local object file held open in `OpenFiles`. With `sendfile` on, a span goes out by
    `os.sendfile` straight away as far as the socket takes it (no future, no executor), the
    rest through `loop.sendfile`, which waits for the socket; else by reads (from the page
    cache on the loop when small, in a thread otherwise)."""

    def __init__(
        self, files: OpenFiles, handle: OpenFile, *, sendfile: bool, chunk_size: int = STREAM_CHUNK
    ) -> None:
        self.files = files
        self.handle = handle
        self.sendfile = sendfile
        self.chunk_size = chunk_size

    def read_now(self, span: ByteRange) -> bytes | bytearray | None:
        """With sendfile on, never: sendfile costs less CPU than a copy even for 64 KiB."""
        return None if self.sendfile else self.handle.read_cached(span.start, span.length)

    async def send(
        self, request: web.BaseRequest, response: web.StreamResponse, span: ByteRange
    ) -> None:
        if not self.sendfile:
            await self._send_by_reads(response, span)
            return
        transport = request.transport
        if transport is None:
            raise ConnectionResetError("connection lost")
        loop = asyncio.get_running_loop()
        file = self.handle.file
        start = span.start
        if transport.get_write_buffer_size() == 0:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                start += _sendfile_now(sock.fileno(), file.fileno(), span)
        if start == span.end:
            return
        try:
            await loop.sendfile(transport, file, start, span.end - start, fallback=False)
        except (NotImplementedError, asyncio.SendfileNotAvailableError):
            await self._send_by_reads(response, ByteRange(start, span.end))
        except ConnectionError:
            raise
        except OSError as exc:  # ETIMEDOUT: the client read nothing for the send timeout
            raise ConnectionResetError(f"sendfile failed: {exc}") from exc

    async def _send_by_reads(self, response: web.StreamResponse, span: ByteRange) -> None:
        offset = span.start
        fd = self.handle.file.fileno()
        while offset < span.end:
            size = min(self.chunk_size, span.end - offset)
            chunk = await asyncio.to_thread(os.pread, fd, size, offset)
            if not chunk:
                raise ConnectionResetError("the file shrank while it was sent")
            await response.write(chunk)
            offset += len(chunk)

    async def close(self) -> None:
        self.files.release(self.handle)


def _sendfile_now(socket_fd: int, file_fd: int, span: ByteRange) -> int:
    """As much of `span` as the socket takes without waiting, up to `DIRECT_SENDFILE` bytes
    (so a fast reader of a big file cannot hold the event loop); the bytes sent."""
    sent = 0
    limit = min(span.length, DIRECT_SENDFILE)
    while sent < limit:
        try:
            count = os.sendfile(socket_fd, file_fd, span.start + sent, limit - sent)
        except (BlockingIOError, InterruptedError):
            break
        except OSError as exc:
            raise ConnectionResetError(f"sendfile failed: {exc}") from exc
        if count == 0:
            break
        sent += count
    return sent


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
                await self._write_segments(request)
            return writer
        finally:
            if self.sender is not None:
                await self.sender.close()

    async def _write_segments(self, request: web.BaseRequest) -> None:
        for segment in self.segments:
            if isinstance(segment, bytes):
                await self.write(segment)
            elif segment.length:
                assert self.sender is not None
                await self.sender.send(request, self, segment)
