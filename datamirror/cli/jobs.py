"""`datamirror sync | verify | gc | worker | migrate`: the jobs. On one machine (SQLite)
they run in this process; in a cluster (PostgreSQL with a worker registered) `sync`
queues its job, and `--wait` follows it (`datamirror.cli.queue`)."""

from __future__ import annotations

import gc as pygc
import logging
from dataclasses import replace

import click

from catalog.db import upgrade
from catalog.errors import DatamirrorError
from catalog.runtime import Runtime
from datamirror.cli.common import parse_size, settings, with_runtime
from datamirror.cli.queue import follow
from mirror import jobs
from mirror.fanout import FanOutOptions, options_to_json
from mirror.progress import make_progress
from mirror.sync import (
    DEFAULT_MEMORY,
    DEFAULT_PARALLEL,
    DEFAULT_PART_SIZE,
    DEFAULT_RETRIES,
    FILE_RETRIES,
    MiB,
    SyncOptions,
)
from mirror.worker import WorkerConfig

WORKER = WorkerConfig()


def _say(message: str) -> None:
    click.echo(message, err=True)


@click.command()
@click.argument("name")
@click.option(
    "--part-size",
    default=f"{DEFAULT_PART_SIZE // MiB}MiB",
    show_default=True,
    help="Size of ranged parts (at least 5MiB into an S3 store).",
)
@click.option(
    "--parallel",
    default=DEFAULT_PARALLEL,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Connections to the source (files or parts) in flight.",
)
@click.option(
    "--memory",
    default=f"{DEFAULT_MEMORY // MiB}MiB",
    show_default=True,
    help="Bytes of file data held in memory at once, whatever the part size.",
)
@click.option("--bandwidth-limit", help="Cap on the total download rate, e.g. 50MiB (per s).")
@click.option(
    "--max-delete",
    type=click.FloatRange(0, 100),
    help="Override the dataset's limit on the share of files a sync may remove (percent).",
)
@click.option("--keep", type=click.IntRange(min=1), help="Override the releases to retain.")
@click.option("--checksums", help="Override the dataset's checksums: auto, none, or a file.")
@click.option(
    "--retries",
    default=DEFAULT_RETRIES,
    show_default=True,
    type=click.IntRange(0, 100),
    help="Retries of each request and of each file after a network fault or a wrong digest.",
)
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a tty).")
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
@click.option("--wait", is_flag=True, help="In a cluster: follow the queued sync to its end.")
@click.option(
    "--split-above",
    default=f"{FanOutOptions().split_above // MiB}MiB",
    show_default=True,
    help="In a cluster: files larger than this are fetched by several workers at once.",
)
@click.pass_context
def sync(
    ctx: click.Context,
    name: str,
    part_size: str,
    parallel: int,
    memory: str,
    bandwidth_limit: str | None,
    max_delete: float | None,
    keep: int | None,
    checksums: str | None,
    retries: int,
    progress: bool | None,
    quiet: bool,
    wait: bool,
    split_above: str,
) -> None:
    """Mirror dataset NAME into a new release; publish it when every file is verified.

    In a cluster the sync is queued for the workers (and followed with --wait)."""
    options = SyncOptions(
        part_size=max(parse_size(part_size), 64 * 1024),
        parallel=parallel,
        memory=parse_size(memory),
        bandwidth_limit=parse_size(bandwidth_limit) if bandwidth_limit else None,
        max_delete=max_delete,
        keep=keep,
        checksums=checksums,
        policy=replace(FILE_RETRIES, attempts=retries + 1),
    )
    bar = make_progress(quiet=quiet, bar=progress)
    # What the imports made lives as long as the process: keep the collector off it.
    pygc.freeze()
    fan_out = FanOutOptions(split_above=parse_size(split_above))

    async def run(runtime: Runtime) -> list[str]:
        await runtime.catalog.datasets.get(name)
        if await runtime.has_workers():
            args = options_to_json(options, fan_out)
            job_id = await runtime.jobs.enqueue_sync(name, args)
            assert job_id is not None
            if not wait:
                _say(f"queued the sync of {name} as job {job_id}; follow it with "
                     f"`datamirror jobs --dataset {name}`")  # fmt: skip
                return []
            return await follow(runtime.jobs, job_id, bar, _say)
        report = await jobs.sync(runtime, name, options, bar, on_wait=_say)
        return report.lines()

    lines: list[str] = with_runtime(ctx, run)
    if not quiet and lines:
        click.echo("\n".join(lines))


@click.command()
@click.argument("name")
@click.option("--release", default="latest", show_default=True)
@click.pass_context
def verify(ctx: click.Context, name: str, release: str) -> None:
    """Re-read every object of a release from the store and check size and xxh3-128."""
    bad: list[str] = with_runtime(ctx, lambda runtime: jobs.verify(runtime, name, release))
    if bad:
        for problem in bad:
            click.echo(f"bad: {problem}", err=True)
        raise DatamirrorError(
            f"{len(bad)} object(s) of {name} {release} failed verification",
            hint=f"run `datamirror sync {name}` to fetch them again",
        )
    click.echo(f"{name} {release}: every object verified")


@click.command()
@click.option("--dry-run", is_flag=True, help="Only say what would be deleted.")
@click.pass_context
def gc(ctx: click.Context, dry_run: bool) -> None:
    """Delete objects that no retained release references."""
    result = with_runtime(ctx, lambda runtime: jobs.gc(runtime, dry_run=dry_run, on_wait=_say))
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"{verb} {result.deleted} object(s); {result.kept} object(s) still referenced")


@click.command()
@click.option("--once", is_flag=True, help="Run what is due or queued now, then exit.")
@click.option(
    "--concurrency",
    default=WORKER.concurrency,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Fetch jobs (batches of files, part ranges) this worker runs at once.",
)
@click.option("--metrics-port", type=click.IntRange(1, 65535), help="Serve /metrics here.")
@click.option(
    "--heartbeat",
    default=WORKER.heartbeat,
    show_default=True,
    type=click.FloatRange(0.1, 60),
    help="Seconds between heartbeats; the stalled-job sweep runs as often.",
)
@click.option(
    "--stalled-after",
    default=WORKER.stalled_after,
    show_default=True,
    type=click.FloatRange(0.5, 3600),
    help="A worker silent this long is dead: its running jobs go back to the queue.",
)
@click.option(
    "--grace",
    default=WORKER.grace,
    show_default=True,
    type=click.FloatRange(0, 3600),
    help="On SIGTERM, seconds the running fetch jobs get to finish before they checkpoint.",
)
@click.pass_context
def worker(
    ctx: click.Context,
    once: bool,
    concurrency: int,
    metrics_port: int | None,
    heartbeat: float,
    stalled_after: float,
    grace: float,
) -> None:
    """Run jobs: on PostgreSQL, those of the job queue (procrastinate) and the sources'
    schedules; on SQLite, the scheduled syncs, in this process."""
    config = WorkerConfig(concurrency, WORKER.control, heartbeat, stalled_after, grace,
                          metrics_port)  # fmt: skip

    async def work(runtime: Runtime) -> None:
        if runtime.queue is not None:
            from mirror.queue_worker import run_queue_worker

            logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
            logging.getLogger("procrastinate").setLevel(logging.WARNING)
            runtime.queue.stalled_after = stalled_after
            await run_queue_worker(runtime, config, until_idle=once, report=click.echo)
            return
        from mirror.worker import run_worker

        async def sync_one(name: str) -> None:
            progress = make_progress(quiet=False, bar=False)
            report = await jobs.sync(runtime, name, SyncOptions(), progress, on_wait=_say)
            click.echo("\n".join(report.lines()))

        await run_worker(runtime.catalog, sync_one, click.echo, once=once)

    pygc.freeze()
    with_runtime(ctx, work, queue_pool=config.concurrency + config.control + 2)


@click.command()
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Bring the catalog database's schema to the newest revision, then exit."""
    upgrade(settings(ctx).db_url)
    click.echo("the catalog schema is current")
