"""`datamirror serve` as a process: workers sharing a port, the access log, graceful
shutdown with downloads in flight, redirects to presigned store URLs; and the sendfile path
taken for local files.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from catalog.config import Settings
from catalog.repository import Catalog
from catalog.store.local import LocalStore
from datamirror.runtime import open_runtime
from serve.app import ServeConfig, make_app
from tests.fixtures.datamirror_server import SERVING, Site, publish_files
from tests.fixtures.net import LOOPBACK, port_from_log, running, wait_for_http

COMBINED = re.compile(
    r'^127\.0\.0\.1 - - \[[^\]]+\] "GET /datasets/d/latest/a\.txt HTTP/1\.1" 200 \d+ "-" "\S+',
    re.MULTILINE,
)


def _serve_argv(port: int, *extra: str) -> list[str]:
    argv = [sys.executable, "-m", "datamirror", "serve", "--host", LOOPBACK]
    return [*argv, "--port", str(port), *extra]


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        data: bytes = response.read()
        return data


async def test_workers_share_the_port_and_log_requests_in_combined_format(
    catalog: Catalog, dm_env: dict[str, str], tmp_path: Path
) -> None:
    store = LocalStore(Path(dm_env["DATAMIRROR_STORE"].removeprefix("file://")))
    await publish_files(catalog, store, "d", {"a.txt": b"hello"})
    await store.close()
    log = tmp_path / "serve.log"
    with running(_serve_argv(0, "--workers", "2"), log=log, env=dm_env) as proc:
        port = port_from_log(log, SERVING, proc)
        base = f"http://{LOOPBACK}:{port}"
        wait_for_http(base + "/healthz", timeout=30)
        bodies = {_fetch(f"{base}/datasets/d/latest/a.txt") for _ in range(20)}
        assert bodies == {b"hello"}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not COMBINED.search(log.read_text()):
            time.sleep(0.1)
    text = log.read_text()
    assert f"serving on http://{LOOPBACK}:{port}/ with 2 worker(s)" in text
    assert any(COMBINED.match(line) for line in text.splitlines())


def _read_headers(sock: socket.socket) -> bytes:
    buffer = b""
    for _ in range(1000):
        if b"\r\n\r\n" in buffer:
            break
        buffer += sock.recv(4096)
    head, _, rest = buffer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    return rest


async def test_sigterm_lets_a_download_in_flight_finish(
    catalog: Catalog, dm_env: dict[str, str], tmp_path: Path
) -> None:
    store = LocalStore(Path(dm_env["DATAMIRROR_STORE"].removeprefix("file://")))
    data = bytes(range(256)) * (24 * 4096)  # 24 MiB: far more than the socket buffers hold
    await publish_files(catalog, store, "d", {"big.bin": data})
    await store.close()
    argv = _serve_argv(0, "--workers", "1", "--grace", "30")
    log = tmp_path / "serve.log"
    with running(argv, log=log, env=dm_env) as proc:
        port = port_from_log(log, SERVING, proc)
        wait_for_http(f"http://{LOOPBACK}:{port}/healthz", timeout=30)
        with socket.create_connection((LOOPBACK, port), timeout=20) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            sock.sendall(b"GET /datasets/d/latest/big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            received = len(_read_headers(sock))
            proc.send_signal(signal.SIGTERM)
            for _ in range(100_000):
                chunk = sock.recv(1 << 20)
                if not chunk:
                    break
                received += len(chunk)
                if received >= len(data):
                    break
        assert received == len(data)
        assert proc.wait(timeout=30) == 0


async def test_a_local_file_and_its_ranges_go_out_through_sendfile(
    catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalStore(tmp_path / "store")
    data = bytes(range(256)) * 1024
    await publish_files(catalog, store, "d", {"f.bin": data})
    settings = Settings(home=tmp_path, db_url=catalog.url, store_url=store.url)
    sent_by_sendfile: list[int] = []
    real: Callable[..., int] = os.sendfile

    def spy(out_fd: int, in_fd: int, offset: int | None, count: int) -> int:
        sent = real(out_fd, in_fd, offset, count)
        sent_by_sendfile.append(sent)
        return sent

    monkeypatch.setattr(os, "sendfile", spy)

    app = make_app(ServeConfig(), lambda: open_runtime(settings))
    async with TestClient(TestServer(app, host=LOOPBACK)) as client:
        whole = await (await client.get("/datasets/d/latest/f.bin")).read()
        small = await client.get("/datasets/d/latest/f.bin", headers={"Range": "bytes=10-19"})
        large = await client.get("/datasets/d/latest/f.bin", headers={"Range": "bytes=10-"})
        got = whole, await small.read(), await large.read()
    await store.close()
    assert got == (data, data[10:20], data[10:])
    assert sum(sent_by_sendfile) == len(data) + 10 + (len(data) - 10)


@pytest.mark.s3
@pytest.mark.parametrize("site", ["s3-moto"], indirect=True)  # presigning is S3's
def test_redirect_to_store_answers_a_presigned_url_that_serves_the_bytes(
    site: Site, datamirror_server: Callable[..., str]
) -> None:
    base = datamirror_server(site.env, "--redirect-to-store")
    url = f"{base}/datasets/{site.dataset}/{site.release}/big/data.bin"

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.build_opener(NoRedirect).open(url, timeout=10)
    with caught.value as answer:
        assert answer.code == 302
        location = answer.headers["Location"]
    assert "Signature" in location or "X-Amz-Signature" in location
    assert _fetch(location) == site.files["big/data.bin"]
