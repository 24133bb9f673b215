"""`python -m benchmarks.run [--quick] [--only WORKLOAD]...`: one command that sets up the
loopback sources and targets, runs datamirror and its peers alternately on the same work,
and writes results/<date>.json, .md and .png.

Workloads: 1 remote big file, 2 remote small files, 3 remote re-sync, 4 loopback big file,
5 into S3, 6 peak RSS (from 1 and 4), 7 random ranges served, 8 whole file served,
9 both from the S3 store, 10 small objects from an S3 source, 11 the small files of 2 by
two queue workers on PostgreSQL, 12 serving under load (slow readers, 32 range clients,
1,000 mixed connections). `--quick` checks
correctness (md5 of every output), not speed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import shlex
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from benchmarks import limits, machine, peers, report
from benchmarks.model import WorkloadResult
from benchmarks.workloads import cluster, fetch, load, s3_source, s3_target, serving, tree
from benchmarks.workloads.base import MIB, Context, Settings

HERE = Path(__file__).resolve().parent
ALL = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12")
GROUPS: list[Callable[[Context, set[str]], list[WorkloadResult]]] = [
    fetch.run_group,
    tree.run_group,
    s3_target.run_group,
    serving.run_group,
    s3_source.run_group,
    cluster.run_group,
    load.run_group,
]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small files, one run each: a correctness check in < 3 minutes",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=ALL,
        metavar="WORKLOAD",
        help="run only this workload (1-12, repeatable)",
    )
    parser.add_argument("--runs", type=int, help="runs per contender (default 1 quick, 3 full)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument(
        "--no-install",
        action="store_true",
        help="never install missing peers; report them as not run",
    )
    parser.add_argument(
        "--readme", action="store_true", help="write the summary table into README.md"
    )
    parser.add_argument("--work", type=Path, default=HERE / "work")
    parser.add_argument("--results", type=Path, default=HERE / "results")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    only = set(args.only or ALL)
    if "6" in only:
        only |= {"1", "4"}
    settings = Settings.make(
        quick=args.quick, work=args.work.resolve(), keep=args.keep, runs=args.runs
    )
    print(
        f"datamirror benchmarks ({'quick' if args.quick else 'full'}): "
        f"workloads {','.join(sorted(only))}",
        flush=True,
    )
    for stale in ("out", "s3", "run"):  # left by an earlier --keep; generated data is reused
        shutil.rmtree(settings.work / stale, ignore_errors=True)
    tools = peers.ensure_tools(install=not args.no_install)
    print("measuring physical limits", flush=True)
    measured = limits.measure((128 if args.quick else 512) * MIB)
    results: list[WorkloadResult] = []
    try:
        with contextlib.ExitStack() as stack:
            ctx = Context(settings=settings, tools=tools, limits=measured, stack=stack)
            for group in GROUPS:
                results += group(ctx, only)
    finally:
        if not args.keep:
            shutil.rmtree(settings.work, ignore_errors=True)
    return finish(args, settings, tools, measured, results)


def finish(
    args: argparse.Namespace,
    settings: Settings,
    tools: peers.Tools,
    measured: dict[str, float],
    results: list[WorkloadResult],
) -> int:
    now = dt.datetime.now(dt.UTC)
    meta = {
        "date": now.isoformat(timespec="seconds"),
        "mode": "quick" if settings.quick else "full",
        "command": "python -m benchmarks.run " + shlex.join(sys.argv[1:]),
        "runs": settings.runs,
        "sizes": {
            "big_file": settings.big_size,
            "small_files": settings.small_count,
            "small_file_size": settings.small_size,
            "wrk_seconds": settings.wrk_seconds,
        },
        "machine": machine.describe(HERE.parent),
        "versions": peers.versions(tools),
        "unavailable": tools.missing,
        "limits": measured,
    }
    doc = report.document(meta, results)
    stem = now.strftime("%Y-%m-%d") + ("-quick" if settings.quick else "")
    for path in report.write_all(args.results, stem, doc, results):
        print(f"wrote {path}")
    if args.readme:
        report.update_readme(HERE.parent / "README.md", report.readme_section(doc, results, stem))
        print("wrote the summary table into README.md")
    for line in doc["not_run"]:
        print(f"not run: {line}")
    for line in doc["failures"]:
        print(f"FAILED: {line}")
    return 1 if doc["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
