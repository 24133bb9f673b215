"""What a queue worker exports on `--metrics-port` (prometheus-client, served by aiohttp):

    datamirror_queue_jobs{state}                      jobs queued, running, stalled, ... (the
                                                      whole queue's, sampled by every worker)
    datamirror_worker_jobs_started_total{task}        jobs this worker started
    datamirror_worker_jobs_failed_total{task}         ... that raised (retried or not)
    datamirror_worker_jobs_stalled_total{task}        stalled jobs this worker sent back
    datamirror_worker_fetched_bytes_total             source bytes this worker fetched
    datamirror_worker_retries_total{kind}             retries of the syncs this worker ran,
                                                      their batch and part jobs' included
                                                      (counted once, by the sync's job)

Each worker has its own registry, so that tests may run several in one process.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.aiohttp import make_aiohttp_handler

from catalog.queue import NAMESPACE, JobState


class WorkerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.queue = Gauge("datamirror_queue_jobs", "Jobs in the queue by state", ["state"],
                           registry=registry)  # fmt: skip
        self.started = Counter("datamirror_worker_jobs_started", "Jobs started", ["task"],
                               registry=registry)  # fmt: skip
        self.failed = Counter("datamirror_worker_jobs_failed", "Jobs that raised", ["task"],
                              registry=registry)  # fmt: skip
        self.stalled = Counter("datamirror_worker_jobs_stalled",
                               "Stalled jobs sent back to the queue", ["task"],
                               registry=registry)  # fmt: skip
        self.fetched = Counter("datamirror_worker_fetched_bytes", "Source bytes fetched",
                               registry=registry)  # fmt: skip
        self.retries = Counter("datamirror_worker_retries", "Retries by kind", ["kind"],
                               registry=registry)  # fmt: skip

    def observe_depth(self, depth: Mapping[JobState, int]) -> None:
        for state, count in depth.items():
            self.queue.labels(state.value).set(count)

    def count_retries(self, retries: Mapping[str, int]) -> None:
        for kind, count in retries.items():
            if count:
                self.retries.labels(kind).inc(count)

    async def middleware(
        self, process_job: Callable[[], Awaitable[Any]], context: Any, _worker: Any
    ) -> Any:
        """A procrastinate worker middleware: count each job as it starts and if it raises."""
        task = str(context.job.task_name).removeprefix(f"{NAMESPACE}:")
        self.started.labels(task).inc()
        try:
            return await process_job()
        except BaseException:
            self.failed.labels(task).inc()
            raise

    @contextlib.asynccontextmanager
    async def served(self, port: int | None, host: str = "0.0.0.0") -> AsyncIterator[None]:  # noqa: S104
        """GET /metrics on `port` (none when None) for the block."""
        if port is None:
            yield
            return
        app = web.Application()
        app.router.add_get("/metrics", make_aiohttp_handler(self.registry))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
            yield
        finally:
            await runner.cleanup()


class MetricsProgress:
    """A Progress that counts fetched bytes (a job's progress bar is its metrics)."""

    def __init__(self, metrics: WorkerMetrics) -> None:
        self._fetched = metrics.fetched

    def start(self, files: int, total_bytes: int) -> None:
        return None

    def advance(self, nbytes: int) -> None:
        self._fetched.inc(nbytes)

    def file_done(self) -> None:
        return None

    def close(self) -> None:
        return None
