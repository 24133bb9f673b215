"""Workload 11: the small-file tree of workload 2 from the remote profile, synced by two
`datamirror worker` processes on PostgreSQL (the job queue: the sync fans out into batch
jobs that both workers take), timed from `datamirror sync --wait` (enqueue) to the
release published, against rclone copy --transfers 64 --checkers 64 and, for reference,
one `datamirror sync` process on SQLite.

Each run gets a fresh PostgreSQL database (at DATAMIRROR_BENCH_PG, default the local
server with trust auth) and a fresh home; the workers start, register and idle before
the clock starts. CPU seconds are user + system of the workers and the command.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil

from benchmarks import dm
from benchmarks.data import Tree, check_tree
from benchmarks.model import SECONDS, Sample, WorkloadResult
from benchmarks.procs import run, run_timed
from benchmarks.workloads.base import (
    FAILURES,
    Contender,
    Context,
    alternate,
    dm_sync_contender,
    peer_contender,
)
from benchmarks.workloads.tree import WIDE, _rclone

PG = os.environ.get("DATAMIRROR_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
WORKERS = 2
MIB = 1024 * 1024


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """A new, empty database on the benchmark's server; its URL. Dropped afterwards."""
    from sqlalchemy import create_engine, text

    admin = create_engine(PG, isolation_level="AUTOCOMMIT")
    name = f"dm_bench_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield PG.rsplit("/", 1)[0] + f"/{name}"
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _cpu_seconds(procs: list[psutil.Process]) -> float:
    total = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


@contextlib.contextmanager
def workers(home: dm.Home, count: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`count` workers on the home's database, registered before this returns."""
    procs = []
    with contextlib.ExitStack() as stack:
        for index in range(count):
            log = stack.enter_context((home.root / f"worker-{index}.log").open("wb"))
            procs.append(subprocess.Popen(dm.argv("worker"), env=home.env, cwd=home.root,
                                          stdout=log, stderr=subprocess.STDOUT))  # fmt: skip
        try:
            _wait_registered(home, 2 * count)
            yield procs
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def _wait_registered(home: dm.Home, count: int) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(home.env["DATAMIRROR_DB"])
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                alive = connection.execute(text("SELECT count(*) FROM procrastinate_workers"))
                if (alive.scalar() or 0) >= count:
                    return
            time.sleep(0.1)
    finally:
        engine.dispose()
    raise TimeoutError(f"{count} queue workers did not register within 60 s")


def cluster_contender(ctx: Context, url: str, tree: Tree) -> Contender:
    name = f"datamirror worker x{WORKERS} (PostgreSQL)"
    missing = dm.missing_command("worker")
    if missing:
        return Contender(name, lambda i: Sample(0.0), is_datamirror=True, not_run=missing)

    def one_run(index: int) -> Sample:
        home = dm.new_home(ctx.work / "out" / f"cluster-{index}")
        with fresh_database() as db_url:
            home.env["DATAMIRROR_DB"] = db_url
            run(dm.argv("migrate"), env=home.env)
            dm.add_source(home, url)
            with workers(home, WORKERS) as procs:
                watched = [psutil.Process(p.pid) for p in procs]
                before = _cpu_seconds(watched)
                timed = run_timed(dm.argv("sync", dm.DATASET, "--wait", "--quiet"),
                                  env=home.env, cwd=home.root)  # fmt: skip
                cpu = _cpu_seconds(watched) - before + timed.cpu_seconds
            dm.check_release(home, tree)
        ctx.discard(home.root)
        return Sample(timed.seconds, {"mib_per_s": tree.total_bytes / MIB / timed.seconds,
                                      "cpu_s": cpu})  # fmt: skip

    return Contender(name, one_run, is_datamirror=True)


def cluster_small_files(ctx: Context) -> WorkloadResult:
    tree = ctx.small_tree()
    source = ctx.source("remote", "small")

    def check(out: Path) -> None:
        check_tree(tree, out)

    contenders = [
        cluster_contender(ctx, source.url, tree),
        dm_sync_contender(ctx, "datamirror sync, one process (SQLite)", source.url, tree),
        peer_contender(
            ctx,
            "rclone copy --transfers 64 --checkers 64",
            "rclone",
            _rclone(source.url, *WIDE),
            check,
            tree.total_bytes,
        ),
    ]
    print("  11-cluster-small-files", flush=True)
    return WorkloadResult(
        key="11-cluster-small-files",
        title=f"Remote source: {len(tree.md5) - 1} x 16 KiB files, {WORKERS} queue workers "
        "on PostgreSQL, enqueue to published",
        metric=SECONDS,
        contenders=alternate(contenders, ctx.settings.runs),
        bytes_per_run=tree.total_bytes,
        notes="the second datamirror row is one sync process on SQLite, for reference; "
        "cpu_s is user + system of every process of the run",
    )


def run_group(ctx: Context, only: set[str]) -> list[WorkloadResult]:
    if "11" not in only:
        return []
    try:
        return [cluster_small_files(ctx)]
    except FAILURES as exc:  # no PostgreSQL: say so instead of failing the other workloads
        print(f"  11-cluster-small-files not run: {exc}", flush=True)
        return []
