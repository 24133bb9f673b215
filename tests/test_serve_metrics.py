"""/metrics: Prometheus text format, counting requests, bytes, latency and in-flight requests."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable

import pytest

from tests.fixtures.datamirror_server import Site

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
DATASET_MISS = 'datamirror_http_requests_total{kind="dataset",status="4xx"}'


def _count(now: dict[str, float], before: dict[str, float]) -> float:
    return sum(now.get(k, 0.0) - before.get(k, 0.0) for k in (FILE_OK, DATASET_MISS))


def scrape_when(site: Site, ready: Callable[[dict[str, float]], bool]) -> dict[str, float]:
    """Scrape until `ready`: a request is counted just after its last byte went out, so
    a scrape right behind it may not see it yet (bounded: 5 s)."""
    deadline = time.monotonic() + 5
    samples = scrape(site)
    while not ready(samples) and time.monotonic() < deadline:
        time.sleep(0.02)
        samples = scrape(site)
    return samples


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code


@LOCAL
def test_metrics_count_requests_bytes_and_latency_by_route_kind(site: Site) -> None:
    path = "genome/chr1.fa"
    before = scrape(site)
    for _ in range(3):
        assert get(site.url(path)) == 200
    assert get(f"{site.base}/datasets/{site.dataset}/{site.release}/no-such-file") == 404
    after = scrape_when(site, lambda s: s != before and _count(s, before) >= 4)

    def delta(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    assert delta('datamirror_http_requests_total{kind="file",status="2xx"}') == 3
    assert delta('datamirror_http_response_bytes_total{kind="file"}') == 3 * len(site.files[path])
    assert delta('datamirror_http_requests_total{kind="dataset",status="4xx"}') == 1
    assert delta('datamirror_http_request_duration_seconds_count{kind="file"}') == 3
    assert delta('datamirror_http_request_duration_seconds_bucket{kind="file",le="+Inf"}') == 3
    assert after["datamirror_http_requests_in_flight"] == 1  # the scrape itself
