"""Hostile and odd listings never block a release: names that are no safe path are
skipped and named in the sync report, loops and redirects out of the source are not
followed, nothing outside the source's root is fetched, and pages or checksum files too
large to hold are a clear error after a bounded read."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from catalog.errors import ChecksumFileError, SourceError
from catalog.repository import Catalog
from catalog.source_spec import DatasetSpec
from catalog.store.local import LocalStore
from mirror.checksum_reading import MAX_CHECKSUM_FILE
from mirror.report import SyncReport
from mirror.sources.http import HTTPSource
from mirror.sources.listing_guard import MAX_LISTING_PAGE
from mirror.sync import run_sync
from tests.fixtures.misbehaving import misbehaving

FILES = {"/ok.txt": b"fine\n", "/sub/inner.txt": b"inner\n"}
ROW = "01-Dec-2026 10:00"


def row(href: str, size: int | str = "-") -> str:
    """A row as nginx's autoindex pads it (name to 50 columns, size to 20)."""
    return f'<a href="{href}">{href}</a>{" " * max(1, 51 - len(href))}{ROW} {size:>19}\r\n'


def page(*rows: str) -> web.Response:
    return web.Response(text="<html><body><pre>" + "".join(rows) + "</pre></body></html>",
                        content_type="text/html")  # fmt: skip


async def mirror_once(catalog: Catalog, store_root: Path, url: str, name: str) -> SyncReport:
    await catalog.datasets.add(DatasetSpec(name, url, checksums="auto"))
    source = HTTPSource(url)
    try:
        return await run_sync(catalog, LocalStore(store_root), source, name)
    finally:
        await source.close()


@pytest.fixture
async def elsewhere() -> AsyncIterator[tuple[str, list[str]]]:
    """Another host: every request it gets is a request that should never have been made."""
    got: list[str] = []

    async def record(request: web.Request) -> web.StreamResponse:
        got.append(request.path_qs)
        return web.Response(text="root:x:0:0:root:/root:/bin/bash\n")

    async with misbehaving(record) as url:
        yield url, got


async def test_odd_names_loops_and_foreign_links_are_skipped_and_the_rest_publishes(
    catalog: Catalog, tmp_path: Path, elsewhere: tuple[str, list[str]]
) -> None:
    other, foreign_requests = elsewhere
    asked: list[str] = []
    root_rows = [
        row("../"), row("ok.txt", 5), row("sub/"), row("../../etc/passwd", 31),
        row("..%2F..%2Fetc%2Fpasswd", 31), row(f"{other}x.txt", 31),
        row("//" + other.split("//", 1)[1] + "y.txt", 31), row("a%5Cb.txt", 3),
        row("nul%00.txt", 3), row("nl%0A.txt", 3), row("loop/"), row("away/"),
    ]  # fmt: skip

    async def hostile(request: web.Request) -> web.StreamResponse:
        asked.append(request.raw_path)
        if request.path in {"/", "/loop/"}:  # loop/ is a symlink to the root
            return page(*root_rows)
        if request.path == "/sub/":
            return page(row("../"), row("inner.txt", 6))
        if request.path == "/away/":
            raise web.HTTPFound(f"{other}pub/")
        if request.path in FILES:
            return web.Response(body=FILES[request.path])
        return web.Response(status=404)

    async with misbehaving(hostile) as url:
        report = await mirror_once(catalog, tmp_path / "store", url, "odd")

    assert report.published
    release = await catalog.releases.current("odd")
    entries = await catalog.releases.entries(release.id)
    assert sorted(e.path for e in entries) == ["ok.txt", "sub/inner.txt"]
    skipped = {s.path: s.reason for s in report.skipped}
    assert set(skipped) == {"a\\b.txt", "nul\x00.txt", "nl\n.txt", "loop/", "away/"}
    assert "backslash" in skipped["a\\b.txt"]
    assert "control character" in skipped["nul\x00.txt"]
    assert "loop" in skipped["loop/"]
    assert other in skipped["away/"]
    assert foreign_requests == []
    fetched = {p for p in asked if not p.endswith("/")}
    assert fetched == set(FILES)
    store = tmp_path / "store"
    files = {p.relative_to(store).as_posix() for p in store.rglob("*") if p.is_file()}
    assert files == {
        f"objects/odd/{release.name}/ok.txt",
        f"objects/odd/{release.name}/sub/inner.txt",
        f"releases/odd/{release.name}/manifest.json",
        f"releases/odd/{release.name}/ro-crate-metadata.json",
    }
    assert any("skipped 'loop/'" in line for line in report.lines())


async def test_two_links_to_the_root_do_not_double_the_folders_at_every_level(
    catalog: Catalog, tmp_path: Path
) -> None:
    """Without loop detection each level doubles: 2**64 folders."""
    asked: list[str] = []

    async def looping(request: web.Request) -> web.StreamResponse:
        asked.append(request.path)
        if request.path.endswith("/"):  # every folder is the root again
            return page(row("a/"), row("b/"), row("ok.txt", 5))
        return web.Response(body=FILES["/ok.txt"])

    async with misbehaving(looping) as url:
        report = await mirror_once(catalog, tmp_path / "store", url, "loops")

    assert report.published
    assert sorted(s.path for s in report.skipped) == ["a/", "b/"]
    assert sorted(asked) == ["/", "/a/", "/b/", "/ok.txt"]


def streamed(chunk: bytes, total: int, sent: list[int]) -> web.StreamResponse:
    """A handler's answer of `total` bytes made of `chunk`, generated, never stored."""

    async def send(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        try:
            while sent[0] < total:
                await response.write(chunk)
                sent[0] += len(chunk)
        except (ConnectionResetError, OSError):
            return response  # the reader hung up: what it should do
        await response.write_eof()
        return response

    return send  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("what", "chunk", "total"),
    [
        ("a page of a million links", "".join(row(f"f{i:06d}.txt", i) for i in range(1000)), 1000),
        ("a page of 1 GiB", "<p>" + "x" * (1 << 20), 1024),
    ],
)
async def test_a_listing_page_beyond_the_cap_is_a_clear_error_after_a_bounded_read(
    what: str, chunk: str, total: int
) -> None:
    sent = [0]
    data = chunk.encode()
    send = streamed(data, total * len(data), sent)
    async with misbehaving(send) as url:  # type: ignore[arg-type]
        source = HTTPSource(url)
        try:
            with pytest.raises(SourceError, match=r"larger than 64\.0 MiB") as raised:
                _ = [entry async for entry in source.list()]
        finally:
            await source.close()
    assert not raised.value.is_transient()
    assert sent[0] < MAX_LISTING_PAGE + 16 * 1024 * 1024, what


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


FINE, OTHER = md5(b"fine\n"), md5(b"other")


@pytest.mark.parametrize(
    ("lines", "published"),
    [
        (f"{FINE}  ok.txt\n{FINE}  ./ok.txt\n", True),
        (f"{FINE}  ok.txt\n{OTHER}  ok.txt\n", False),
        (f"{FINE}  ok.txt\n{OTHER}  sub/../ok.txt\n", False),
    ],
    ids=["duplicate lines", "conflicting lines", "conflicting spellings"],
)
async def test_a_checksum_file_with_duplicate_lines_verifies_and_with_conflicting_ones_fails(
    catalog: Catalog, tmp_path: Path, lines: str, published: bool
) -> None:
    files = {"/ok.txt": b"fine\n", "/md5sum.txt": lines.encode()}

    async def serve(request: web.Request) -> web.StreamResponse:
        if request.path == "/":
            return page(row("ok.txt", 5), row("md5sum.txt", len(lines)))
        return web.Response(body=files[request.path])

    async with misbehaving(serve) as url:
        if published:
            assert (await mirror_once(catalog, tmp_path / "s", url, "sums")).published
            return
        with pytest.raises(ChecksumFileError) as raised:
            await mirror_once(catalog, tmp_path / "s", url, "sums")
    message = str(raised.value)
    assert "md5sum.txt" in message
    assert FINE in message
    assert OTHER in message
    assert "--checksums none" in raised.value.cli_hint


async def test_a_checksum_file_listed_over_the_cap_is_refused_before_it_is_read(
    catalog: Catalog, tmp_path: Path
) -> None:
    asked: list[str] = []

    async def serve(request: web.Request) -> web.StreamResponse:
        asked.append(request.path)
        if request.path == "/":
            return page(row("ok.txt", 5), row("md5sum.txt", MAX_CHECKSUM_FILE + 1))
        return web.Response(body=FILES["/ok.txt"])

    async with misbehaving(serve) as url:
        with pytest.raises(ChecksumFileError, match=r"larger than 128\.0 MiB"):
            await mirror_once(catalog, tmp_path / "s", url, "huge")
    assert "/md5sum.txt" not in asked
