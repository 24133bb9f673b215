"""`datamirror serve` SIGKILLed while curl, wget and aria2c download a large file: each
client, resumed after the server restarts on the same port, ends with the right bytes,
and asked only for the rest (206)."""

from __future__ import annotations

import asyncio
import hashlib
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from catalog.repository import Catalog
from catalog.store import open_store
from tests.conftest import CLI
from tests.fixtures.datamirror_server import publish_files
from tests.fixtures.net import LOOPBACK, free_port, require_binary, wait_for_http

pytestmark = [pytest.mark.clients, pytest.mark.slow]

MiB = 1024 * 1024
SIZE = 48 * MiB + 1234
RATE = "3M"


def client_argv(tool: str, binary: str, url: str, out: Path, *, resume: bool) -> list[str]:
    """Each client as a person resuming a download types it; the first attempt is
    rate-limited so that the kill lands mid-file."""
    if tool == "curl":
        argv = [binary, "-sS", "-f", "-o", str(out), url]
        return [*argv, "-C", "-"] if resume else [*argv, "--limit-rate", RATE]
    if tool == "wget":
        argv = [binary, "-q", "--tries=1", "-O", str(out), url]
        return [*argv, "-c"] if resume else [*argv, f"--limit-rate={RATE}"]
    argv = [binary, "-q", "--max-tries=1", "--file-allocation=none", "-d", str(out.parent),
            "-o", out.name, url]  # fmt: skip
    return [*argv, "-c"] if resume else [*argv, f"--max-download-limit={RATE}"]


@contextmanager
def serving(cli: CLI, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    argv = [sys.executable, "-m", "datamirror", "serve", "--host", LOOPBACK, "--port",
            str(port), "--workers", "1"]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=cli.env, cwd=cli.cwd, stdout=out,
                                stderr=subprocess.STDOUT)  # fmt: skip
        try:
            wait_for_http(f"http://{LOOPBACK}:{port}/healthz", timeout=60)
            yield proc
        finally:
            if proc.poll() is None:
                proc.terminate()
            proc.wait(timeout=20)


def wait_for_bytes(paths: list[Path], at_least: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(p.exists() and p.stat().st_size >= at_least for p in paths):
            return
        time.sleep(0.05)
    raise TimeoutError(f"not every client had {at_least} bytes in {timeout} s")


async def test_downloads_cut_by_a_killed_server_resume_with_ranges_to_the_right_bytes(
    cli: CLI, catalog: Catalog, home: Path, tmp_path: Path
) -> None:
    packages = {"curl": "curl", "wget": "wget", "aria2c": "aria2"}
    tools = {tool: require_binary(tool, package) for tool, package in packages.items()}
    data = random.Random(3).randbytes(SIZE)
    store = open_store(cli.env["DATAMIRROR_STORE"])
    try:
        release = await publish_files(catalog, store, "big", {"data/big.bin": data})
    finally:
        await store.close()
    port = free_port()
    url = f"http://{LOOPBACK}:{port}/datasets/big/{release}/data/big.bin"
    outs = {tool: tmp_path / tool / "big.bin" for tool in tools}
    for out in outs.values():
        out.parent.mkdir()

    with serving(cli, port, tmp_path / "serve-1.log") as server:
        first = {t: subprocess.Popen(client_argv(t, b, url, outs[t], resume=False),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                 for t, b in tools.items()}  # fmt: skip
        await asyncio.to_thread(wait_for_bytes, list(outs.values()), 4 * MiB)
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
    cut = {}
    for tool, proc in first.items():
        proc.communicate(timeout=30)
        assert proc.returncode != 0, f"{tool} finished although the server was killed"
        cut[tool] = outs[tool].stat().st_size
        assert cut[tool] > 0, tool
    assert cut["curl"] < SIZE, cut
    assert cut["wget"] < SIZE, cut
    assert outs["aria2c"].with_name("big.bin.aria2").exists()  # its segments' progress

    log = tmp_path / "serve-2.log"
    with serving(cli, port, log):
        for tool, binary in tools.items():
            done = subprocess.run(client_argv(tool, binary, url, outs[tool], resume=True),
                                  capture_output=True, timeout=120, check=False)  # fmt: skip
            assert done.returncode == 0, (tool, done.stderr[-2000:])
    want = hashlib.md5(data).hexdigest()
    for tool, out in outs.items():
        assert hashlib.md5(out.read_bytes()).hexdigest() == want, tool
    answers = log.read_text(errors="replace").splitlines()
    partial = [line for line in answers if "/data/big.bin" in line and '" 206 ' in line]
    assert len(partial) >= len(tools), "\n".join(answers)
