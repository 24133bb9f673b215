"""The whole job, as a user runs it: nginx serves a tree, `datamirror sync` mirrors it into
the store, `datamirror serve` hands it back, and curl fetches it byte for byte."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mirror.sample_data import write_md5sums, write_sample_tree
from tests.conftest import CLI
from tests.fixtures.http_sources import NginxFactory
from tests.fixtures.net import require_binary
from tests.fixtures.trees import file_bytes

pytestmark = pytest.mark.nginx


def curl(*args: str) -> bytes:
    binary = require_binary("curl", "curl")
    return subprocess.run(
        [binary, "--silent", "--show-error", "--fail", *args], capture_output=True, check=True,
        timeout=60,
    ).stdout  # fmt: skip


def eventually(check: Callable[[], bool], seconds: float = 10) -> bool:
    """Poll `check`: `latest` is cached by the server for a couple of seconds."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def use_store(cli: CLI, store_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    cli.env.update(store_env)
    for name, value in store_env.items():
        monkeypatch.setenv(name, value)


def test_every_file_comes_back_through_serve_byte_identical(
    cli: CLI,
    store_env: dict[str, str],
    nginx_server: NginxFactory,
    datamirror_server: Callable[..., str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = tmp_path / "source"
    write_sample_tree(root, seed=11, big_file_size=5 * 1024 * 1024 + 3)
    use_store(cli, store_env, monkeypatch)
    cli("source", "add", "ebi", nginx_server(root).url)
    cli("sync", "ebi", "--part-size", "1MiB")
    base = datamirror_server(cli.env)
    for path, data in file_bytes(root).items():
        url = f"{base}/datasets/ebi/latest/{path.replace(' ', '%20')}"
        assert hashlib.md5(curl(url)).hexdigest() == hashlib.md5(data).hexdigest(), path
        end = min(len(data), 1100)
        assert curl("-r", f"10-{end - 1}", url) == data[10:end], path


def test_a_killed_sync_resumes_to_a_complete_release_while_the_old_one_stays_served(
    cli: CLI,
    nginx_server: NginxFactory,
    datamirror_server: Callable[..., str],
    tmp_path: Path,
) -> None:
    root = tmp_path / "source"
    write_sample_tree(root, seed=5)
    nginx = nginx_server(root, remote=True)
    cli("source", "add", "ebi", nginx.url)
    cli("sync", "ebi")
    first = file_bytes(root)
    base = datamirror_server(cli.env)
    readme = f"{base}/datasets/ebi/latest/README.txt"

    (root / "README.txt").write_text("release two\n")
    big = root / "genomes" / "big.fa"
    big.write_bytes(os.urandom(40 * 1024 * 1024))
    write_md5sums(root, [p for p in file_bytes(root) if p != "md5sum.txt"])
    argv = [sys.executable, "-m", "datamirror", "sync", "ebi", "--part-size", "2MiB",
            "--parallel", "2", "--quiet"]  # fmt: skip
    sync = subprocess.Popen(argv, env=cli.env, cwd=cli.cwd)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sync.poll() is None:
        if sum(1 for line in nginx.log_lines() if "big.fa" in line) >= 4:
            break
        assert curl(readme) == first["README.txt"]
        time.sleep(0.1)
    assert sync.poll() is None, "the sync finished before it could be killed"
    sync.send_signal(signal.SIGKILL)
    sync.wait()
    assert curl(readme) == first["README.txt"]

    cli("sync", "ebi", "--part-size", "2MiB")
    assert eventually(lambda: curl(readme) == b"release two\n"), "the new release never showed"
    served = curl(f"{base}/datasets/ebi/latest/genomes/big.fa")
    assert hashlib.sha256(served).digest() == hashlib.sha256(big.read_bytes()).digest()
    releases = json.loads(cli("releases", "ebi", "--json").stdout)
    assert [r["state"] for r in releases] == ["published", "published"]
    assert releases[1]["current"]
