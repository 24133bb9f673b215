"""Workloads 2 and 3: thousands of small files from a remote-like source, then a re-sync
of the unchanged tree (what a nightly mirror run costs when nothing changed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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
    failing,
    peer_contender,
    transfer_sample,
)

WIDE = ("--transfers", "64", "--checkers", "64")


def _rclone(url: str, *flags: str) -> Callable[[str, Path], list[str]]:
    return lambda tool, out: [tool, "copy", "--http-url", url, ":http:", str(out), *flags]


def remote_small_files(ctx: Context) -> WorkloadResult:
    tree = ctx.small_tree()
    source = ctx.source("remote", "small")
    n = tree.total_bytes

    def check(out: Path) -> None:
        check_tree(tree, out)

    contenders = [
        dm_sync_contender(ctx, "datamirror sync", source.url, tree),
        peer_contender(
            ctx,
            "rclone copy --transfers 64 --checkers 64",
            "rclone",
            _rclone(source.url, *WIDE),
            check,
            n,
        ),
        peer_contender(ctx, "rclone copy (defaults)", "rclone", _rclone(source.url), check, n),
    ]
    print("  2-remote-small-files", flush=True)
    return WorkloadResult(
        key="2-remote-small-files",
        title=f"Remote source: {len(tree.md5) - 1} x 16 KiB files in "
        f"{ctx.settings.small_dirs} folders",
        metric=SECONDS,
        contenders=alternate(contenders, ctx.settings.runs),
        bytes_per_run=n,
        notes="plus md5sum.txt, which datamirror checks every file against",
    )


def _dm_resync(ctx: Context, url: str, tree: Tree) -> Contender:
    missing = dm.missing_command("sync")
    if missing:
        return dm_sync_contender(ctx, "datamirror sync (re-run)", url, tree)
    home = dm.new_home(ctx.scratch("dm-resync"))
    try:
        dm.add_source(home, url)
        run(dm.sync_argv(), env=home.env, timeout=900)
    except FAILURES as exc:
        return Contender("datamirror sync (re-run)", failing(exc), is_datamirror=True)

    def rerun(index: int) -> Sample:
        timed = run_timed(dm.sync_argv(), env=home.env, cwd=home.root)
        dm.check_release(home, tree)
        return transfer_sample(timed, 0)

    return Contender("datamirror sync (re-run)", rerun, is_datamirror=True)


def _rclone_resync(
    ctx: Context, url: str, tree: Tree, flags: tuple[str, ...], dest: Path, name: str
) -> Contender:
    tool = ctx.tools.get("rclone")
    if tool is None:
        return Contender(name, lambda i: Sample(0.0), not_run=ctx.tools.why_missing("rclone"))

    def rerun(index: int) -> Sample:
        timed = run_timed(_rclone(url, *flags)(tool, dest))
        check_tree(tree, dest)
        return transfer_sample(timed, 0)

    return Contender(name, rerun)


def remote_resync(ctx: Context) -> WorkloadResult:
    tree = ctx.small_tree()
    source = ctx.source("remote", "small")
    print("  3-remote-resync (first copies, untimed)", flush=True)
    dest = ctx.scratch("rclone-resync")
    rclone = ctx.tools.get("rclone")
    if rclone:
        run(_rclone(source.url, *WIDE)(rclone, dest), timeout=900)
    contenders = [
        _dm_resync(ctx, source.url, tree),
        _rclone_resync(
            ctx, source.url, tree, WIDE, dest, "rclone copy --transfers 64 --checkers 64 (re-run)"
        ),
        _rclone_resync(ctx, source.url, tree, (), dest, "rclone copy (defaults, re-run)"),
    ]
    result = WorkloadResult(
        key="3-remote-resync",
        title="Remote source: re-sync of the unchanged small-file tree",
        metric=SECONDS,
        contenders=alternate(contenders, ctx.settings.runs),
        notes="both tools list every folder again and compare sizes and dates",
    )
    ctx.discard(dest)
    ctx.discard(ctx.work / "out" / "dm-resync")
    return result


def run_group(ctx: Context, only: set[str]) -> list[WorkloadResult]:
    results = []
    if "2" in only:
        results.append(remote_small_files(ctx))
    if "3" in only:
        results.append(remote_resync(ctx))
    return results
