"""`datamirror serve` under load (issue 14), and the connections that must not hold it.

The load run (`benchmarks/load.py`, driven by wrk): 300 slow readers hold their
connections while 32 clients read small ranges and then 1,000 connections mix whole files
and small ranges. Started with a soft open-files limit of 512, the server must raise it
itself to hold them all. No timing is asserted: latency and throughput go to the artefact
`load.json` (and docs/reliability.md); the test pins what must never happen: a 5xx, a
socket error, a wrong byte, a dropped slow reader, memory without bound, descriptors not
given back.

The rest pins the timeouts that keep a client from holding a connection for ever: an idle
keep-alive connection, one that sends its headers a byte at a time, one that never reads.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from benchmarks import load
from catalog.repository import Catalog
from catalog.store.base import ByteRange
from catalog.store.local import LocalStore
from serve.bodies import WRITE_SLICE, BodyResponse, BytesSender
from serve.remote_reads import STALL_SECONDS
from tests.fixtures.datamirror_server import SERVING, Site, publish_files
from tests.fixtures.net import LOOPBACK, port_from_log, require_binary, running, wait_for_http

LOW_SOFT_LIMIT = 512
RSS_BOUND_MIB = 600  # two workers; a per-connection leak of 1,300 connections would pass it
RANGE_FILE = "genome/ranges.bin"
WHOLE_FILE = "downloads/whole.bin"
SETTLE_SECONDS = 20.0


def _data() -> dict[str, bytes]:
    block = bytes(range(256)) * 4096  # 1 MiB
    return {RANGE_FILE: block * 16, WHOLE_FILE: block[::-1]}


def _artifact(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("DATAMIRROR_ARTIFACTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "load.json"


class Server:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.proc, self.port, self.log = proc, port, log

    def pids(self) -> list[int]:
        return load.server_pids(self.proc.pid)

    def sockets(self) -> int:
        return load.server_state(self.pids()).fd_kinds.get("socket", 0)


Start = Callable[..., Server]


@pytest.fixture
async def serve(catalog: Catalog, dm_env: dict[str, str], tmp_path: Path) -> AsyncIterator[Start]:
    """`serve(*options, soft_limit=None)`: `datamirror serve` over the two files of `_data`."""
    store = LocalStore(Path(dm_env["DATAMIRROR_STORE"].removeprefix("file://")))
    await publish_files(catalog, store, "load", _data())
    await store.close()
    with ExitStack() as stack:

        def start(*options: str, soft_limit: int | None = None) -> Server:
            argv = [sys.executable, "-m", "datamirror", "serve", "--host", LOOPBACK]
            argv += ["--port", "0", *options]
            if soft_limit is not None:
                argv = ["sh", "-c", f'ulimit -Sn {soft_limit} && exec "$@"', "sh", *argv]
            log = tmp_path / f"serve-{time.monotonic_ns()}.log"
            proc = stack.enter_context(running(argv, log=log, env=dm_env))
            port = port_from_log(log, SERVING, proc)
            wait_for_http(f"http://{LOOPBACK}:{port}/healthz", timeout=30)
            return Server(proc, port, log)

        yield start


@pytest.mark.slow
async def test_slow_readers_starve_no_one_and_a_thousand_connections_get_no_error(
    serve: Start, tmp_path: Path
) -> None:
    tool = require_binary("wrk", "wrk")
    if resource.getrlimit(resource.RLIMIT_NOFILE)[1] < 8 * LOW_SOFT_LIMIT:
        pytest.skip("the hard open-files limit is too low for 1,300 connections")
    server = serve("--workers", "2", soft_limit=LOW_SOFT_LIMIT)
    files = _data()
    target = load.Target(
        host=LOOPBACK,
        port=server.port,
        range_path=f"/datasets/load/latest/{RANGE_FILE}",
        range_size=len(files[RANGE_FILE]),
        whole_path=f"/datasets/load/latest/{WHOLE_FILE}",
        whole_bytes=files[WHOLE_FILE],
        pids=server.pids,
    )
    report = await load.run(tool, target, load.Plan(settle_seconds=SETTLE_SECONDS))
    _artifact(tmp_path).write_text(json.dumps(report.to_json(), indent=2))
    print(load.summary(report))
    assert f"raised from {LOW_SOFT_LIMIT}" in server.log.read_text()
    assert (report.slow_connected, report.slow_held) == (300, 300)
    assert report.slow_wrong_bytes == 0
    assert report.latecomers_answered == report.plan.latecomers, load.summary(report)
    for phase in (report.ranges, report.mix):
        assert phase.requests > 0
        problems = (phase.server_errors, phase.non_2xx, phase.socket_errors, phase.bad_answers)
        assert problems == (0, 0, 0, 0), load.summary(report)
    assert report.peak_rss_mib < RSS_BOUND_MIB, load.summary(report)
    assert report.after.fds <= report.before.fds, load.summary(report)


def _connect(server: Server, rcvbuf: int | None = None) -> socket.socket:
    sock = socket.socket()
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(30)
    sock.connect((LOOPBACK, server.port))
    return sock


def _closed_by_server(sock: socket.socket) -> bool:
    """True once the server closes or resets the connection (within the socket's timeout)."""
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def _sockets_when(server: Server, done: Callable[[int], bool]) -> int:
    """The server's count of sockets once `done` holds of it (or the time is up)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while not done(now := server.sockets()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return now


def test_an_idle_keep_alive_connection_is_closed_after_the_keepalive_timeout(
    serve: Start,
) -> None:
    server = serve("--workers", "1", "--keepalive-timeout", "1")
    with _connect(server) as sock:
        sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: {LOOPBACK}\r\n\r\n".encode())
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        assert _closed_by_server(sock)


def test_a_client_sending_its_headers_a_byte_at_a_time_is_cut_off_by_the_keepalive_timeout(
    serve: Start,
) -> None:
    server = serve("--workers", "1", "--keepalive-timeout", "1")
    with _connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
        sock.settimeout(0.2)
        cut = False
        for _ in range(100):  # 20 s at most
            try:
                sock.sendall(b"a")
                cut = _closed_by_server(sock)
            except (BrokenPipeError, ConnectionResetError):
                cut = True
            if cut:
                break
        assert cut


def test_a_client_that_never_reads_is_dropped_after_the_send_timeout(serve: Start) -> None:
    server = serve("--workers", "1", "--send-timeout", "1")
    idle = server.sockets()
    with _connect(server, rcvbuf=4096) as sock:
        path = f"/datasets/load/latest/{RANGE_FILE}"
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {LOOPBACK}\r\n\r\n".encode())
        assert _sockets_when(server, lambda n: n > idle) == idle + 1  # held while it sends
        assert _sockets_when(server, lambda n: n <= idle) == idle
    assert "Traceback" not in server.log.read_text()


PER_SLOW_READER_KIB = 96


async def test_a_slow_reader_of_a_file_costs_the_server_less_than_a_chunk_of_memory(
    serve: Start,
) -> None:
    """sendfile leaves what a slow client has not taken in the page cache and the socket."""
    server = serve("--workers", "1")
    files = _data()
    target = load.Target(
        host=LOOPBACK,
        port=server.port,
        range_path=f"/datasets/load/latest/{RANGE_FILE}",
        range_size=len(files[RANGE_FILE]),
        whole_path=f"/datasets/load/latest/{RANGE_FILE}",
        whole_bytes=files[RANGE_FILE],
        pids=server.pids,
    )
    plan = load.Plan(slow_readers=300)
    for _ in range(3):  # the server's own allocations settle (held file, pools, code paths)
        await load.SlowReaders(target, replace(plan, slow_readers=20)).run_briefly()
    before = load.server_state(server.pids()).rss_mib
    slow = load.SlowReaders(target, plan)
    await slow.start()
    await asyncio.sleep(2)  # every answer has filled what the server buffers for it
    grown_kib = (load.server_state(server.pids()).rss_mib - before) * 1024
    await slow.stop()
    assert slow.held == plan.slow_readers
    assert grown_kib / plan.slow_readers < PER_SLOW_READER_KIB


async def test_a_body_in_memory_is_handed_to_a_slow_client_a_slice_at_a_time() -> None:
    """A generated document (a release's manifest.json can run to megabytes) goes out from
    one shared copy: a client that does not read holds a few slices of it in the server's
    write buffer, not a copy of all of it."""
    body = bytes(range(256)) * (32 * 1024)  # 8 MiB, more than the kernel takes at once

    async def handler(request: web.Request) -> web.StreamResponse:
        segments = [ByteRange(0, len(body))]
        return BodyResponse(status=200, headers={}, segments=segments, sender=BytesSender(body))

    app = web.Application()
    app.router.add_get("/doc", handler)
    loop = asyncio.get_running_loop()
    async with TestServer(app, host=LOOPBACK) as server:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        with sock:
            await loop.sock_connect(sock, (LOOPBACK, server.port))
            await loop.sock_sendall(sock, f"GET /doc HTTP/1.1\r\nHost: {LOOPBACK}\r\n\r\n".encode())
            buffered = await _write_buffer_once_stalled(server)
    assert 0 < buffered <= 3 * WRITE_SLICE


async def _write_buffer_once_stalled(server: TestServer) -> int:
    """The server's write buffer for its one connection once it stops changing (<= 10 s)."""
    last, steady = -1, 0
    for _ in range(100):
        await asyncio.sleep(0.1)
        handlers = server.runner.server.connections if server.runner.server else []
        now = sum(h.transport.get_write_buffer_size() for h in handlers if h.transport)
        steady = steady + 1 if now == last and now > 0 else 0
        if steady == 5:
            break
        last = now
    return last


@pytest.mark.s3
@pytest.mark.parametrize("site", ["s3-moto"], indirect=True)  # presigned reads are S3's
async def test_slow_readers_of_an_s3_store_leave_its_connections_to_the_others(
    site: Site,
) -> None:
    """More slow readers than the pool has connections to the store (64 a worker): each
    gives its connection back once its client stalls, so a normal download still runs."""
    big = bytes(range(256)) * (32 * 1024)  # 8 MiB: more than the kernel buffers for a reader
    dataset = await site.publish({"big.bin": big})
    path = f"/datasets/{dataset}/latest/big.bin"
    host, port = site.base.removeprefix("http://").split(":")
    target = load.Target(host, int(port), path, len(big), path, big, list)
    slow = load.SlowReaders(target, load.Plan(slow_readers=100))
    await slow.start()
    try:
        await asyncio.sleep(2 * STALL_SECONDS)  # every reader has stalled its answer
        got = await asyncio.to_thread(_download, site.base + path)
        held = slow.held
    finally:
        await slow.stop()
    assert (held, slow.wrong) == (100, 0)
    assert got == big


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return bytes(response.read())
