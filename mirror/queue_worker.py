"""`datamirror worker` in a cluster: procrastinate workers running the queue's tasks.

One process runs two procrastinate workers over the same App and runtime: one on the
control queue (coordinating syncs, verify, gc, schedules, the stalled-job sweep; jobs
that mostly wait, many at once) and one on the fetch queue (batches and part ranges,
`concurrency` at once). Each registers itself and keeps a heartbeat; a worker whose
heartbeat stops (SIGKILL, a lost node) has its running jobs sent back to the queue by
the stalled-job sweep of another.

SIGTERM (or SIGINT): both stop taking jobs. The control worker hands its coordinating
jobs back at once (another worker resumes them: they wait, they have nothing in flight);
the fetch worker lets its jobs finish for up to `grace` seconds, then cancels them, and
a cancelled job commits the parts and files that landed before it goes back to the
queue. Then the process exits 0.

The database going away (PostgreSQL restarting) stops nothing: the queue's calls that
keep a worker alive (fetching the next job, the heartbeat, listening for new jobs,
recording a job's end) wait and try again, and the catalog's own calls do the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
from procrastinate.exceptions import ConnectorException
from procrastinate.manager import JobManager
from procrastinate.worker import Worker

from catalog.errors import DatamirrorError
from catalog.queue import CONTROL_QUEUE, FETCH_QUEUE, HOUSEKEEPING_QUEUE, JobState
from catalog.runtime import Runtime
from mirror.tasks import CONTEXT, WorkerContext, add_tasks, queue_due_syncs
from mirror.worker import WorkerConfig
from mirror.worker_metrics import WorkerMetrics

log = logging.getLogger(__name__)
T = TypeVar("T")
OUTAGE_SECONDS = 300.0
"""How long the calls that keep a worker alive wait for the database before giving up."""
DEPTH_SECONDS = 10.0
CONTROL_GRACE = 1.0


class PatientJobManager(JobManager):
    """procrastinate's job manager, whose worker-side calls outlast a database restart."""

    async def _patiently(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """`call`, tried again with backoff while the database cannot be reached (for
        up to OUTAGE_SECONDS)."""
        started, wait = time.monotonic(), 0.5
        while True:
            try:
                return await call()
            except ConnectorException as exc:
                if not _unreachable(exc) or time.monotonic() - started > OUTAGE_SECONDS:
                    raise
                log.warning("job queue: %s failed (%s); trying again in %.1fs", what,
                            exc.__cause__ or exc, wait)  # fmt: skip
                await asyncio.sleep(wait)
                wait = min(wait * 2, 10.0)

    async def fetch_job(self, queues: Iterable[str] | None, worker_id: int) -> Any:
        """The next job; none while the database cannot be reached (the worker asks again
        at its next poll)."""
        try:
            return await super().fetch_job(queues, worker_id)
        except ConnectorException as exc:
            log.warning("job queue: fetching a job failed (%s)", exc.__cause__ or exc)
            await asyncio.sleep(1.0)
            return None

    async def update_heartbeat(self, worker_id: int) -> None:
        beat = super().update_heartbeat
        try:
            await beat(worker_id)
        except ConnectorException as exc:  # the next beat tries again
            log.warning("job queue: heartbeat failed (%s)", exc.__cause__ or exc)

    async def finish_job(self, job: Any, status: Any, delete_job: bool) -> None:
        finish = super().finish_job
        await self._patiently("recording a job's end", lambda: finish(job, status, delete_job))

    async def retry_job(self, job: Any, *args: Any, **kwargs: Any) -> None:
        retry = super().retry_job
        await self._patiently("queueing a job again", lambda: retry(job, *args, **kwargs))

    async def listen_for_jobs(self, **kwargs: Any) -> None:
        listen = super().listen_for_jobs
        while True:
            try:
                await listen(**kwargs)
            except ConnectorException as exc:
                log.warning("job queue: listening failed (%s); again in 1s", exc.__cause__ or exc)
            await asyncio.sleep(1.0)


def _unreachable(exc: ConnectorException) -> bool:
    """Whether the database could not be reached (rather than refusing the statement)."""
    return isinstance(exc.__cause__, psycopg.OperationalError)


async def run_queue_worker(
    runtime: Runtime,
    config: WorkerConfig,
    *,
    until_idle: bool = False,
    report: Callable[[str], None] | None = None,
) -> None:
    """Run jobs until SIGTERM or SIGINT, then stop as the module says. With `until_idle`
    (`worker --once`): queue the syncs due now, then run until no job is queued or running.
    """
    queue = runtime.jobs
    await queue.open()
    if until_idle:
        for name in await queue_due_syncs(runtime, datetime.now(UTC)):
            if report is not None:
                report(f"worker: syncing {name}")
    app = queue.app
    app.job_manager = PatientJobManager(app.connector)
    add_tasks(app, config)
    metrics = WorkerMetrics()
    context = {CONTEXT: WorkerContext(runtime, config, metrics)}

    def worker(queues: list[str], concurrency: int, grace: float, name: str) -> Worker:
        return Worker(
            app, queues=queues, name=name, concurrency=concurrency, wait=True,
            fetch_job_polling_interval=min(5.0, config.heartbeat),
            shutdown_graceful_timeout=grace, additional_context=context,
            install_signal_handlers=False, update_heartbeat_interval=config.heartbeat,
            stalled_worker_timeout=config.stalled_after,
            worker_middleware=[metrics.middleware],
        )  # fmt: skip

    control = worker([CONTROL_QUEUE, HOUSEKEEPING_QUEUE], config.control, CONTROL_GRACE, "control")
    fetch = worker([FETCH_QUEUE], config.concurrency, config.grace, "fetch")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with metrics.served(config.metrics_port):
            # procrastinate's Worker.run and .stop carry no annotations
            runs = [asyncio.create_task(w.run(), name=f"worker {w.worker_name}")  # type: ignore[no-untyped-call]
                    for w in (control, fetch)]  # fmt: skip
            watch = asyncio.create_task(_watch(runtime, metrics, stop, until_idle, runs))
            await stop.wait()
            log.info("worker: stopping (fetch jobs get %gs to finish)", config.grace)
            control.stop()  # type: ignore[no-untyped-call]
            fetch.stop()  # type: ignore[no-untyped-call]
            watch.cancel()
            results = await asyncio.gather(*runs, watch, return_exceptions=True)
            for result in results:
                if isinstance(result, Exception):
                    log.error("worker: %s", result)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


async def _watch(
    runtime: Runtime, metrics: WorkerMetrics, stop: asyncio.Event, until_idle: bool,
    runs: list[asyncio.Task[None]],
) -> None:  # fmt: skip
    """Sample the queue's depth for the metrics; stop when a worker ends by itself, or
    (`until_idle`) once nothing is queued or running."""
    while not stop.is_set():
        with contextlib.suppress(DatamirrorError):
            depth = await runtime.jobs.depth()
            metrics.observe_depth(depth)
            if until_idle and not (depth[JobState.QUEUED] or depth[JobState.RUNNING]):
                stop.set()
        if any(run.done() for run in runs):
            stop.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0 if until_idle else DEPTH_SECONDS)
