"""/metrics: Prometheus text format, counting requests, bytes, latency and in-flight requests,
of every worker process in each scrape."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fixtures.datamirror_server import Site
from tests.fixtures.net import LOOPBACK, free_port, running, wait_for_http

LOCAL = pytest.mark.parametrize("site", ["local"], indirect=True)
SAMPLE = re.compile(r"^([a-z_]+)(\{[^}]*\})? (\S+)$")


def scrape(site: Site) -> dict[str, float]:
    with urllib.request.urlopen(site.base + "/metrics", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) datamirror_\w+ ", line), line
            continue
        match = SAMPLE.match(line)
        assert match, line
        samples[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return samples


FILE_OK = 'datamirror_http_requests_total{kind="file",status="2xx"}'
FILE_MISS = 'datamirror_http_requests_total{kind="file",status="4xx"}'


def _count(now: dict[str, float], before: dict[str, float]) -> float:
    return sum(now.get(k, 0.0) - before.get(k, 0.0) for k in (FILE_OK, FILE_MISS))


def scrape_when(site: Site, ready: Callable[[dict[str, float]], bool]) -> dict[str, float]:
    """Scrape until `ready`: a request is counted just after its last byte went out, so
    a scrape right behind it may not see it yet (bounded: 5 s)."""
    deadline = time.monotonic() + 5
    samples = scrape(site)
    while not ready(samples) and time.monotonic() < deadline:
        time.sleep(0.02)
        samples = scrape(site)
    return samples


def get(url: str) -> tuple[int, int]:
    """The status and the body's size."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status), len(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, len(exc.read())


@LOCAL
def test_metrics_count_requests_bytes_and_latency_by_route_kind(site: Site) -> None:
    path = "genome/chr1.fa"
    before = scrape(site)
    for _ in range(3):
        assert get(site.url(path)) == (200, len(site.files[path]))
    status, miss_bytes = get(f"{site.base}/datasets/{site.dataset}/{site.release}/no-such-file")
    assert status == 404
    after = scrape_when(site, lambda s: s != before and _count(s, before) >= 4)

    def delta(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    assert delta('datamirror_http_requests_total{kind="file",status="2xx"}') == 3
    assert delta('datamirror_http_requests_total{kind="file",status="4xx"}') == 1
    # the miss is an answer of the file route too: its body and time count with the files'
    file_bytes = 3 * len(site.files[path]) + miss_bytes
    assert delta('datamirror_http_response_bytes_total{kind="file"}') == file_bytes
    assert delta('datamirror_http_request_duration_seconds_count{kind="file"}') == 4
    assert delta('datamirror_http_request_duration_seconds_bucket{kind="file",le="+Inf"}') == 4
    assert after["datamirror_http_requests_in_flight"] == 1  # the scrape itself


def _ask(url: str, method: str = "GET") -> int:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


@LOCAL
def test_every_answer_is_counted_under_the_name_of_its_route(site: Site) -> None:
    release = f"{site.base}/datasets/{site.dataset}/{site.release}/"
    asked = {
        ("index", "2xx"): [site.base + "/"],
        ("landing", "2xx"): [f"{site.base}/datasets/{site.dataset}/"],
        ("listing", "2xx"): [release, release + "genome/"],
        ("document", "2xx"): [release + ".datamirror/manifest.json"],
        ("api", "2xx"): [site.base + "/api/v1/openapi.json"],
        ("api", "4xx"): [site.base + "/api/v1/sources"],
        ("health", "2xx"): [site.base + "/healthz", site.base + "/readyz"],
        ("unmatched", "4xx"): [site.base + "/favicon.ico"],
    }
    before = scrape(site)
    for (_, status), urls in asked.items():
        for url in urls:
            assert f"{_ask(url) // 100}xx" == status, url
    assert _ask(release + "README.md", method="OPTIONS") == 204
    expected = {kind: len(urls) for kind, urls in asked.items()} | {("preflight", "2xx"): 1}
    names = {
        k: f'datamirror_http_requests_total{{kind="{k[0]}",status="{k[1]}"}}' for k in expected
    }

    def counted(samples: dict[str, float]) -> dict[tuple[str, str], float]:
        return {k: samples.get(n, 0.0) - before.get(n, 0.0) for k, n in names.items()}

    after = scrape_when(site, lambda s: counted(s) == expected)
    assert counted(after) == expected


def _stale_count(folder: Path, count: int) -> None:
    """Leave metrics files as an earlier run of the server would (another process)."""
    code = "from serve.metrics import Metrics\nm = Metrics()\n"
    code += "m.record('file', 200, 1, 0.01)\n" * count
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)


@LOCAL
def test_every_scrape_of_a_two_worker_server_counts_the_requests_of_both(
    site: Site, tmp_path: Path
) -> None:
    folder = tmp_path / "prometheus"
    folder.mkdir()
    _stale_count(folder, 3)  # a previous run's files: emptied at start, never counted
    port = free_port()
    argv = [sys.executable, "-m", "datamirror", "serve", "--host", LOOPBACK, "--port", str(port)]
    env = {**site.env, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    with running([*argv, "--workers", "2"], log=tmp_path / "serve.log", env=env) as proc:
        server = Site(f"http://{LOOPBACK}:{port}", site.env, site.catalog, site.store, "local")
        wait_for_http(server.base + "/healthz", timeout=30)
        url = site.url("genome/chr1.fa").replace(site.base, server.base)
        requests, workers = 0, set[str]()
        while len(workers) < 2 and requests < 400:  # until the second worker listens too
            for _ in range(10):
                assert get(url)[0] == 200
            requests += 10
            workers = {p.stem.rpartition("_")[2] for p in folder.glob("counter_*.db")}
        assert len(workers) == 2, "both workers answered some of the requests"
        first = scrape_when(server, lambda s: s.get(FILE_OK) == requests)
        assert first[FILE_OK] == requests
        for _ in range(8):  # each scrape lands on either worker: each sees them all
            samples = scrape(server)
            assert samples[FILE_OK] == requests
            assert samples['datamirror_http_request_duration_seconds_count{kind="file"}'] == (
                requests
            )
            assert samples["datamirror_http_requests_in_flight"] == 1
        child = int(next(iter(workers - {str(proc.pid)})))
        os.kill(child, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while (folder / f"gauge_livesum_{child}.db").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not (folder / f"gauge_livesum_{child}.db").exists(), "the dead worker is marked"
        after = scrape(server)  # the first worker alone now, still counting the dead one's
        assert after[FILE_OK] == requests
        assert after["datamirror_http_requests_in_flight"] == 1
