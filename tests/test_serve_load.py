"""`datamirror serve` under load (issue 14): 300 slow readers hold their connections while 32
clients read small ranges and then 1,000 connections mix whole files and small ranges
(`benchmarks/load.py`, driven by wrk). Started with a soft open-files limit of 1024, the
server must raise it itself to hold them all. No timing is asserted: the latency and
throughput go to the artefact `load.json` (and docs/reliability.md); the test pins what
must never happen: a 5xx, a socket error, a wrong byte, a dropped slow reader, memory
without bound, descriptors not given back.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from pathlib import Path

import pytest

from benchmarks import load
from catalog.repository import Catalog
from catalog.store.local import LocalStore
from tests.fixtures.datamirror_server import SERVING, publish_files
from tests.fixtures.net import LOOPBACK, port_from_log, require_binary, running, wait_for_http

pytestmark = pytest.mark.slow

LOW_SOFT_LIMIT = 1024
RSS_BOUND_MIB = 600  # two workers; a per-connection leak of 1,300 connections would pass it
RANGE_FILE = "genome/ranges.bin"
WHOLE_FILE = "downloads/whole.bin"


def _data() -> dict[str, bytes]:
    block = bytes(range(256)) * 4096  # 1 MiB
    return {RANGE_FILE: block * 16, WHOLE_FILE: block[::-1]}


def _artifact(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("DATAMIRROR_ARTIFACTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "load.json"


async def test_slow_readers_starve_no_one_and_a_thousand_connections_get_no_error(
    catalog: Catalog, dm_env: dict[str, str], tmp_path: Path
) -> None:
    tool = require_binary("wrk", "wrk")
    if resource.getrlimit(resource.RLIMIT_NOFILE)[1] < 4 * LOW_SOFT_LIMIT:
        pytest.skip("the hard open-files limit is too low for 1,300 connections")
    files = _data()
    store = LocalStore(Path(dm_env["DATAMIRROR_STORE"].removeprefix("file://")))
    await publish_files(catalog, store, "load", files)
    await store.close()
    serve = [sys.executable, "-m", "datamirror", "serve", "--host", LOOPBACK, "--port", "0"]
    argv = ["sh", "-c", f'ulimit -Sn {LOW_SOFT_LIMIT} && exec "$@"', "sh", *serve]
    log = tmp_path / "serve.log"
    with running([*argv, "--workers", "2"], log=log, env=dm_env) as proc:
        port = port_from_log(log, SERVING, proc)
        wait_for_http(f"http://{LOOPBACK}:{port}/healthz", timeout=30)
        target = load.Target(
            host=LOOPBACK,
            port=port,
            range_path=f"/datasets/load/latest/{RANGE_FILE}",
            range_size=len(files[RANGE_FILE]),
            whole_path=f"/datasets/load/latest/{WHOLE_FILE}",
            whole_bytes=files[WHOLE_FILE],
            pids=lambda: load.server_pids(proc.pid),
        )
        report = await load.run(tool, target, load.Plan())
    _artifact(tmp_path).write_text(json.dumps(report.to_json(), indent=2))
    print(load.summary(report))
    assert f"raised from {LOW_SOFT_LIMIT}" in log.read_text()
    assert (report.slow_connected, report.slow_held) == (300, 300)
    assert report.slow_wrong_bytes == 0
    for phase in (report.ranges, report.mix):
        assert phase.requests > 0
        problems = (phase.server_errors, phase.non_2xx, phase.socket_errors, phase.bad_answers)
        assert problems == (0, 0, 0, 0), load.summary(report)
    assert report.peak_rss_mib < RSS_BOUND_MIB, load.summary(report)
    assert report.after.fds <= report.before.fds, load.summary(report)
