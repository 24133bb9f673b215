"""Workload 5: one big file from a loopback source into an S3 target (`rclone serve s3`)."""

from __future__ import annotations

import os
import resource
import subprocess
import time

from benchmarks import dm, s3
from benchmarks.data import BIG_NAME, Tree, check_file
from benchmarks.model import SECONDS, Sample, WorkloadResult
from benchmarks.procs import CommandFailedError, Timed, run_timed
from benchmarks.workloads.base import (
    Contender,
    Context,
    alternate,
    dm_sync_contender,
    transfer_sample,
)

S3_ENV = {
    "AWS_ACCESS_KEY_ID": s3.KEY_ID,
    "AWS_SECRET_ACCESS_KEY": s3.SECRET,
    "AWS_REGION": "us-east-1",
}


def endpoint(ctx: Context) -> s3.S3Endpoint:
    """The shared S3 endpoint, started on first use."""
    if "s3" not in ctx.shared:
        rclone = ctx.tools.get("rclone")
        if rclone is None:
            raise RuntimeError(ctx.tools.why_missing("rclone"))
        ctx.shared["s3"] = ctx.stack.enter_context(
            s3.rclone_s3(rclone, ctx.work / "s3", ctx.work / "run" / "rclone-s3.log")
        )
    found = ctx.shared["s3"]
    assert isinstance(found, s3.S3Endpoint)
    return found


def _rclone_into(
    ctx: Context, end: s3.S3Endpoint, url: str, tree: Tree, name: str, *flags: str
) -> Contender:
    tool = ctx.tools.get("rclone")
    if tool is None:
        return Contender(name, lambda i: Sample(0.0), not_run=ctx.tools.why_missing("rclone"))

    def run(index: int) -> Sample:
        prefix = f"rclone-{len(flags)}-{index}"
        timed = run_timed(
            [tool, "copy", "--http-url", url, ":http:", end.rclone_remote(prefix), *flags]
        )
        check_file(tree.md5[BIG_NAME], end.local(f"{prefix}/{BIG_NAME}"))
        ctx.discard(end.local(prefix))
        return transfer_sample(timed, tree.total_bytes)

    return Contender(name, run)


def _curl_to_s5cmd(ctx: Context, end: s3.S3Endpoint, file_url: str, tree: Tree) -> Contender:
    name = "curl | s5cmd pipe"
    curl, s5cmd = ctx.tools.get("curl"), ctx.tools.get("s5cmd")
    if curl is None or s5cmd is None:
        return Contender(
            name, lambda i: Sample(0.0), not_run=ctx.tools.why_missing("s5cmd" if curl else "curl")
        )

    def run(index: int) -> Sample:
        key = f"s5cmd-{index}/{BIG_NAME}"
        timed = _pipeline(
            [curl, "-sS", "--fail", file_url],
            [s5cmd, "--endpoint-url", end.url, "pipe", f"s3://{s3.BUCKET}/{key}"],
        )
        check_file(tree.md5[BIG_NAME], end.local(key))
        ctx.discard(end.local(f"s5cmd-{index}"))
        return transfer_sample(timed, tree.total_bytes)

    return Contender(name, run)


def _pipeline(first: list[str], second: list[str], timeout: float = 900) -> Timed:
    """`first | second`, timed; peak RSS is not sampled for pipelines (reported as 0); CPU
    seconds are both commands' (the rusage of children reaped meanwhile)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    env = {**os.environ, **S3_ENV}
    producer = subprocess.Popen(first, stdout=subprocess.PIPE)
    consumer = subprocess.Popen(
        second, stdin=producer.stdout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )
    assert producer.stdout is not None
    producer.stdout.close()
    try:
        _, err = consumer.communicate(timeout=timeout)
        producer.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        producer.kill()
        consumer.kill()
        raise CommandFailedError(second, None, "") from None
    if producer.returncode or consumer.returncode:
        raise CommandFailedError(
            second, consumer.returncode or producer.returncode, err.decode(errors="replace")[-1000:]
        )
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return Timed(
        seconds=seconds,
        peak_rss=0,
        stdout="",
        user_seconds=after.ru_utime - before.ru_utime,
        system_seconds=after.ru_stime - before.ru_stime,
    )


def s3_target(ctx: Context) -> WorkloadResult:
    tree = ctx.big_tree()
    source = ctx.source("loopback", "big")
    end = endpoint(ctx)

    def home(index: int) -> dm.Home:
        prefix = f"dm-{index}"
        return dm.new_home(
            ctx.work / "out" / f"dm-s3-{index}",
            s3=(end.url, f"{s3.BUCKET}/{prefix}", end.local(prefix)),
        )

    contenders: list[Contender] = [
        dm_sync_contender(ctx, "datamirror sync", source.url, tree, make_home=home),
        _rclone_into(ctx, end, source.url, tree, "rclone copy (defaults)"),
        _rclone_into(
            ctx,
            end,
            source.url,
            tree,
            "rclone copy --multi-thread-streams 8",
            "--multi-thread-streams",
            "8",
        ),
        _curl_to_s5cmd(ctx, end, source.url_of(BIG_NAME), tree),
    ]
    print("  5-s3-target", flush=True)
    return WorkloadResult(
        key="5-s3-target",
        title="Loopback source into an S3 target (rclone serve s3): one big file",
        metric=SECONDS,
        contenders=alternate(contenders, ctx.settings.runs),
        bytes_per_run=tree.total_bytes,
        limit="loopback_tcp",
        notes="datamirror checks md5; the S3 endpoint is rclone serve s3 over a local folder",
    )


def run_group(ctx: Context, only: set[str]) -> list[WorkloadResult]:
    return [s3_target(ctx)] if "5" in only else []
