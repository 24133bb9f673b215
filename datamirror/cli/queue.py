"""`datamirror jobs [--dataset D] [--state S]`, `jobs retry ID`, `jobs cancel ID`: the job
queue of a cluster; and `follow`, which `sync --wait` uses to show a queued sync with the
progress bar of a sync in this process, and to end as it ends."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from typing import Any

import click

from catalog.errors import DatamirrorError
from catalog.queue import USER_TASKS, JobInfo, JobQueue, JobState
from catalog.runtime import Runtime
from datamirror.cli.common import table, with_runtime
from mirror.progress import Progress

POLL_SECONDS = 0.1


class JobFailedError(DatamirrorError):
    """The queued job did not succeed."""


def report_lines(report: Mapping[str, Any]) -> list[str]:
    """A run's stored report as the CLI prints a sync's end."""
    if not report.get("summary"):
        return []
    where = " ".join(str(p) for p in (report.get("dataset"), report.get("release")) if p)
    lines = [f"{where}: {report['summary']}"]
    lines += [f"  failed {e['path']}: {e['error']}" for e in report.get("errors", ())]
    lines += [f"  skipped {s['path']!r}: {s['reason']}" for s in report.get("skipped", ())]
    return lines


async def follow(
    queue: JobQueue, job_id: int, progress: Progress, say: Callable[[str], None]
) -> list[str]:
    """Follow job `job_id` to its end, drawing its progress; its report's lines, or
    JobFailedError (with them) when it did not succeed."""
    told: tuple[int, int] | None = None
    last: Mapping[str, Any] | None = None
    waiting = False
    try:
        while not (job := await queue.job(job_id)).done:
            if job.state is JobState.QUEUED and not waiting:
                say(f"sync queued as job {job_id}; waiting for a worker")
                waiting = True
            last = job.report.get("progress") or last
            told = _draw(progress, last, told)
            await asyncio.sleep(POLL_SECONDS)
        if job.state is JobState.SUCCEEDED and last:
            _draw(
                progress, {**last, "files_done": last["files"], "bytes_done": last["bytes"]}, told
            )
    finally:
        progress.close()
    lines = report_lines(job.report)
    if job.state is not JobState.SUCCEEDED:
        error = JobFailedError(
            f"job {job_id} {job.state.value}" + (f": {job.error}" if job.error else ""),
            hint=f"`datamirror jobs retry {job_id}` runs it again",
        )
        for line in lines:
            error.add_note(line)
        raise error
    return lines


def _draw(
    progress: Progress, state: Mapping[str, Any] | None, told: tuple[int, int] | None
) -> tuple[int, int] | None:
    """Advance the bar to a job's progress; what it has shown (files, bytes)."""
    if not state:
        return told
    if told is None:
        progress.start(int(state["files"]), int(state["bytes"]))
        told = (0, 0)
    files, done = int(state["files_done"]), int(state["bytes_done"])
    progress.advance(max(0, done - told[1]))
    for _ in range(max(0, files - told[0])):
        progress.file_done()
    return max(files, told[0]), max(done, told[1])


@click.group(invoke_without_command=True)
@click.option("--dataset", help="Only the jobs of this dataset.")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice([s.value for s in JobState]),
    help="Only jobs in this state (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="JSON, one job per line.")
@click.pass_context
def jobs(ctx: click.Context, dataset: str | None, states: tuple[str, ...], as_json: bool) -> None:
    """List the job queue's jobs, newest first (queued, running, stalled, failed, ...)."""
    if ctx.invoked_subcommand is not None:
        return

    async def listing(runtime: Runtime) -> list[JobInfo]:
        wanted = [JobState(s) for s in states]
        found = await runtime.jobs.jobs(dataset=dataset, states=wanted, tasks=USER_TASKS)
        return await runtime.jobs.with_runs(found) if as_json else found

    found: list[JobInfo] = with_runtime(ctx, listing)
    if as_json:
        for job in found:
            click.echo(json.dumps(job.to_json()))
        return
    if not found:
        click.echo("no jobs")
        return
    rows = [_row(job.to_json()) for job in found]
    click.echo(table(["ID", "TASK", "DATASET", "STATE", "ATTEMPTS", "QUEUED", "FINISHED"], rows))


def _row(job: Mapping[str, Any]) -> list[str]:
    def when(value: str | None) -> str:
        return value[:19].replace("T", " ") if value else "-"

    return [str(job["id"]), job["task"], job["dataset"] or "-", job["state"],
            str(job["attempts"]), when(job["queued_at"]), when(job["finished_at"])]  # fmt: skip


@jobs.command("retry")
@click.argument("job_id", type=int)
@click.pass_context
def retry(ctx: click.Context, job_id: int) -> None:
    """Run a failed, stalled or cancelled job again."""
    job: JobInfo = with_runtime(ctx, lambda runtime: runtime.jobs.retry(job_id))
    click.echo(f"job {job.id} ({job.task.partition(':')[2]}) is {job.state.value}")


@jobs.command("cancel")
@click.argument("job_id", type=int)
@click.pass_context
def cancel(ctx: click.Context, job_id: int) -> None:
    """Cancel a queued job, or stop a running one."""
    job: JobInfo = with_runtime(ctx, lambda runtime: runtime.jobs.cancel(job_id))
    verb = "is cancelled" if job.done else "is asked to stop"
    click.echo(f"job {job.id} ({job.task.partition(':')[2]}) {verb}")
