"""A real FTP server (pyftpdlib) whose listings name what no tree should: `../..`,
`/etc/passwd`, a file without a size, a line that does not parse, a symlink loop, a
backslash. The sync skips each and names it in its report, lists nothing outside the
source's root, fetches nothing outside it, and publishes the rest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from catalog.repository import Catalog
from catalog.source_spec import DatasetSpec
from catalog.store.local import LocalStore
from mirror.sources.ftp import FTPSource
from mirror.sync import run_sync
from tests.fixtures.ftp_server import FTPFactory

pytestmark = pytest.mark.ftp

HOSTILE_LINES = [
    b"type=dir;size=0;modify=20260101000000; ../..\r\n",
    b"type=file;size=31;modify=20260101000000; /etc/passwd\r\n",
    b"type=file;size=big;modify=20260101000000; nosize.txt\r\n",
    b"garbage\r\n",
]


def hostile_filesystem(listed: Path) -> type[Any]:
    """pyftpdlib's file system, whose MLSD of `listed` adds HOSTILE_LINES."""
    filesystems = pytest.importorskip("pyftpdlib.filesystems")

    class Hostile(filesystems.AbstractedFS):  # type: ignore[misc,name-defined]
        def format_mlsx(self, basedir: str, *args: Any, **kwargs: Any) -> Iterator[bytes]:
            yield from super().format_mlsx(basedir, *args, **kwargs)
            if Path(basedir).resolve() == listed:  # loop/ too: it is pub/ again
                yield from HOSTILE_LINES

    return Hostile


async def test_an_ftp_listing_that_names_outside_its_root_or_loops_is_skipped_not_followed(
    catalog: Catalog, tmp_path: Path, ftp_server: FTPFactory
) -> None:
    root = tmp_path / "ftp"
    (root / "pub" / "sub").mkdir(parents=True)
    (root / "pub" / "ok.txt").write_bytes(b"fine\n")
    (root / "pub" / "sub" / "inner.txt").write_bytes(b"inner\n")
    (root / "pub" / "a\\b.txt").write_bytes(b"odd\n")
    (root / "pub" / "loop").symlink_to(".")
    server = ftp_server(root, filesystem=hostile_filesystem((root / "pub").resolve()))
    url = server.url + "pub/"
    await catalog.datasets.add(DatasetSpec("ftpodd", url))
    source = FTPSource(url)
    try:
        report = await run_sync(catalog, LocalStore(tmp_path / "store"), source, "ftpodd")
    finally:
        await source.close()

    assert report.published
    release = await catalog.releases.current("ftpodd")
    assert sorted(e.path for e in await catalog.releases.entries(release.id)) == [
        "ok.txt",
        "sub/inner.txt",
    ]
    skipped = {s.path: s.reason for s in report.skipped}
    assert set(skipped) == {"/pub/../..", "/etc/passwd", "nosize.txt", "", "a\\b.txt", "loop/"}
    assert "garbage" in skipped[""]
    assert "no size" in skipped["nosize.txt"]
    assert "loop" in skipped["loop/"]
    commands = server.log_lines()
    listed = [c for c in commands if c.startswith(("MLSD", "LIST"))]
    assert sorted(listed) == ["MLSD /pub", "MLSD /pub/loop", "MLSD /pub/sub"]
    fetched = [c for c in commands if c.startswith(("RETR", "SIZE", "CWD"))]
    assert all(".." not in c and "/etc" not in c for c in fetched), fetched
