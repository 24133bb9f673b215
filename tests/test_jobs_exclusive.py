"""One job per dataset at a time: a gc beside a running sync waits for it (a sync puts a
file before it records it, so a gc that did not wait would delete the new objects), and a
killed sync's lease does not hold back the next run."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from mirror.sample_data import write_sample_tree
from tests.conftest import CLI
from tests.fixtures.http_sources import NginxFactory
from tests.fixtures.trees import file_bytes

pytestmark = pytest.mark.nginx

MiB = 1024 * 1024
SYNC = [sys.executable, "-m", "datamirror", "sync", "demo"]


def objects_of_building_release(home: Path) -> list[Path]:
    root = home / "store" / "objects" / "demo"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def wait_until(condition: object, what: str, proc: subprocess.Popen[str], limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the sync ended before {what}"
        if callable(condition) and condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {limit}s")


def test_a_gc_during_a_sync_waits_and_the_sync_publishes_a_complete_release(
    cli: CLI, home: Path, nginx_server: NginxFactory, tmp_path: Path
) -> None:
    root = tmp_path / "source"
    write_sample_tree(root, seed=5, big_file_size=6 * MiB + 11)
    cli("source", "add", "demo", nginx_server(root, remote=True).url)
    slow = [*SYNC, "--part-size", "1MiB", "--parallel", "2", "--bandwidth-limit", "2MiB"]
    sync = subprocess.Popen(
        slow, env=cli.env, cwd=cli.cwd, text=True, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_until(lambda: len(objects_of_building_release(home)) >= 3,
                   "three objects were stored", sync, 60)  # fmt: skip
        gc = cli("gc", timeout=120)
        out, err = sync.communicate(timeout=120)
    finally:
        if sync.poll() is None:
            sync.kill()
    assert sync.returncode == 0, err
    assert "published" in out
    assert "waiting for the sync" in gc.stderr
    assert "deleted 0 object(s)" in gc.stdout
    cli("verify", "demo")
    stored = home / "store"
    manifest_paths = {
        p.relative_to(next(stored.glob("objects/demo/*"))).as_posix()
        for p in objects_of_building_release(home)
    }
    assert manifest_paths == set(file_bytes(root))


def test_a_sync_started_while_another_runs_waits_for_it(
    cli: CLI, home: Path, nginx_server: NginxFactory, tmp_path: Path
) -> None:
    root = tmp_path / "source"
    write_sample_tree(root, seed=6, big_file_size=4 * MiB)
    cli("source", "add", "demo", nginx_server(root, remote=True).url)
    first = subprocess.Popen(
        [*SYNC, "--bandwidth-limit", "2MiB"], env=cli.env, cwd=cli.cwd, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_until(lambda: objects_of_building_release(home), "an object was stored", first, 60)
        second = cli("sync", "demo", timeout=120)
        first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0
    assert "waiting for the sync" in second.stderr
    assert "nothing changed" in second.stdout


def test_a_killed_sync_does_not_hold_its_dataset_for_the_next_run(
    cli: CLI, home: Path, nginx_server: NginxFactory, tmp_path: Path
) -> None:
    root = tmp_path / "source"
    write_sample_tree(root, seed=7, big_file_size=4 * MiB)
    cli("source", "add", "demo", nginx_server(root, remote=True).url)
    first = subprocess.Popen(
        [*SYNC, "--bandwidth-limit", "1MiB"], env=cli.env, cwd=cli.cwd, text=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_until(lambda: objects_of_building_release(home), "an object was stored", first, 60)
    first.kill()
    first.wait()
    started = time.monotonic()
    again = cli("sync", "demo", timeout=120)
    assert "waiting" not in again.stderr
    assert "published" in again.stdout
    assert time.monotonic() - started < 30
