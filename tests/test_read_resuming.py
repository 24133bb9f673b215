"""A part whose transfer breaks off is asked for again from the last good byte."""

from __future__ import annotations

import os
import re

import pytest
from aiohttp import web

from catalog.errors import SourceChangedError, SourceError
from catalog.store.base import ByteRange
from mirror.retry import RetryPolicy
from mirror.sources.base import SourceEntry
from mirror.sources.http import HTTPSource
from mirror.transfer import read_resuming
from tests.fixtures.misbehaving import Handler, misbehaving

DATA = os.urandom(256 * 1024)
FAST = RetryPolicy(attempts=3, initial_wait=0.01)


def breaking_server(breaks: int, ranges: list[str]) -> Handler:
    """Serves DATA's ranges; the first `breaks` answers stop halfway and drop the link."""

    async def handler(request: web.Request) -> web.StreamResponse:
        asked = request.headers["Range"]
        ranges.append(asked)
        match = re.fullmatch(r"bytes=(\d+)-(\d+)", asked)
        assert match is not None
        start, end = int(match.group(1)), int(match.group(2)) + 1
        body = DATA[start:end]
        response = web.StreamResponse(
            status=206, headers={"Content-Range": f"bytes {start}-{end - 1}/{len(DATA)}"}
        )
        response.content_length = len(body)
        await response.prepare(request)
        if len(ranges) <= breaks:
            await response.write(body[: len(body) // 2])
            assert request.transport is not None
            request.transport.close()
            return response
        await response.write(body)
        return response

    return handler


async def read_span(handler: Handler, span: ByteRange) -> bytes:
    async with misbehaving(handler) as url:
        source = HTTPSource(url)
        entry = SourceEntry("f.bin", len(DATA))
        try:
            return b"".join([chunk async for chunk in read_resuming(source, entry, span, FAST)])
        finally:
            await source.close()


async def test_a_broken_transfer_continues_from_the_last_good_byte() -> None:
    ranges: list[str] = []
    span = ByteRange(1000, 201_000)
    assert await read_span(breaking_server(1, ranges), span) == DATA[1000:201_000]
    assert ranges[0] == "bytes=1000-200999"
    resumed_at = int(ranges[1].removeprefix("bytes=").split("-")[0])
    assert 1000 < resumed_at <= 1000 + 100_000
    assert ranges[1].endswith("-200999")


async def test_a_transfer_that_keeps_breaking_gives_up_after_the_policy_attempts() -> None:
    ranges: list[str] = []
    with pytest.raises(SourceError) as caught:
        await read_span(breaking_server(99, ranges), ByteRange(0, 100_000))
    assert caught.value.is_transient()
    assert len(ranges) == FAST.attempts


async def test_a_file_that_changed_is_not_resumed() -> None:
    ranges: list[str] = []

    async def moved(request: web.Request) -> web.StreamResponse:
        ranges.append(request.headers["Range"])
        return web.Response(status=416)

    with pytest.raises(SourceChangedError):
        await read_span(moved, ByteRange(0, 100))
    assert len(ranges) == 1
