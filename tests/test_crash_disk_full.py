"""The local store's file system fills up (a small tmpfs the test mounts): the sync fails
with a clear "no space" error and no traceback, no final key holds wrong bytes, and once
space is freed the next sync succeeds, fetching only what had not landed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from catalog.models import Transfer, TransferPart
from catalog.repository import Catalog
from tests.conftest import CLI
from tests.crash_helpers import PART, MiB, assert_release_holds, write_seeded_tree
from tests.fixtures.http_sources import NginxFactory
from tests.fixtures.net import missing

pytestmark = [pytest.mark.nginx, pytest.mark.slow]

SYNC = ["sync", "ds", "--part-size", "5MiB", "--parallel", "4", "--quiet"]


def mount_tmpfs(target: Path, size_mib: int, *, remount: bool = False) -> str:
    """Mount (or resize) a tmpfs at `target`; what went wrong, or "" when it is mounted."""
    if shutil.which("mount") is None:
        return "mount(8) is missing"
    options = f"{'remount,' if remount else ''}size={size_mib}m,mode=0755"
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    return "" if done.returncode == 0 else done.stderr.strip() or f"mount exited {done.returncode}"


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A 24 MiB tmpfs; skipped (failed under tests/run) when this machine cannot mount."""
    target = Path(tempfile.mkdtemp(prefix="dm-full-"))
    if os.geteuid() != 0:
        target.rmdir()
        missing("mounting a tmpfs needs root")
    problem = mount_tmpfs(target, 24)
    if problem:
        target.rmdir()
        missing(f"cannot mount a tmpfs here: {problem}")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)
        target.rmdir()


async def landed_parts(catalog: Catalog) -> set[tuple[str, int, int]]:
    query = select(Transfer.path, TransferPart.offset, TransferPart.length).join(
        Transfer, TransferPart.transfer_id == Transfer.id
    )
    rows = await catalog.db.run(lambda session: session.execute(query).all())
    return {(path, offset, length) for path, offset, length in rows}


def fetched_paths(lines: list[str]) -> list[str]:
    return [m.group(1) for line in lines if (m := re.match(r"GET /(\S+) HTTP/1.1 20[06] ", line))]


async def test_a_full_disk_fails_the_sync_clearly_and_the_next_one_fetches_only_the_rest(
    cli: CLI, catalog: Catalog, small_disk: Path, nginx_server: NginxFactory, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    files = write_seeded_tree(source, 21, [3 * PART + 5, 2 * PART + 11], small=160)
    assert sum(map(len, files.values())) > 28 * MiB  # beyond the disk's 24 MiB
    server = nginx_server(source)
    cli.env["DATAMIRROR_STORE"] = small_disk.as_uri()
    cli("source", "add", "ds", server.url)

    full = cli(*SYNC, check=False)

    assert full.returncode == 1, full.stdout + full.stderr
    assert "Traceback" not in full.stderr, full.stderr
    assert re.search(r"^error: .*no space", full.stderr, re.MULTILINE | re.IGNORECASE), full.stderr
    assert re.search(r"^hint: .*space", full.stderr, re.MULTILINE | re.IGNORECASE), full.stderr
    stored = {p.relative_to(small_disk).as_posix(): p for p in small_disk.rglob("*") if p.is_file()}
    kept = {k: p for k, p in stored.items() if k.startswith("objects/")}
    for key, path in kept.items():
        assert path.read_bytes() == files[key.split("/", 3)[3]], f"{key} holds wrong bytes"
    building = await catalog.releases.building("ds")
    assert building is not None
    recorded = {e.path for e in await catalog.releases.entries(building.id)}
    assert recorded, "nothing landed before the disk filled"
    parts = await landed_parts(catalog)
    first_run = len(server.log_lines())

    assert mount_tmpfs(small_disk, 128, remount=True) == ""
    cli(*SYNC)

    again = server.log_lines()[first_run:]
    refetched = recorded & set(fetched_paths(again)) - {"md5sum.txt"}  # read to plan, each run
    assert not refetched, sorted(refetched)
    for path, offset, length in parts:
        assert f"GET /{path} HTTP/1.1 206 bytes={offset}-{offset + length - 1}" not in again
    await assert_release_holds(cli, "ds", files)
