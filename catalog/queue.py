"""The job queue of a cluster: procrastinate on the catalog's PostgreSQL.

catalog knows the tasks by name only; their implementations are mirror's (mirror/tasks.py)
and the composition root adds them to the App for `datamirror worker`. Every other
process (the CLI, the server) defers by name and reads jobs through `JobQueue`:

    enqueue       defer a task by name, with a lock (one at a time) and a queueing lock
    job, jobs     state (queued, running, stalled, succeeded, failed, cancelled),
                  attempts and times, and a sync's progress and report (its SyncRun)
    cancel, retry a queued job is cancelled, a running one aborted; a finished one queued again
    workers       whether a worker is registered (its heartbeat is fresh)

procrastinate's schema is applied with the catalog's migrations (0005), so `datamirror
migrate` and the first use of a new database make it. On SQLite there is no queue.
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from catalog.errors import CatalogUnavailableError, DatamirrorError
from catalog.job_info import (
    _STATUSES,
    NAMESPACE,
    PENDING,
    JobInfo,
    JobState,
    JobStateError,
    QueueUnavailableError,
    UnknownJobError,
)
from catalog.leases import dataset_lease
from catalog.runs import Runs

if TYPE_CHECKING:
    import procrastinate
    from sqlalchemy import Connection

__all__ = [
    "NAMESPACE", "JobInfo", "JobQueue", "JobState", "JobStateError", "QueueUnavailableError",
    "UnknownJobError",
]  # fmt: skip
SYNC, BATCH, PARTS = f"{NAMESPACE}:sync", f"{NAMESPACE}:batch", f"{NAMESPACE}:parts"
VERIFY, GC = f"{NAMESPACE}:verify", f"{NAMESPACE}:gc"
SCHEDULES, STALLED = f"{NAMESPACE}:schedules", f"{NAMESPACE}:stalled"
USER_TASKS = (SYNC, BATCH, PARTS, VERIFY, GC)
"""What people list (the periodic sweeps are housekeeping)."""
CONTROL_QUEUE = "datamirror"
"""Coordinating syncs, verify, gc and housekeeping: jobs that mostly wait."""
FETCH_QUEUE = "datamirror-fetch"
"""Batches of files and part ranges: jobs that move bytes."""
HOUSEKEEPING_QUEUE = "datamirror-housekeeping"
"""The periodic sweeps (schedules, stalled jobs): their finished jobs are deleted."""
HEARTBEAT_SECONDS = 10.0
STALLED_SECONDS = 30.0
"""A worker whose heartbeat is older than this is dead; its running jobs are stalled."""
POOL_SIZE = 4


def conninfo(db_url: str) -> str:
    """The libpq connection string of a SQLAlchemy PostgreSQL URL (its driver dropped)."""
    from sqlalchemy.engine import make_url

    return make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)


def apply_queue_schema(connection: Connection) -> None:
    """procrastinate's schema, on a connection of a migration (once: a database that has
    it already is left alone). Sent as one simple query, so that its `%` stay as written."""
    from procrastinate.schema import SchemaManager
    from sqlalchemy import text

    if connection.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar():
        return
    raw = connection.connection.driver_connection
    assert raw is not None
    raw.execute(SchemaManager.get_schema())


def new_app(db_url: str, *, pool_size: int = POOL_SIZE) -> procrastinate.App:
    """A procrastinate App on the catalog's database, with no tasks of its own."""
    import procrastinate

    connector = procrastinate.PsycopgConnector(
        conninfo=conninfo(db_url), min_size=1, max_size=pool_size, name="datamirror-queue"
    )
    return procrastinate.App(connector=connector)


_SELECT = """
SELECT j.id, j.task_name, j.status::text AS status, j.attempts, j.args, j.lock,
       (SELECT min(e.at) FROM procrastinate_events e
         WHERE e.job_id = j.id AND e.type = 'deferred') AS queued_at,
       (SELECT max(e.at) FROM procrastinate_events e
         WHERE e.job_id = j.id AND e.type = 'started') AS started_at,
       (SELECT max(e.at) FROM procrastinate_events e
         WHERE e.job_id = j.id AND e.type IN ('succeeded', 'failed', 'cancelled', 'aborted')
       ) AS finished_at,
       (j.status = 'doing' AND (w.id IS NULL OR w.last_heartbeat
            < now() - make_interval(secs => %(stalled)s))) AS stalled
  FROM procrastinate_jobs j
  LEFT JOIN procrastinate_workers w ON w.id = j.worker_id
 WHERE (%(id)s::bigint IS NULL OR j.id = %(id)s)
   AND (%(dataset)s::text IS NULL OR j.args->>'dataset' = %(dataset)s)
   AND (%(statuses)s::text[] IS NULL OR j.status::text = ANY(%(statuses)s))
   AND (%(tasks)s::text[] IS NULL OR j.task_name = ANY(%(tasks)s))
   AND (%(args)s::jsonb IS NULL OR j.args @> %(args)s)
 ORDER BY j.id DESC
 LIMIT %(limit)s
"""
_WORKERS = """
SELECT count(*) AS n FROM procrastinate_workers
 WHERE last_heartbeat > now() - make_interval(secs => %(stalled)s)
"""
_DEPTH = "SELECT status::text AS status, count(*) AS n FROM procrastinate_jobs GROUP BY status"


class JobQueue:
    """The queue's client. The App opens on first use (a command that never touches the
    queue never connects to it) and closes with the runtime."""

    def __init__(
        self, app: procrastinate.App, runs: Runs, *, stalled_after: float = STALLED_SECONDS
    ) -> None:
        self.app = app
        self._runs = runs
        self.stalled_after = stalled_after
        self._opened = False

    async def open(self) -> None:
        if not self._opened:
            with _unavailable():
                await self.app.open_async()
            self._opened = True

    async def close(self) -> None:
        if self._opened:
            await self.app.close_async()
            self._opened = False

    async def enqueue(
        self,
        task: str,
        args: Mapping[str, Any],
        *,
        queue: str = CONTROL_QUEUE,
        lock: str | None = None,
        queueing_lock: str | None = None,
    ) -> int | None:
        """Defer `task` with `args`; its id, or None when `queueing_lock` has a job queued."""
        from procrastinate.exceptions import AlreadyEnqueued

        await self.open()
        deferrer = self.app.configure_task(
            task, queue=queue, lock=lock, queueing_lock=queueing_lock
        )
        try:
            with _unavailable():
                return int(await deferrer.defer_async(**args))
        except AlreadyEnqueued:
            return None

    async def enqueue_many(
        self, task: str, many: Sequence[Mapping[str, Any]], *, queue: str = CONTROL_QUEUE
    ) -> builtins.list[int]:
        """Defer `task` once per args of `many`, in one round trip; their ids."""
        if not many:
            return []
        await self.open()
        deferrer = self.app.configure_task(task, queue=queue)
        with _unavailable():
            return list(await deferrer.batch_defer_async(*(dict(args) for args in many)))

    async def enqueue_sync(
        self, dataset: str, options: Mapping[str, Any] | None = None, *, scheduled: bool = False
    ) -> int | None:
        """Queue a sync of `dataset` (the worker's defaults for options not given). Syncs of
        one dataset run one after another (their lock is the dataset's lease name); a
        `scheduled` one is not queued while another waits (its queueing lock), None then."""
        args = {"dataset": dataset, "options": dict(options or {})}
        return await self.enqueue(
            SYNC, args, lock=dataset_lease(dataset),
            queueing_lock=f"sync:{dataset}" if scheduled else None,
        )  # fmt: skip

    async def job(self, job_id: int) -> JobInfo:
        found = await self._select(id=job_id, limit=1)
        if not found:
            raise UnknownJobError(job_id)
        return await self._with_run(found[0])

    async def jobs(
        self,
        *,
        dataset: str | None = None,
        states: Sequence[JobState] = (),
        tasks: Sequence[str] = (),
        args: Mapping[str, Any] | None = None,
        limit: int = 200,
    ) -> builtins.list[JobInfo]:
        """Jobs, newest first, of a dataset, in some states, of some tasks, whose args hold
        `args` (a JSON containment)."""
        statuses = sorted({s for state in states for s in _STATUSES[state]}) or None
        found = await self._select(
            dataset=dataset, statuses=statuses, tasks=list(tasks) or None,
            args=dict(args) if args is not None else None, limit=limit,
        )  # fmt: skip
        if states:
            found = [job for job in found if job.state in states]
        return found

    async def pending(
        self, tasks: Sequence[str], args: Mapping[str, Any]
    ) -> builtins.list[JobInfo]:
        """The queued and running jobs of `tasks` whose args hold `args`."""
        return await self._select(
            statuses=list(PENDING), tasks=list(tasks), args=dict(args), limit=100_000
        )

    async def cancel(self, job_id: int) -> JobInfo:
        """Cancel a queued job; ask a running one to abort (its worker stops it)."""
        job = await self.job(job_id)
        if job.done:
            raise JobStateError(f"job {job_id} has {job.state.value} already")
        with _unavailable():
            await self.app.job_manager.cancel_job_by_id_async(job_id, abort=True)
        return await self.job(job_id)

    async def retry(self, job_id: int) -> JobInfo:
        """Run a failed or stalled job again, now (the same job); a cancelled one is
        queued anew with the same task, arguments and lock (a new job)."""
        job = await self.job(job_id)
        if job.state in {JobState.QUEUED, JobState.RUNNING, JobState.SUCCEEDED}:
            raise JobStateError(f"job {job_id} is {job.state.value}; only a failed, "
                                "cancelled or stalled job can be retried")  # fmt: skip
        if job.state is JobState.CANCELLED:
            queue = CONTROL_QUEUE if job.task not in (BATCH, PARTS) else FETCH_QUEUE
            new_id = await self.enqueue(job.task, job.args, queue=queue, lock=job.lock)
            assert new_id is not None
            return await self.job(new_id)
        from procrastinate.utils import utcnow

        with _unavailable():
            await self.app.job_manager.retry_job_by_id_async(job_id, utcnow())
        return await self.job(job_id)

    async def workers(self) -> int:
        """How many workers have a fresh heartbeat."""
        await self.open()
        with _unavailable():
            row = await self.app.connector.execute_query_one_async(
                _WORKERS, stalled=self.stalled_after
            )
        return int(row["n"])

    async def depth(self) -> dict[JobState, int]:
        """How many jobs are in each state (stalled ones counted apart from running)."""
        await self.open()
        with _unavailable():
            rows = await self.app.connector.execute_query_all_async(_DEPTH)
            stalled = await self.app.job_manager.get_stalled_jobs(
                seconds_since_heartbeat=self.stalled_after
            )
        counts = dict.fromkeys(JobState, 0)
        for row in rows:
            for state, statuses in _STATUSES.items():
                if row["status"] in statuses and state is not JobState.STALLED:
                    counts[state] += int(row["n"])
        counts[JobState.STALLED] = len(list(stalled))
        counts[JobState.RUNNING] -= counts[JobState.STALLED]
        return counts

    async def _select(self, **filters: Any) -> builtins.list[JobInfo]:
        await self.open()
        params: dict[str, Any] = dict.fromkeys(("id", "dataset", "statuses", "tasks", "args"))
        params.update(filters, stalled=self.stalled_after)
        with _unavailable():
            rows = await self.app.connector.execute_query_all_async(_SELECT, **params)
        return [_info(row) for row in rows]

    async def _with_run(self, job: JobInfo) -> JobInfo:
        run = await self._runs.of_job(job.id)
        if run is None:
            return job
        return JobInfo(
            job.id, job.task, job.state, job.attempts, job.args, job.lock, job.queued_at,
            job.started_at, job.finished_at, run.report or {}, run.error,
        )  # fmt: skip

    async def with_runs(self, jobs: Sequence[JobInfo]) -> builtins.list[JobInfo]:
        return [await self._with_run(job) for job in jobs]


def _info(row: Mapping[str, Any]) -> JobInfo:
    status = row["status"]
    state = next(s for s, statuses in _STATUSES.items() if status in statuses)
    if row["stalled"]:
        state = JobState.STALLED
    return JobInfo(
        id=int(row["id"]), task=row["task_name"], state=state, attempts=int(row["attempts"]),
        args=row["args"] or {}, lock=row["lock"], queued_at=row["queued_at"],
        started_at=row["started_at"], finished_at=row["finished_at"],
    )  # fmt: skip


@contextlib.contextmanager
def _unavailable() -> Iterator[None]:
    """A database that cannot be reached is the catalog's one transient error; any other
    error of the queue's is a DatamirrorError with the database's words."""
    import psycopg
    from procrastinate.exceptions import ConnectorException

    try:
        yield
    except ConnectorException as exc:
        cause = exc.__cause__
        words = str(cause or exc).strip().splitlines()[0]
        if cause is None or isinstance(cause, psycopg.OperationalError):
            raise CatalogUnavailableError(words) from exc
        raise DatamirrorError(f"the job queue refused: {words}") from exc
