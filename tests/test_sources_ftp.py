"""What only the FTP source does, against a real FTP server (pyftpdlib) with MLSD and with
LIST only: the listing command, REST for ranges, pooled logins, credentials, FTP replies.
What every source does is tests/test_source_contract.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from catalog.errors import SourceChangedError, SourceError
from catalog.store.base import ByteRange
from mirror.sources.base import SourceEntry
from mirror.sources.ftp import FTPSource
from tests.fixtures.ftp_server import PASSWORD, USER, FTPFactory, FTPHandle
from tests.fixtures.trees import file_sizes, write_tree_with_odd_names

pytestmark = pytest.mark.ftp
FA = "genomes/escherichia_coli/K-12_MG1655.fa"


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ftp-tree")
    return write_tree_with_odd_names(root)


async def listing(url: str, **options: Any) -> list[SourceEntry]:
    source = FTPSource(url, **options)
    try:
        return [entry async for entry in source.list()]
    finally:
        await source.close()


async def reads(url: str, wanted: list[tuple[str, ByteRange | None]]) -> list[bytes]:
    """Several reads through one source (so pooled connections are reused)."""
    source = FTPSource(url)
    try:
        return [b"".join([c async for c in source.read(p, r)]) for p, r in wanted]
    finally:
        await source.close()


@pytest.fixture(params=["mlsd", "list"])
def server(request: pytest.FixtureRequest, ftp_server: FTPFactory, tree: Path) -> FTPHandle:
    return ftp_server(tree, mlsd=request.param == "mlsd")


async def test_the_listing_uses_mlsd_unless_the_server_refuses_it(server: FTPHandle) -> None:
    entries = await listing(server.url)
    assert {e.path: e.size for e in entries} == file_sizes(server.root)
    assert all(e.mtime is not None for e in entries)
    commands = {line.split()[0] for line in server.log_lines()}
    assert "LIST" in commands if server.refused else "LIST" not in commands


async def test_ranged_reads_start_with_rest_at_their_offset(server: FTPHandle) -> None:
    fa = (server.root / FA).read_bytes()
    odd = (server.root / "odd dir/ünïcode & spaces.txt").read_bytes()
    ranges = [(0, 1), (1000, 70_000), (len(fa) - 10, len(fa))]
    wanted: list[tuple[str, ByteRange | None]] = [(FA, ByteRange(a, b)) for a, b in ranges]
    wanted += [(FA, None), ("odd dir/ünïcode & spaces.txt", None), ("a/empty.bin", None)]
    got = await reads(server.url, wanted)
    assert got == [*(fa[a:b] for a, b in ranges), fa, odd, b""]
    assert [line for line in server.log_lines() if line.startswith("REST")] == [
        "REST 1000",
        f"REST {len(fa) - 10}",
    ]


async def test_whole_file_reads_share_one_login(ftp_server: FTPFactory, tree: Path) -> None:
    handle = ftp_server(tree)
    await reads(handle.url, [("README.txt", None), ("md5sum.txt", None), ("README.txt", None)])
    assert sum(line.startswith("USER") for line in handle.log_lines()) == 1


async def test_a_user_and_password_in_the_url_log_in(ftp_server: FTPFactory, tree: Path) -> None:
    handle = ftp_server(tree)
    url = f"ftp://{USER}:{PASSWORD}@{handle.host}:{handle.port}/reads/"
    assert len(await listing(url)) == 2
    assert f"USER {USER}" in handle.log_lines()


async def test_a_wrong_password_is_a_permanent_error_with_a_hint(
    ftp_server: FTPFactory, tree: Path
) -> None:
    handle = ftp_server(tree)
    url = f"ftp://{USER}:wrong@{handle.host}:{handle.port}/"
    with pytest.raises(SourceError, match="login refused") as caught:
        await listing(url)
    assert not caught.value.is_transient()
    assert "password" in caught.value.hint
    assert "wrong" not in str(caught.value)


async def test_a_missing_file_is_a_permanent_550_naming_it(
    ftp_server: FTPFactory, tree: Path
) -> None:
    handle = ftp_server(tree)
    with pytest.raises(SourceError, match="550") as caught:
        await reads(handle.url, [("genomes/nope.fa", None)])
    assert not caught.value.is_transient()
    assert "genomes/nope.fa" in str(caught.value)


async def test_a_file_that_changed_since_the_listing_raises_source_changed(
    ftp_server: FTPFactory, tmp_path: Path
) -> None:
    (tmp_path / "grows.txt").write_bytes(b"a" * 1000)
    handle = ftp_server(tmp_path)
    [entry] = await listing(handle.url)
    (tmp_path / "grows.txt").write_bytes(b"a" * 1500)

    source = FTPSource(handle.url)
    try:
        with pytest.raises(SourceChangedError, match="1000"):
            await anext(source.read("grows.txt", ByteRange(0, 10), version=entry.version))
    finally:
        await source.close()


async def test_stat_gives_size_and_time(ftp_server: FTPFactory, tree: Path) -> None:
    handle = ftp_server(tree)

    source = FTPSource(handle.url)
    try:
        entry = await source.stat(FA)
    finally:
        await source.close()
    assert entry.size == (tree / FA).stat().st_size
    assert entry.mtime is not None
    assert abs(entry.mtime.timestamp() - (tree / FA).stat().st_mtime) < 2


async def test_a_server_that_never_greets_is_a_timeout_not_a_refused_connection() -> None:
    """A TimeoutError is an OSError too: it must be reported as the timeout it is."""
    import asyncio

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts, says nothing, until the client gives up
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    source = FTPSource(f"ftp://127.0.0.1:{port}/pub/", timeout=0.5)
    try:
        with pytest.raises(SourceError) as caught:
            [entry async for entry in source.list()]
    finally:
        await source.close()
        server.close()
        await server.wait_closed()
    assert "timed out" in caught.value.message
    assert "cannot connect" not in caught.value.message
    assert caught.value.is_transient()
