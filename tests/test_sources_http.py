"""What only the HTTP source does, against real nginx and Apache servers and the small
in-process misbehaving server: HEAD only where a listing rounds sizes, status codes and
Retry-After, listing pages fetched again. What every source does (listings, reads, ranges,
errors) is tests/test_source_contract.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from aiohttp import web

from catalog.errors import SourceChangedError, SourceError
from catalog.store.base import ByteRange
from mirror.retry import RetryPolicy
from mirror.sources.base import SourceEntry
from mirror.sources.http import HTTPSource
from tests.fixtures.http_sources import ApacheFactory, NginxFactory
from tests.fixtures.misbehaving import Handler, misbehaving
from tests.fixtures.trees import file_sizes, write_tree_with_odd_names

FAST = RetryPolicy(attempts=3, initial_wait=0.01, max_wait=0.05, deadline=10)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    return write_tree_with_odd_names(root)


async def listing(url: str) -> list[SourceEntry]:
    source = HTTPSource(url, policy=FAST)
    try:
        return [entry async for entry in source.list()]
    finally:
        await source.close()


async def read_bytes(
    url: str, path: str, byte_range: ByteRange | None = None, version: str | None = None
) -> bytes:
    source = HTTPSource(url, policy=FAST)
    try:
        return b"".join([c async for c in source.read(path, byte_range, version=version)])
    finally:
        await source.close()


@pytest.mark.nginx
async def test_only_files_listed_without_an_exact_size_are_asked_with_head(
    nginx_server: NginxFactory, tree: Path
) -> None:
    exact = nginx_server(tree)
    await listing(exact.url)
    assert not [line for line in exact.log_lines() if line.startswith("HEAD")]
    rounded = nginx_server(tree, exact_size=False)
    entries = {e.path: e for e in await listing(rounded.url)}
    heads = sorted(line.split()[1] for line in rounded.log_lines() if line.startswith("HEAD"))
    assert heads == sorted(
        [f"/{p}" for p, size in file_sizes(tree).items() if size > 9999 and " " not in p]
        + ["/odd%20dir/%C3%BCn%C3%AFcode%20&%20spaces.txt"]
    )
    assert entries["genomes/escherichia_coli/K-12_MG1655.fa"].etag is not None


@pytest.mark.nginx
async def test_the_slow_remote_profile_still_serves_exact_bytes(
    nginx_server: NginxFactory, tree: Path
) -> None:
    remote = nginx_server(tree, remote=True)
    fa = (tree / "genomes/saccharomyces_cerevisiae/R64.fa").read_bytes()
    got = await read_bytes(
        remote.url, "genomes/saccharomyces_cerevisiae/R64.fa", ByteRange(7, 9000)
    )
    assert got == fa[7:9000]


@pytest.mark.nginx
async def test_a_missing_file_or_folder_is_a_permanent_404_naming_its_url(
    nginx_server: NginxFactory, tree: Path
) -> None:
    handle = nginx_server(tree)
    with pytest.raises(SourceError) as caught:
        await read_bytes(handle.url, "genomes/nope.fa")
    assert not caught.value.is_transient()
    assert f"{handle.url}genomes/nope.fa" in str(caught.value)
    assert "404" in str(caught.value)
    with pytest.raises(SourceError, match="404") as listed:
        await listing(handle.url + "no/such/folder/")
    assert not listed.value.is_transient()


@pytest.mark.apache
async def test_a_forbidden_file_is_a_permanent_error_with_an_access_hint(
    apache_server: ApacheFactory, tmp_path: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to serve as www-data a file only root can read")
    (tmp_path / "secret.txt").write_text("no")
    handle = apache_server(tmp_path)
    (handle.root / "secret.txt").chmod(0o600)
    with pytest.raises(SourceError, match="403") as caught:
        await read_bytes(handle.url, "secret.txt")
    assert not caught.value.is_transient()
    assert "access" in caught.value.hint


@pytest.mark.nginx
async def test_a_file_whose_size_changed_since_the_listing_raises_source_changed(
    nginx_server: NginxFactory, tmp_path: Path
) -> None:
    (tmp_path / "grows.txt").write_bytes(b"a" * 1000)
    handle = nginx_server(tmp_path)
    [entry] = await listing(handle.url)
    (tmp_path / "grows.txt").write_bytes(b"a" * 1500)
    with pytest.raises(SourceChangedError, match="1000"):
        await read_bytes(handle.url, "grows.txt", ByteRange(0, 500), entry.version)
    with pytest.raises(SourceChangedError):
        await read_bytes(handle.url, "grows.txt", None, entry.version)


@pytest.mark.nginx
async def test_a_file_whose_etag_moved_raises_source_changed(
    nginx_server: NginxFactory, tmp_path: Path
) -> None:
    target = tmp_path / "same-size.txt"
    target.write_bytes(b"one")
    handle = nginx_server(tmp_path)

    async def stat() -> SourceEntry:
        source = HTTPSource(handle.url, policy=FAST)
        try:
            return await source.stat("same-size.txt")
        finally:
            await source.close()

    entry = await stat()
    assert entry.etag
    os.utime(target, (1_000_000, 1_000_000))
    with pytest.raises(SourceChangedError):
        await read_bytes(handle.url, "same-size.txt", ByteRange(0, 2), entry.version)
    assert await read_bytes(handle.url, "same-size.txt", ByteRange(0, 2), (await stat()).version)


async def read_from(handler: Handler, byte_range: ByteRange | None = None) -> bytes:
    async with misbehaving(handler) as url:
        return await read_bytes(url, "f.bin", byte_range)


@pytest.mark.parametrize(
    ("status", "headers", "transient", "retry_after"),
    [
        (429, {"Retry-After": "7"}, True, 7.0),
        (503, {"Retry-After": "Thu, 01 Jan 1970 00:00:00 GMT"}, True, 0.0),
        (500, {}, True, None),
        (408, {}, True, None),
        (401, {}, False, None),
        (410, {}, False, None),
    ],
)
async def test_status_codes_map_to_transient_or_permanent_errors(
    status: int, headers: dict[str, str], transient: bool, retry_after: float | None
) -> None:
    async def answer(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, headers=headers)

    with pytest.raises(SourceError, match=str(status)) as caught:
        await read_from(answer)
    assert caught.value.is_transient() is transient
    assert caught.value.retry_after == retry_after


async def test_listing_pages_that_fail_transiently_are_fetched_again() -> None:
    calls: list[str] = []

    async def flaky(request: web.Request) -> web.StreamResponse:
        calls.append(request.path)
        if len(calls) == 1:
            return web.Response(status=503, headers={"Retry-After": "0"})
        if request.path == "/":
            return web.Response(text='<a href="x.txt">x.txt</a>', content_type="text/html")
        return web.Response(body=b"hello")

    async with misbehaving(flaky) as url:
        entries = await listing(url)
    assert [(e.path, e.size) for e in entries] == [("x.txt", 5)]
    assert calls == ["/", "/", "/x.txt"]
