"""A killed sync resumes: the parts that landed are not fetched again."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from catalog.manifest import ManifestEntry
from catalog.models import Transfer, TransferPart
from catalog.repository import Catalog
from catalog.store import open_store
from mirror.batched import BATCH_BYTES
from mirror.sample_data import BIG_FILE, write_sample_tree
from tests.conftest import CLI
from tests.fixtures.http_sources import NginxFactory

pytestmark = [pytest.mark.nginx, pytest.mark.slow]

MiB = 1024 * 1024
PART = 5 * MiB  # S3's smallest multipart part, so every store takes the same parts


async def landed_parts(catalog: Catalog) -> set[tuple[int, int]]:
    query = (
        select(TransferPart.offset, TransferPart.length)
        .join(Transfer, TransferPart.transfer_id == Transfer.id)
        .where(Transfer.path == BIG_FILE)
    )
    rows = await catalog.db.run(lambda session: session.execute(query).all())
    return {(offset, length) for offset, length in rows}


async def kill_after_parts(proc: subprocess.Popen[str], catalog: Catalog, count: int) -> None:
    """SIGKILL the sync once `count` parts of the big file are committed."""

    async def landed() -> bool:
        return len(await landed_parts(catalog)) >= count

    await kill_when(proc, landed, f"{count} parts landed")


async def kill_when(
    proc: subprocess.Popen[str], ready: Callable[[], Awaitable[bool]], what: str
) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the sync finished before it could be killed"
        if await ready():
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"not {what} within 60 s")


def settled_line_count(lines: Callable[[], list[str]]) -> int:
    """The access log's length once nginx has logged the killed client's requests."""
    count, deadline = len(lines()), time.monotonic() + 5
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = len(lines())
        if now == count:
            return count
        count = now
    return count


def ranges_requested(lines: list[str]) -> list[tuple[int, int]]:
    found = []
    for line in lines:
        if BIG_FILE in line and (match := re.search(r"bytes=(\d+)-(\d+)$", line)):
            found.append((int(match.group(1)), int(match.group(2)) - int(match.group(1)) + 1))
    return found


async def test_a_killed_sync_refetches_only_the_parts_that_had_not_landed(
    cli: CLI,
    catalog: Catalog,
    store_env: dict[str, str],
    nginx_server: NginxFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = tmp_path / "source"
    write_sample_tree(root, big_file_size=48 * MiB + 123)
    server = nginx_server(root, remote=True)
    cli.env.update(store_env)
    for name, value in store_env.items():
        monkeypatch.setenv(name, value)
    cli("source", "add", "big", server.url)
    argv = [sys.executable, "-m", "datamirror", "sync", "big", "--part-size", "5MiB"]
    slow = [*argv, "--parallel", "2", "--bandwidth-limit", "8MiB"]
    proc = subprocess.Popen(slow, env=cli.env, cwd=cli.cwd, text=True, stderr=subprocess.DEVNULL)
    await kill_after_parts(proc, catalog, 3)
    before = await landed_parts(catalog)
    first_run_lines = settled_line_count(server.log_lines)

    cli(*argv[3:])

    # a part in flight at the kill may still be logged late: ranges are compared as sets
    again = set(ranges_requested(server.log_lines()[first_run_lines:]))
    assert again, "the resumed sync fetched none of the big file"
    assert not before & again, f"landed parts {sorted(before)} were fetched again"
    size = (root / BIG_FILE).stat().st_size
    every_part = {(start, min(PART, size - start)) for start in range(0, size, PART)}
    assert before | again == every_part
    (release,) = json.loads(cli("releases", "big", "--json").stdout)
    assert release["state"] == "published"
    assert release["report"]["resumed"] == 1
    runs = [(r.state.value, r.error) for r in (await catalog.runs.list("big"))]
    assert runs == [
        ("failed", "interrupted: the run stopped before it finished"),
        ("succeeded", None),
    ]
    await assert_stored_file_matches(cli, release["name"], root)
    cli("verify", "big")


async def assert_stored_file_matches(cli: CLI, release: str, root: Path) -> None:
    store = open_store(
        cli.env["DATAMIRROR_STORE"], s3_endpoint=cli.env.get("DATAMIRROR_S3_ENDPOINT")
    )
    md5 = hashlib.md5()
    try:
        async for chunk in store.stream(f"objects/big/{release}/{BIG_FILE}"):
            md5.update(chunk)
    finally:
        await store.close()
    assert md5.hexdigest() == hashlib.md5((root / BIG_FILE).read_bytes()).hexdigest()


async def test_a_resumed_sync_refetches_recorded_files_whose_objects_were_lost(
    cli: CLI, catalog: Catalog, home: Path, nginx_server: NginxFactory, tmp_path: Path
) -> None:
    """Objects are flushed to disk once, before publishing: a power cut before that can
    lose files a killed run had recorded. The next run must notice, not publish holes."""
    root = tmp_path / "source"
    write_sample_tree(root, big_file_size=48 * MiB + 123)
    server = nginx_server(root, remote=True)
    cli("source", "add", "big", server.url)
    argv = [sys.executable, "-m", "datamirror", "sync", "big", "--part-size", "5MiB"]
    slow = [*argv, "--parallel", "4", "--bandwidth-limit", "8MiB"]
    proc = subprocess.Popen(slow, env=cli.env, cwd=cli.cwd, text=True, stderr=subprocess.DEVNULL)

    async def small_files_recorded() -> list[ManifestEntry]:
        building = await catalog.releases.building("big")
        entries = await catalog.releases.entries(building.id) if building else []
        return [e for e in entries if e.path != BIG_FILE]

    async def two_recorded() -> bool:
        return len(await small_files_recorded()) >= 2

    await kill_when(proc, two_recorded, "two small files recorded")
    lost, truncated = (await small_files_recorded())[:2]
    (home / "store" / lost.key).unlink()
    (home / "store" / truncated.key).write_bytes(b"")
    first_run_lines = settled_line_count(server.log_lines)

    cli(*argv[3:])

    fetched_again = "\n".join(server.log_lines()[first_run_lines:])
    assert f"/{lost.path} " in fetched_again
    assert f"/{truncated.path} " in fetched_again
    (release,) = json.loads(cli("releases", "big", "--json").stdout)
    assert release["state"] == "published"
    for entry in (lost, truncated):
        assert (home / "store" / entry.key).read_bytes() == (root / entry.path).read_bytes()
    cli("verify", "big")


async def test_after_a_kill_what_is_fetched_again_is_at_most_the_parts_in_flight_and_one_batch(
    cli: CLI, catalog: Catalog, nginx_server: NginxFactory, tmp_path: Path
) -> None:
    """A landed part counts as fetched once its batch is committed; batches are bounded by
    bytes as well as by time, so a fast source does not widen what a kill loses."""
    root = tmp_path / "source"
    write_sample_tree(root, big_file_size=160 * MiB + 123)
    size = (root / BIG_FILE).stat().st_size
    # 8 connections at 16 MiB/s each: half a second of landed parts is up to 64 MiB, four
    # times a batch's bytes, so a batch bounded by time alone would break the bound below
    server = nginx_server(root, rate="16m")
    cli("source", "add", "big", server.url)
    part, parallel, memory = 2 * MiB, 8, 16 * MiB
    argv = [sys.executable, "-m", "datamirror", "sync", "big", "--part-size", "2MiB",
            "--parallel", str(parallel), "--memory", "16MiB"]  # fmt: skip
    proc = subprocess.Popen(argv, env=cli.env, cwd=cli.cwd, text=True, stderr=subprocess.DEVNULL)
    parts = -(-size // part)
    worse_than_a_batch = (BATCH_BYTES + 8 * MiB) // part

    async def a_bad_moment() -> bool:
        # nginx logs a part once it is sent, whenever the sync commits it: the kill comes
        # when many sent parts are not yet committed (a batch bounded by time alone lets
        # half a second of them wait), or else once half the file was sent
        sent = len(server.bytes_sent(BIG_FILE))
        if sent < parts // 4:
            return False
        return sent >= parts // 2 or sent - len(await landed_parts(catalog)) >= worse_than_a_batch

    await kill_when(proc, a_bad_moment, "a quarter of the parts sent")
    before = await landed_parts(catalog)
    assert len(before) < parts, "the file landed before the kill"
    settled_line_count(server.log_lines)

    cli(*argv[3:])

    refetched = sum(server.bytes_sent(BIG_FILE)) - size
    in_flight = min(parallel, memory // part) * part
    one_batch = BATCH_BYTES + part
    assert 0 <= refetched <= in_flight + one_batch, (
        f"refetched {refetched / MiB:.1f} MiB of a {size / MiB:.0f} MiB file, more than "
        f"{in_flight / MiB:.0f} MiB in flight plus a batch of {one_batch / MiB:.0f} MiB"
    )
    (release,) = json.loads(cli("releases", "big", "--json").stdout)
    assert release["state"] == "published"
    assert release["report"]["resumed"] == 1
    await assert_stored_file_matches(cli, release["name"], root)
    cli("verify", "big")
