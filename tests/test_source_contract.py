"""One contract for every Source: nginx (HTML and JSON listings), Apache httpd, FTP (MLSD
and LIST), S3 on moto and on `rclone serve s3`; and, for the readers that speak HTTP (the
HTTP source and the S3 source's object reads), the faults only the misbehaving server
produces."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from aiohttp import web

from catalog.errors import SourceChangedError, SourceError
from catalog.store.base import ByteRange
from mirror.sources.base import Source, SourceEntry
from mirror.sources.http import HTTPSource
from mirror.sources.s3 import S3Source
from tests.fixtures.misbehaving import misbehaving
from tests.fixtures.net import LOOPBACK, free_port
from tests.fixtures.sources import BIG, FAST, SourceBackend

CHUNK_BOUND = 1024 * 1024
FA = "genomes/escherichia_coli/K-12_MG1655.fa"
ODD = "odd dir/ünïcode & spaces.txt"
EMPTY = "a/empty.bin"


async def listing(source: Source) -> dict[str, SourceEntry]:
    return {entry.path: entry async for entry in source.list()}


async def chunks(
    source: Source, path: str, byte_range: ByteRange | None = None, version: str | None = None
) -> list[bytes]:
    return [chunk async for chunk in source.read(path, byte_range, version=version)]


async def read(
    source: Source, path: str, byte_range: ByteRange | None = None, version: str | None = None
) -> bytes:
    return b"".join(await chunks(source, path, byte_range, version))


async def stat(source: Source, path: str) -> SourceEntry:
    return await source.stat(path)


class TestSourceContract:
    async def test_the_listing_gives_every_file_once_with_its_exact_size(
        self, source_backend: SourceBackend, source: Source
    ) -> None:
        entries = [entry async for entry in source.list()]
        assert {e.path: e.size for e in entries} == {
            path: len(data) for path, data in source_backend.files.items()
        }
        assert len(entries) == len({e.path for e in entries})

    async def test_a_listing_of_a_subfolder_names_paths_relative_to_it(
        self, source_backend: SourceBackend
    ) -> None:
        genomes = source_backend.open(source_backend.url + "genomes/")
        assert sorted(await listing(genomes)) == [
            "escherichia_coli/K-12_MG1655.fa",
            "saccharomyces_cerevisiae/R64.fa",
        ]

    async def test_every_file_reads_back_exactly_whatever_its_name(
        self, source_backend: SourceBackend, source: Source
    ) -> None:
        for path, data in source_backend.files.items():
            assert await read(source, path) == data, path

    async def test_ranged_reads_return_exactly_those_bytes(
        self, source_backend: SourceBackend, source: Source
    ) -> None:
        fa, odd = source_backend.files[FA], source_backend.files[ODD]
        for path, data, (start, end) in [
            (ODD, odd, (0, 1)),
            (ODD, odd, (100, len(odd))),
            (FA, fa, (1000, 70_000)),
            (FA, fa, (65_536, 200_000)),
            (FA, fa, (len(fa) - 1, len(fa))),
            (FA, fa, (0, len(fa))),
        ]:
            assert await read(source, path, ByteRange(start, end)) == data[start:end]
        assert await read(source, FA, ByteRange(10, 10)) == b""

    async def test_reads_come_in_bounded_chunks_whole_and_by_range(
        self, source_backend: SourceBackend, source: Source
    ) -> None:
        data = source_backend.files[BIG]
        whole = await chunks(source, BIG)
        assert len(whole) > 1
        assert all(0 < len(chunk) <= CHUNK_BOUND for chunk in whole)
        assert b"".join(whole) == data
        ranged = await chunks(source, BIG, ByteRange(3, len(data) - 3))
        assert all(0 < len(chunk) <= CHUNK_BOUND for chunk in ranged)
        assert b"".join(ranged) == data[3:-3]

    async def test_stat_gives_the_size_and_time_the_listing_gives(self, source: Source) -> None:
        listed = await listing(source)
        for path in (FA, ODD, BIG):
            entry = await source.stat(path)
            assert (entry.path, entry.size) == (path, listed[path].size)
            assert entry.mtime is not None

    async def test_an_empty_file_is_listed_stated_and_read_as_zero_bytes(
        self, source: Source
    ) -> None:
        assert (await listing(source))[EMPTY].size == 0
        assert (await source.stat(EMPTY)).size == 0
        assert await read(source, EMPTY) == b""

    async def test_a_missing_file_is_a_permanent_error_naming_it(self, source: Source) -> None:
        for attempt in (read, stat):
            with pytest.raises(SourceError) as caught:
                await attempt(source, "genomes/nope.fa")
            assert not caught.value.is_transient()
            assert f"{source.url}genomes/nope.fa" in str(caught.value)

    async def test_a_file_that_changed_since_the_listing_is_an_error_not_spliced_bytes(
        self, source_backend: SourceBackend, source: Source
    ) -> None:
        listed = (await listing(source))[FA]
        new = b">changed\n" + source_backend.files[FA]
        source_backend.replace(FA, new)
        with pytest.raises(SourceChangedError) as ranged:
            await read(source, FA, ByteRange(0, 500), listed.version)
        assert ranged.value.is_transient()
        with pytest.raises(SourceChangedError):
            await read(source, FA, None, listed.version)
        fresh = await source.stat(FA)
        assert fresh.version != listed.version
        assert await read(source, FA, ByteRange(0, 500), fresh.version) == new[:500]
        assert await read(source, FA, None, fresh.version) == new

    async def test_an_unreachable_server_is_one_transient_line_naming_it(
        self, source_backend: SourceBackend
    ) -> None:
        address = f"{LOOPBACK}:{free_port()}"
        source = source_backend.open_unreachable(address)
        with pytest.raises(SourceError) as listed:
            await listing(source)
        with pytest.raises(SourceError) as read_:
            await read(source, "x.txt")
        for caught in (listed, read_):
            assert address in str(caught.value)
            assert "\n" not in str(caught.value)
            assert caught.value.is_transient()
        assert "refused" in str(read_.value).lower()
        if not source_backend.kind.startswith("s3"):  # botocore's message names no cause
            assert "refused" in str(listed.value).lower()


DATA = b"0123456789"


@dataclass(frozen=True)
class HTTPReader:
    """A reader whose server (an HTTP folder, an S3 endpoint) is at a URL."""

    kind: str
    open: Callable[[str], Source]
    ignored_range: str  # what its error says of a 200 to a ranged GET


HTTP_READERS = {
    "http": HTTPReader("http", lambda url: HTTPSource(url, policy=FAST), "ignored the Range"),
    "s3": HTTPReader(
        "s3",
        lambda url: S3Source(
            "s3://bucket/pub/", endpoint_url=url.rstrip("/"), no_sign_request=True, policy=FAST
        ),
        "no Content-Range",
    ),
}


@pytest.fixture(params=sorted(HTTP_READERS))
def http_reader(request: pytest.FixtureRequest) -> HTTPReader:
    return HTTP_READERS[request.param]


async def read_from(
    reader: HTTPReader, handler: web.RequestHandler, byte_range: ByteRange | None = None
) -> bytes:
    async with misbehaving(handler) as url:
        source = reader.open(url)
        try:
            return await read(source, "f.bin", byte_range)
        finally:
            await source.close()


def ranged(request: web.Request) -> tuple[int, int]:
    match = re.fullmatch(r"bytes=(\d+)-(\d+)", request.headers["Range"])
    assert match is not None
    return int(match.group(1)), int(match.group(2)) + 1


async def ignores_range(request: web.Request) -> web.StreamResponse:
    return web.Response(body=DATA)


async def wrong_content_range(request: web.Request) -> web.StreamResponse:
    return web.Response(status=206, body=DATA[:5], headers={"Content-Range": "bytes 0-4/10"})


async def short_body(request: web.Request) -> web.StreamResponse:
    start, end = ranged(request)
    headers = {"Content-Range": f"bytes {start}-{end - 1}/{len(DATA)}"}
    response = web.StreamResponse(status=206, headers=headers)
    response.content_length = end - start
    await response.prepare(request)
    await response.write(DATA[start : start + 1])
    assert request.transport is not None
    request.transport.close()
    return response


async def long_body(request: web.Request) -> web.StreamResponse:
    start, end = ranged(request)
    headers = {"Content-Range": f"bytes {start}-{end - 1}/{len(DATA)}"}
    return web.Response(status=206, body=DATA[start:] + b"more", headers=headers)


class TestHTTPReaderFaults:
    """What the readers that speak HTTP do with answers real servers give only by accident."""

    async def test_a_server_that_ignores_the_range_is_an_error_not_spliced_bytes(
        self, http_reader: HTTPReader
    ) -> None:
        with pytest.raises(SourceError, match=http_reader.ignored_range):
            await read_from(http_reader, ignores_range, ByteRange(2, 8))

    async def test_a_content_range_other_than_the_one_asked_is_a_change(
        self, http_reader: HTTPReader
    ) -> None:
        with pytest.raises(SourceChangedError, match="bytes 0-4/10"):
            await read_from(http_reader, wrong_content_range, ByteRange(2, 8))

    async def test_a_body_cut_short_is_a_transient_error(self, http_reader: HTTPReader) -> None:
        with pytest.raises(SourceError) as caught:
            await read_from(http_reader, short_body, ByteRange(2, 8))
        assert caught.value.is_transient()

    async def test_a_body_longer_than_announced_is_an_error(self, http_reader: HTTPReader) -> None:
        with pytest.raises(SourceError):
            await read_from(http_reader, long_body, ByteRange(2, 8))

    @pytest.mark.parametrize(("status", "transient"), [(503, True), (429, True), (404, False)])
    async def test_an_error_status_is_transient_or_permanent_as_it_says(
        self, http_reader: HTTPReader, status: int, transient: bool
    ) -> None:
        async def answer(request: web.Request) -> web.StreamResponse:
            return web.Response(status=status)

        with pytest.raises(SourceError, match=str(status)) as caught:
            await read_from(http_reader, answer)
        assert caught.value.is_transient() is transient
