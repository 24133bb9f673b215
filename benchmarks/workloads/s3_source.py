"""Workload 10: thousands of small objects from an S3 bucket (`rclone serve s3`), as a
Zarr store's chunks are mirrored from EBI's Embassy S3."""

from __future__ import annotations

from pathlib import Path

from benchmarks import dm, s3
from benchmarks.data import Tree, check_tree
from benchmarks.model import SECONDS, WorkloadResult
from benchmarks.procs import run
from benchmarks.workloads.base import (
    Contender,
    Context,
    alternate,
    dm_sync_contender,
    peer_contender,
)
from benchmarks.workloads.s3_target import S3_ENV, endpoint

SOURCE_BUCKET = "chunks"
WIDE = ("--transfers", "64", "--checkers", "64")


def source_bucket(ctx: Context, end: s3.S3Endpoint, tree: Tree) -> str:
    """The small tree uploaded as the objects of their own bucket (through the S3 API: a
    folder made beside a running `rclone serve s3` stays unseen for minutes)."""
    rclone = ctx.tools.get("rclone")
    if rclone is None:
        raise RuntimeError(ctx.tools.why_missing("rclone"))
    if not (end.backing / SOURCE_BUCKET).exists():
        run([rclone, "copy", str(tree.root), rclone_remote(end), *WIDE], timeout=900)
    return f"s3://{SOURCE_BUCKET}/"


def rclone_remote(end: s3.S3Endpoint) -> str:
    return (
        f":s3,provider=Rclone,endpoint='{end.url}',access_key_id={s3.KEY_ID},"
        f"secret_access_key={s3.SECRET},region=us-east-1:{SOURCE_BUCKET}"
    )


def s3_source_small_files(ctx: Context) -> WorkloadResult:
    tree = ctx.small_tree()
    end = endpoint(ctx)
    url = source_bucket(ctx, end, tree)

    def home(index: int) -> dm.Home:
        made = dm.new_home(ctx.work / "out" / f"dm-s3-source-{index}")
        made.env.update(S3_ENV)
        return made

    def check(out: Path) -> None:
        check_tree(tree, out)

    contenders: list[Contender] = [
        dm_sync_contender(
            ctx, "datamirror sync", url, tree, make_home=home,
            source_options=("--endpoint-url", end.url),
        ),
        peer_contender(
            ctx, "rclone copy --transfers 64 --checkers 64", "rclone",
            lambda tool, out: [tool, "copy", rclone_remote(end), str(out), *WIDE], check,
            tree.total_bytes,
        ),
    ]  # fmt: skip
    print("  10-s3-source-small-files", flush=True)
    return WorkloadResult(
        key="10-s3-source-small-files",
        title=f"S3 source (rclone serve s3): {len(tree.md5) - 1} x 16 KiB objects",
        metric=SECONDS,
        contenders=alternate(contenders, ctx.settings.runs),
        bytes_per_run=tree.total_bytes,
        notes="no target in the issues: reported; datamirror checks every single-part ETag",
    )


def run_group(ctx: Context, only: set[str]) -> list[WorkloadResult]:
    return [s3_source_small_files(ctx)] if "10" in only else []
