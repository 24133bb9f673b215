"""The job queue's tasks: procrastinate's face of the jobs seam (`mirror.jobs`).

A Blueprint of thin tasks, each calling the same coroutines a sync in one process calls;
the composition root adds it to the queue's App under the namespace `datamirror`, so
that the names catalog defers by (`catalog.queue.SYNC`, ...) find them:

    sync       coordinates one sync (lock: the dataset): plans, fans out, publishes
    batch      a batch of files of a fanned-out sync            (queue datamirror-fetch)
    parts      a run of parts of one split file                 (queue datamirror-fetch)
    verify     re-reads a release                gc    deletes what no release needs
    schedules  every minute: queues each due source's sync, unless one is queued or running
    stalled    every few seconds: sends back to the queue the jobs of workers whose
               heartbeat stopped (procrastinate's get_stalled_jobs, then retry)

Retries: a job stopped by its worker's shutdown goes back to the queue at once (another
worker takes it, and what it had landed is not fetched again); a transient error (the
database, the store, the source) is retried with backoff; anything else fails the job.
A job cancelled by its curator stops and is not retried.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import procrastinate
from procrastinate.exceptions import ConnectorException, JobAborted
from procrastinate.job_context import AbortReason, JobContext
from procrastinate.jobs import Job

from catalog.errors import DatamirrorError
from catalog.queue import CONTROL_QUEUE, HOUSEKEEPING_QUEUE, NAMESPACE, SCHEDULES, STALLED, SYNC
from catalog.runtime import Runtime
from mirror import jobs
from mirror.batch_jobs import JobTarget, connection_cap, run_batch, run_parts
from mirror.coordinator import Coordination, coordinate
from mirror.fanout import options_from_json
from mirror.progress import LineProgress, Progress, QuietProgress
from mirror.retry import is_transient
from mirror.worker import WorkerConfig, due_datasets
from mirror.worker_metrics import MetricsProgress, WorkerMetrics

log = logging.getLogger(__name__)
T = TypeVar("T")
CONTEXT = "datamirror"
WORKERS_PER_PROCESS = 2
"""A `datamirror worker` runs two procrastinate workers: one for the control queue, one
for the fetch queue (so coordinating jobs, which wait, never hold the slots of the jobs
they wait for)."""
ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class WorkerContext:
    runtime: Runtime
    config: WorkerConfig
    metrics: WorkerMetrics | None = None

    def progress(self) -> Progress:
        return MetricsProgress(self.metrics) if self.metrics else QuietProgress()


class Retries(procrastinate.BaseRetryStrategy):
    """Shutdown: back to the queue now; transient: backoff, bounded; else: failed."""

    def get_retry_decision(
        self, *, exception: BaseException, job: Job
    ) -> procrastinate.RetryDecision | None:
        if isinstance(exception, asyncio.CancelledError | JobAborted):
            return procrastinate.RetryDecision(retry_in={"seconds": 0})
        if job.attempts + 1 >= ATTEMPTS or not is_transient(exception):
            return None
        return procrastinate.RetryDecision(retry_in={"seconds": min(60, 2 ** (job.attempts + 1))})


blueprint = procrastinate.Blueprint()
RETRIES = Retries()


def worker_context(context: JobContext) -> WorkerContext:
    found: WorkerContext = context.additional_context[CONTEXT]
    return found


async def abortable(context: JobContext, work: Awaitable[T]) -> T:
    """`work`, where a cancellation that the curator asked for ends the job for good
    (JobAborted), and one of a worker's shutdown sends it back to the queue."""
    try:
        return await work
    except asyncio.CancelledError:
        if context.abort_reason() is AbortReason.USER_REQUEST:
            raise JobAborted from None
        raise


@blueprint.task(name="sync", pass_context=True, retry=RETRIES, queue=CONTROL_QUEUE)
async def sync_task(context: JobContext, dataset: str, options: dict[str, Any]) -> None:
    here = worker_context(context)
    runtime = here.runtime
    sync_options, fan_out = options_from_json(options)
    found = await runtime.catalog.datasets.get(dataset)
    processes = max(1, await runtime.jobs.workers() // WORKERS_PER_PROCESS)
    fetchers = processes * here.config.concurrency
    cap = connection_cap(found, sync_options)
    assert context.job.id is not None
    coordination = Coordination(
        runtime, runtime.jobs, context.job.id, options, fan_out, processes,
        share=max(1, -(-cap // fetchers)),
        user_abort=lambda: context.abort_reason() is AbortReason.USER_REQUEST,
    )  # fmt: skip

    async def fetch(ctx: Any, todo: Any) -> Any:
        return await coordinate(coordination, ctx, todo)

    progress = LineProgress(sys.stderr, every=30.0)
    report = await abortable(
        context,
        jobs.sync(runtime, dataset, sync_options, progress, fetch=fetch, job_id=context.job.id),
    )
    log.info("%s", "; ".join(report.lines()))
    if here.metrics is not None:
        here.metrics.count_retries(getattr(report, "retries", None) or {})


@blueprint.task(name="batch", pass_context=True, retry=RETRIES)
async def batch_task(
    context: JobContext, dataset: str, release_id: int, release: str, batch: int, share: int,
    files: str, options: dict[str, Any],
) -> None:  # fmt: skip
    here = worker_context(context)
    target = JobTarget(dataset, release_id, release, batch, share)
    await abortable(context, run_batch(here.runtime, target, files, options, here.progress()))


@blueprint.task(name="parts", pass_context=True, retry=RETRIES)
async def parts_task(
    context: JobContext, dataset: str, release_id: int, release: str, batch: int, share: int,
    file: dict[str, Any], parts: list[int], options: dict[str, Any],
) -> None:  # fmt: skip
    here = worker_context(context)
    target = JobTarget(dataset, release_id, release, batch, share)
    await abortable(context, run_parts(here.runtime, target, file, parts, options,
                                       here.progress()))  # fmt: skip


@blueprint.task(name="verify", pass_context=True, retry=RETRIES, queue=CONTROL_QUEUE)
async def verify_task(context: JobContext, dataset: str, release: str = "latest") -> None:
    runtime = worker_context(context).runtime
    bad = await abortable(context, jobs.verify(runtime, dataset, release))
    if bad:
        raise DatamirrorError(f"{len(bad)} object(s) of {dataset} {release} failed: {bad[0]}")


@blueprint.task(name="gc", pass_context=True, retry=RETRIES, queue=CONTROL_QUEUE)
async def gc_task(context: JobContext, dry_run: bool = False) -> None:
    runtime = worker_context(context).runtime
    result = await abortable(context, jobs.gc(runtime, dry_run=dry_run))
    log.info("gc: deleted %d object(s); %d still referenced", result.deleted, result.kept)


@blueprint.task(name="schedules", pass_context=True, queue=HOUSEKEEPING_QUEUE)
async def schedules_task(context: JobContext, timestamp: int) -> None:
    """Queue the sync of every source whose cron schedule is due; forget the sweeps' own
    jobs of more than an hour ago."""
    runtime = worker_context(context).runtime
    await context.app.job_manager.delete_old_jobs(nb_hours=1, queue=HOUSEKEEPING_QUEUE)
    for name in await queue_due_syncs(runtime, datetime.fromtimestamp(timestamp, UTC)):
        log.info("queued the scheduled sync of %s", name)


async def queue_due_syncs(runtime: Runtime, now: datetime) -> list[str]:
    """Queue the sync of each source whose schedule is due at `now`, unless one of its
    syncs is queued or running already; the datasets queued."""
    queue, queued = runtime.jobs, []
    for name in await due_datasets(runtime.catalog, now):
        if await queue.pending([SYNC], {"dataset": name}):
            continue
        if await queue.enqueue_sync(name, scheduled=True) is not None:
            queued.append(name)
    return queued


@blueprint.task(name="stalled", pass_context=True, queue=HOUSEKEEPING_QUEUE)
async def stalled_task(context: JobContext, timestamp: int) -> None:
    """Send back to the queue the running jobs of workers whose heartbeat stopped."""
    here = worker_context(context)
    manager = context.app.job_manager
    stalled = await manager.get_stalled_jobs(seconds_since_heartbeat=here.config.stalled_after)
    for job in stalled:
        try:
            await manager.retry_job(job)
        except ConnectorException as exc:  # another worker sent it back first
            log.debug("stalled job %s: %s", job.id, exc)
            continue
        log.warning("job %s (%s) was stalled: queued again", job.id, job.task_name)
        if here.metrics is not None:
            here.metrics.stalled.labels(job.task_name.removeprefix(f"{NAMESPACE}:")).inc()
    del timestamp


def add_tasks(app: procrastinate.App, config: WorkerConfig) -> None:
    """The tasks, and the periodic ones on their schedules (the stalled-job sweep as often
    as the heartbeat, in whole seconds)."""
    app.add_tasks_from(blueprint, namespace=NAMESPACE)
    every = min(59, max(1, round(config.heartbeat)))
    registry = app.periodic_registry
    registry.register_task(task=app.tasks[SCHEDULES], cron="* * * * *",
                           periodic_id="schedules", configure_kwargs={})  # fmt: skip
    registry.register_task(task=app.tasks[STALLED], cron=f"* * * * * */{every}",
                           periodic_id="stalled", configure_kwargs={})  # fmt: skip
