"""Ranged reads of a remote (S3) store's objects over plain HTTP, for the server's hot path.

The SDK path costs a request signature and three thread hops per read (open, read, close).
Here each object gets one presigned URL, minted once and reused until it nears expiry, and
its bytes come through one pooled aiohttp session on the event loop: no signing per read,
no threads, kept-alive connections. A read whose client stops taking bytes gives its
connection back and asks again from where it stopped when the client catches up, so slow
clients never hold the pool from the others. A store that cannot presign (no
credentials) is read through `Store.stream` as before.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiohttp
from aiohttp import web
from cachetools import TTLCache

from catalog.errors import ObjectNotFoundError, StoreError
from catalog.store.base import ByteRange, Store, SupportsPresign
from catalog.store.s3_client import (
    Problem,
    RangeNotHonouredError,
    S3FailureError,
    http_session,
    presigned_get,
)

URL_SECONDS = 3600
RENEW_BEFORE = 600.0
MAX_URLS = 10_000
CONNECTIONS = 64
STALL_SECONDS = 1.0


class PresignedUrls:
    """key -> a presigned GET URL, reused until `RENEW_BEFORE` seconds before it expires."""

    def __init__(
        self, store: SupportsPresign, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.store = store
        self._urls: TTLCache[str, str] = TTLCache(MAX_URLS, URL_SECONDS - RENEW_BEFORE, timer=clock)

    async def url(self, key: str) -> str:
        try:
            return self._urls[key]
        except KeyError:
            pass
        url = self._urls[key] = await self.store.presign(key, URL_SECONDS)
        return url


class RemoteReader:
    """One pooled HTTP session for the presigned reads of one worker; `close` at shutdown."""

    def __init__(self, store: Store, urls: PresignedUrls) -> None:
        self.store = store
        self.urls = urls
        self.session = http_session(CONNECTIONS, read_timeout=60)

    def sender(self, key: str) -> PresignedSender:
        return PresignedSender(self, key)

    async def close(self) -> None:
        await self.session.close()


class PresignedSender:
    def __init__(self, reader: RemoteReader, key: str) -> None:
        self.reader = reader
        self.key = key

    def read_now(self, span: ByteRange) -> bytes | None:
        return None

    async def send(
        self, request: web.BaseRequest, response: web.StreamResponse, span: ByteRange
    ) -> None:
        try:
            url = await self.reader.urls.url(self.key)
        except StoreError:
            async for chunk in self.reader.store.stream(self.key, span):
                await response.write(chunk)
            return
        try:
            await self._copy(url, response, span)
        except ConnectionResetError:
            raise  # our own client went away (aiohttp's reset error is also a ClientError)
        except aiohttp.ClientError as exc:
            detail = f"object store read of {self.key} failed: {exc}"
            raise StoreError(detail, transient=True) from exc

    async def _copy(self, url: str, response: web.StreamResponse, span: ByteRange) -> None:
        offset = span.start
        try:
            while offset < span.end:
                offset = await self._copy_until_stalled(url, response, ByteRange(offset, span.end))
        except S3FailureError as failure:
            if failure.problem is Problem.NOT_FOUND:
                raise ObjectNotFoundError(self.key) from failure
            raise StoreError(f"object store read of {self.key} failed: {failure}") from failure
        except RangeNotHonouredError as exc:
            raise StoreError(f"object store read of {self.key}: {exc}") from exc

    async def _copy_until_stalled(
        self, url: str, response: web.StreamResponse, span: ByteRange
    ) -> int:
        """Copy `span` until the client stops taking bytes for `STALL_SECONDS`: then the
        upstream connection goes back (closed) before the write is waited for, so clients
        that read slowly never hold the pool's connections from the others. Returns the
        offset reached; the caller asks again from there."""
        offset = span.start
        stalled: asyncio.Task[None] | None = None
        try:
            async with presigned_get(self.reader.session, url, span) as upstream:
                async for chunk in upstream.content.iter_any():
                    write = asyncio.ensure_future(response.write(chunk))
                    offset += len(chunk)
                    done, _ = await asyncio.wait({write}, timeout=STALL_SECONDS)
                    if not done:
                        stalled = write
                        break
                    write.result()
            if stalled is None and offset != span.end:
                got = offset - span.start
                raise StoreError(f"object store sent {got} of {span.length} bytes of {self.key}")
            if stalled is not None:
                await stalled
        finally:
            if stalled is not None and not stalled.done():
                stalled.cancel()
        return offset

    async def close(self) -> None:
        return None
