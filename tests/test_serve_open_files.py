"""The server's set of open object files, its open-files limit (raised at start-up) and the
connections it can hold under it, the presigned-URL cache and the batched access log."""

from __future__ import annotations

import io
import resource
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from catalog.errors import ObjectNotFoundError, StoreError
from serve.access_log import LogSink
from serve.capacity import RESERVED, OpenFilesLimit, connections_for
from serve.open_files import OpenFiles
from serve.remote_reads import RENEW_BEFORE, URL_SECONDS, PresignedUrls
from tests.fixtures.datamirror_server import SERVING
from tests.fixtures.net import LOOPBACK, port_from_log, running, wait_for_http

FilesFactory = Callable[..., OpenFiles]


@pytest.fixture
def open_files(tmp_path: Path) -> Iterator[FilesFactory]:
    """`open_files(names, capacity)`: an OpenFiles over those files, closed after the test."""
    made: list[OpenFiles] = []

    def make(names: dict[str, bytes], capacity: int = 2) -> OpenFiles:
        for name, data in names.items():
            (tmp_path / name).write_bytes(data)
        made.append(OpenFiles(lambda key: tmp_path / key, capacity=capacity))
        return made[-1]

    yield make
    for files in made:
        files.close()


async def test_a_hot_file_is_opened_once_and_shared(
    open_files: FilesFactory,
) -> None:
    files = open_files({"a": b"abc"})
    first = await files.acquire("a", 3)
    second = await files.acquire("a", 3)
    same, users = first is second, first.users
    files.release(first)
    files.release(second)
    assert (same, users) == (True, 2)
    assert len(files) == 1


async def test_an_evicted_file_in_use_is_closed_only_when_its_last_user_is_done(
    open_files: FilesFactory,
) -> None:
    files = open_files({"a": b"a", "b": b"b", "c": b"c"}, capacity=2)
    held = await files.acquire("a", 1)
    for key in ("b", "c"):
        files.release(await files.acquire(key, 1))
    assert held.evicted
    assert not held.file.closed
    assert held.read_cached(0, 1) in (None, bytearray(b"a"))
    files.release(held)
    assert held.file.closed
    assert len(files) == 2


async def test_a_file_whose_size_differs_from_the_catalog_is_refused(
    open_files: FilesFactory,
) -> None:
    files = open_files({"a": b"abc"})
    with pytest.raises(StoreError, match="the catalog says 4"):
        await files.acquire("a", 4)
    with pytest.raises(ObjectNotFoundError):
        await files.acquire("missing", 1)
    assert len(files) == 0


async def test_a_cached_read_returns_the_bytes_or_nothing_but_never_wrong_bytes(
    open_files: FilesFactory,
) -> None:
    data = bytes(range(256)) * 64
    files = open_files({"a": data})
    handle = await files.acquire("a", len(data))
    try:
        got = handle.read_cached(100, 1000)
    finally:
        files.release(handle)
    assert got is None or bytes(got) == data[100:1100]


class _Presigner:
    def __init__(self) -> None:
        self.calls = 0

    async def presign(self, key: str, expires_in: int) -> str:
        self.calls += 1
        return f"https://store.example/{key}?n={self.calls}&expires={expires_in}"


async def test_a_presigned_url_is_reused_until_it_nears_expiry() -> None:
    now = [1000.0]
    presigner = _Presigner()
    urls = PresignedUrls(presigner, clock=lambda: now[0])
    first, again = await urls.url("k"), await urls.url("k")
    now[0] += URL_SECONDS - RENEW_BEFORE
    renewed = await urls.url("k")
    assert first == again != renewed
    assert presigner.calls == 2


async def test_access_log_lines_come_out_in_order_once_flushed() -> None:
    stream = io.StringIO()
    sink = LogSink(stream)
    for number in range(1000):
        sink.add(f"line {number}\n")
    sink.close()
    assert stream.getvalue().splitlines() == [f"line {n}" for n in range(1000)]


def _under_soft_limit(soft: int, *argv: str) -> list[str]:
    """`argv` run with its soft open-files limit lowered to `soft` (the hard one kept)."""
    return ["sh", "-c", f'ulimit -Sn {soft} && exec "$@"', "sh", *argv]


def _hard_limit() -> int:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        return int(Path("/proc/sys/fs/nr_open").read_text())
    if hard <= LOW_SOFT:
        pytest.skip(f"the hard open-files limit ({hard}) leaves nothing to raise")
    return hard


LOW_SOFT = 512
RAISE = (
    "import resource; from serve.capacity import raise_open_files_limit as r; l = r(); "
    "print(l.before, l.soft, l.hard, resource.getrlimit(resource.RLIMIT_NOFILE)[0])"
)


def test_the_open_files_limit_is_raised_from_the_soft_limit_to_the_hard_one() -> None:
    hard = _hard_limit()
    argv = _under_soft_limit(LOW_SOFT, sys.executable, "-c", RAISE)
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60).stdout
    assert [int(n) for n in out.split()] == [LOW_SOFT, hard, hard, hard]


def test_a_worker_can_hold_its_limit_less_the_descriptors_it_keeps_for_itself() -> None:
    assert connections_for(20_000) == 20_000 - RESERVED
    assert connections_for(RESERVED) == 0
    assert connections_for(16) == 0
    assert OpenFilesLimit(1024, 4096, 4096).describe() == (
        f"up to {4096 - RESERVED:,} connections per worker "
        "(open files limit 4,096, raised from 1024)"
    )


def test_the_server_says_at_start_up_and_in_its_metrics_how_many_connections_it_holds(
    dm_env: dict[str, str], tmp_path: Path
) -> None:
    hard = _hard_limit()
    log = tmp_path / "serve.log"
    serve = [sys.executable, "-m", "datamirror", "serve", "--host", LOOPBACK, "--port", "0"]
    argv = _under_soft_limit(LOW_SOFT, *serve, "--workers", "2")
    with running(argv, log=log, env=dm_env) as proc:
        base = f"http://{LOOPBACK}:{port_from_log(log, SERVING, proc)}"
        wait_for_http(base + "/healthz", timeout=30)
        per_worker = connections_for(hard)
        gauge = f"datamirror_http_connection_capacity {float(2 * per_worker)}"
        deadline = time.monotonic() + 10  # until the second worker has written its gauge
        while gauge not in (metrics := _get(base + "/metrics")) and time.monotonic() < deadline:
            time.sleep(0.1)
    assert f"up to {per_worker:,} connections per worker" in log.read_text()
    assert f"(open files limit {hard:,}, raised from {LOW_SOFT})" in log.read_text()
    assert gauge in metrics


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())
