"""Workload 12: serving under load (`benchmarks/load.py`). 300 slow readers hold their
connections while 32 wrk clients read 4 KiB ranges (12a: their p99, target 50 ms) and then
1,000 connections mix 1 MiB whole files with 4 KiB ranges (12b: requests per second).
datamirror serve (two workers, local store) against nginx (sendfile on, two workers)."""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from pathlib import Path

from benchmarks import dm, load
from benchmarks.model import REQUESTS, Metric, Sample, WorkloadResult
from benchmarks.procs import LOOPBACK, free_port, run, server
from benchmarks.sources import LOOPBACK_PROFILE, nginx_source
from benchmarks.workloads.base import FAILURES, MIB, Contender, Context, alternate

P99 = Metric("p99 latency", "ms", higher_is_better=False)
RANGE_FILE = "genome/ranges.bin"
WHOLE_FILE = "downloads/whole.bin"
RANGE_SIZE = 64 * MIB
TARGET_P99_MS = 50.0


def _tree(root: Path) -> dict[str, bytes]:
    """The two files, generated (kept on disk for the servers; the whole one also in memory)."""
    rng = random.Random(12)
    whole = rng.randbytes(MIB)
    for rel, size in ((RANGE_FILE, RANGE_SIZE), (WHOLE_FILE, MIB)):
        path = root / rel
        if not path.exists() or path.stat().st_size != size:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(whole if rel == WHOLE_FILE else rng.randbytes(size))
    return {WHOLE_FILE: (root / WHOLE_FILE).read_bytes()}


def _plan(ctx: Context) -> load.Plan:
    if ctx.settings.quick:
        return replace(load.Plan(), range_seconds=3, mix_seconds=3)
    return load.Plan()


def _contender(
    ctx: Context, name: str, target: load.Target | None, reports: dict[str, list[load.Report]]
) -> Contender:
    tool = ctx.tools.get("wrk")
    if tool is None or target is None:
        why = ctx.tools.why_missing("wrk") if tool is None else "setup failed"
        return Contender(name, lambda i: Sample(0.0), name.startswith("datamirror"), why)

    def measure(index: int) -> Sample:
        report = asyncio.run(load.run(tool, target, _plan(ctx)))
        print("      " + load.summary(report).replace("\n", "\n      "), flush=True)
        problems = [
            f"{phase.server_errors} 5xx, {phase.socket_errors} socket errors, "
            f"{phase.bad_answers} wrong answers"
            for phase in (report.ranges, report.mix)
            if phase.server_errors or phase.socket_errors or phase.bad_answers or phase.non_2xx
        ]
        if report.slow_wrong_bytes:
            problems.append(f"{report.slow_wrong_bytes} slow readers got wrong bytes")
        if problems:
            raise RuntimeError("; ".join(problems))
        reports.setdefault(name, []).append(report)
        return Sample(report.ranges.p99_ms, _range_details(report))

    return Contender(name, measure, name.startswith("datamirror"))


def _range_details(report: load.Report) -> dict[str, float]:
    return {
        "p50_ms": report.ranges.p50_ms,
        "req_per_s": report.ranges.requests_per_s,
        "slow_held": float(report.slow_held),
    }


def _mix_sample(report: load.Report) -> Sample:
    mix = report.mix
    return Sample(
        mix.requests_per_s,
        {
            "mib_per_s": mix.mib_per_s,
            "p99_ms": mix.p99_ms,
            "socket_errors": float(mix.socket_errors),
            "server_5xx": float(mix.server_errors),
            "server_rss_mib": report.peak_rss_mib,
            "fds_before": float(report.before.fds),
            "fds_after": float(report.after.fds),
            "slow_held": float(report.slow_held),
            "latecomers": float(report.latecomers_answered),
        },
    )


def _targets(ctx: Context) -> list[tuple[str, load.Target | None]]:
    root = ctx.work / "data" / "load"
    files = _tree(root)
    run_dir = ctx.work / "run" / "load-nginx"
    nginx = ctx.tools.get("nginx")
    if nginx is None:
        return [("datamirror serve (local store)", None), ("nginx (sendfile on)", None)]
    source = ctx.stack.enter_context(nginx_source(nginx, LOOPBACK_PROFILE, root, run_dir))
    nginx_pid = int((run_dir / "nginx.pid").read_text())
    found: list[tuple[str, load.Target | None]] = []
    try:
        home = dm.new_home(ctx.scratch("dm-load"))
        dm.add_source(home, source.url, "load")
        run(dm.sync_argv("load"), env=home.env, timeout=600)
        port = free_port()
        proc = ctx.stack.enter_context(
            server(
                dm.serve_argv(port, ctx.settings.serve_workers),
                env=home.env,
                ready_url=f"http://{LOOPBACK}:{port}/healthz",
                log=ctx.work / "run" / "dm-serve-load.log",
            )
        )
        prefix = "/datasets/load/latest/"
        found.append(
            (
                "datamirror serve (local store)",
                _target(port, prefix, files, lambda: load.server_pids(proc.pid)),
            )
        )
    except FAILURES as exc:
        print(f"    datamirror serve: setup failed: {exc}", flush=True)
        found.append(("datamirror serve (local store)", None))
    nginx_target = _target(source.port, "/", files, lambda: load.server_pids(nginx_pid))
    found.append(("nginx (sendfile on)", nginx_target))
    return found


def _target(port: int, prefix: str, files: dict[str, bytes], pids: load.Pids) -> load.Target:
    return load.Target(
        host=LOOPBACK,
        port=port,
        range_path=prefix + RANGE_FILE,
        range_size=RANGE_SIZE,
        whole_path=prefix + WHOLE_FILE,
        whole_bytes=files[WHOLE_FILE],
        pids=pids,
    )


def run_group(ctx: Context, only: set[str]) -> list[WorkloadResult]:
    if "12" not in only:
        return []
    print("  12-serve-under-load", flush=True)
    reports: dict[str, list[load.Report]] = {}
    targets = _targets(ctx)
    ranges = alternate(
        [_contender(ctx, name, target, reports) for name, target in targets], ctx.settings.runs
    )
    mixes = tuple(
        replace(c, samples=tuple(_mix_sample(r) for r in reports.get(c.name, []))) for c in ranges
    )
    plan = _plan(ctx)
    slow = f"{plan.slow_readers} slow readers ({plan.slow_bytes} B every {plan.slow_interval:g} s)"
    return [
        WorkloadResult(
            key="12a-load-ranges-p99",
            title=f"p99 of {plan.range_clients} clients reading 4 KiB ranges beside {slow}",
            metric=P99,
            contenders=ranges,
            target=TARGET_P99_MS,
            notes=f"wrk -c{plan.range_clients} for {plan.range_seconds} s; zero 5xx, zero "
            "socket errors and exact bodies required",
        ),
        WorkloadResult(
            key="12b-load-mix",
            title=f"{plan.mix_connections} connections mixing 1 MiB files and 4 KiB ranges "
            f"beside {slow}",
            metric=REQUESTS,
            contenders=mixes,
            notes=f"wrk -c{plan.mix_connections} for {plan.mix_seconds} s, one request in "
            f"{plan.whole_every} a whole file; server RSS is the peak; descriptors before and "
            f"after the load; latecomers: {plan.latecomers} fresh connections at the peak "
            "(the nginx peer runs the sources' worker_connections 1024)",
        ),
    ]
