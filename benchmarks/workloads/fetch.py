"""Workloads 1, 4 and 6: one big file from a remote-like and from a loopback source, and
datamirror's peak memory while it does so."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from benchmarks.data import BIG_NAME, Tree, check_file
from benchmarks.model import PEAK_RSS, SECONDS, ContenderResult, Sample, WorkloadResult
from benchmarks.workloads.base import (
    Contender,
    Context,
    alternate,
    dm_sync_contender,
    peer_contender,
)

RSS_TARGET_MIB = 150.0
QUIET_ARIA2 = [
    "--summary-interval=0",
    "--console-log-level=warn",
    "--allow-overwrite=true",
    "--auto-file-renaming=false",
]


def _checks_big(tree: Tree, rel: str) -> Callable[[Path], None]:
    return lambda out: check_file(tree.md5[BIG_NAME], out / rel)


def _rclone(url: str, *flags: str) -> Callable[[str, Path], list[str]]:
    return lambda tool, out: [tool, "copy", "--http-url", url, ":http:", str(out), *flags]


def remote_big_file(ctx: Context) -> WorkloadResult:
    tree = ctx.big_tree()
    source = ctx.source("remote", "big")
    file_url = source.url_of(BIG_NAME)
    whole = _checks_big(tree, BIG_NAME)
    single = _checks_big(tree, "big.fa")
    n = tree.total_bytes
    contenders = [
        dm_sync_contender(ctx, "datamirror sync", source.url, tree),
        peer_contender(
            ctx,
            "aria2c -x16 -s16",
            "aria2c",
            lambda t, out: [
                t,
                "-x16",
                "-s16",
                *QUIET_ARIA2,
                "-d",
                str(out),
                "-o",
                "big.fa",
                file_url,
            ],
            single,
            n,
        ),
        peer_contender(ctx, "rclone copy (defaults)", "rclone", _rclone(source.url), whole, n),
        peer_contender(
            ctx,
            "rclone copy --multi-thread-streams 16",
            "rclone",
            _rclone(source.url, "--multi-thread-streams", "16"),
            whole,
            n,
        ),
        peer_contender(
            ctx,
            "curl",
            "curl",
            lambda t, out: [t, "-sS", "--fail", "-o", str(out / "big.fa"), file_url],
            single,
            n,
        ),
    ]
    return _result(
        ctx,
        "1-remote-big-file",
        "Remote source (20 ms, 20 MiB/s per connection): one big file",
        contenders,
        n,
        notes="datamirror checks the md5 from md5sum.txt; peers "
        "check nothing (the harness checks every output's md5 afterwards).",
    )


def loopback_big_file(ctx: Context) -> WorkloadResult:
    tree = ctx.big_tree()
    source = ctx.source("loopback", "big")
    whole = _checks_big(tree, BIG_NAME)
    n = tree.total_bytes
    contenders = [
        dm_sync_contender(ctx, "datamirror sync", source.url, tree),
        peer_contender(
            ctx,
            "rclone copy --multi-thread-streams 8",
            "rclone",
            _rclone(source.url, "--multi-thread-streams", "8"),
            whole,
            n,
        ),
    ]
    return _result(
        ctx,
        "4-loopback-big-file",
        "Loopback source (unthrottled): one big file",
        contenders,
        n,
        limit="loopback_tcp",
        notes="datamirror computes md5 and xxh3-128 of every byte on the way.",
    )


def _result(
    ctx: Context,
    key: str,
    title: str,
    contenders: list[Contender],
    n: int,
    *,
    limit: str | None = None,
    notes: str = "",
) -> WorkloadResult:
    print(f"  {key}", flush=True)
    return WorkloadResult(
        key=key,
        title=title,
        metric=SECONDS,
        contenders=alternate(contenders, ctx.settings.runs),
        bytes_per_run=n,
        limit=limit,
        notes=notes,
    )


def peak_rss(results: list[WorkloadResult]) -> WorkloadResult:
    """Workload 6: peak RSS of each contender's process tree in workloads 1 and 4."""
    rows: list[ContenderResult] = []
    for result in results:
        short = result.key.split("-", 1)[0]
        for c in result.contenders:
            samples = tuple(
                Sample(s.details["peak_rss_mib"]) for s in c.samples if "peak_rss_mib" in s.details
            )
            rows.append(
                ContenderResult(
                    name=f"{c.name} (workload {short})",
                    is_datamirror=c.is_datamirror,
                    samples=samples,
                    error=c.error,
                    not_run=c.not_run,
                )
            )
    rows.sort(key=lambda c: not c.is_datamirror)
    return WorkloadResult(
        key="6-peak-rss",
        title="Peak RSS of the process tree, workloads 1 and 4",
        metric=PEAK_RSS,
        contenders=tuple(rows),
        target=RSS_TARGET_MIB,
        notes=f"target: datamirror <= {RSS_TARGET_MIB:.0f} MiB in every run",
    )


def run_group(ctx: Context, only: set[str]) -> list[WorkloadResult]:
    results = []
    if "1" in only:
        results.append(remote_big_file(ctx))
    if "4" in only:
        results.append(loopback_big_file(ctx))
    if "6" in only and results:
        results.append(peak_rss(results))
    return results
