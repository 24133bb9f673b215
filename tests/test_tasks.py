"""The queue's tasks are found under the names catalog defers them by, with the retry
rule: a shutdown sends a job back at once, a transient error later, any other never."""

from __future__ import annotations

import asyncio

import procrastinate
from procrastinate.jobs import Job
from procrastinate.testing import InMemoryConnector

from catalog.errors import CatalogUnavailableError, SyncAbortedError
from catalog.queue import BATCH, GC, PARTS, SCHEDULES, STALLED, SYNC, VERIFY
from mirror.tasks import ATTEMPTS, RETRIES, add_tasks
from mirror.worker import WorkerConfig


def test_every_task_catalog_names_is_registered_and_the_sweeps_are_periodic() -> None:
    app = procrastinate.App(connector=InMemoryConnector())
    add_tasks(app, WorkerConfig(heartbeat=2.0))
    assert {SYNC, BATCH, PARTS, VERIFY, GC, SCHEDULES, STALLED} <= set(app.tasks)
    crons = {t.task.name: t.cron for t in app.periodic_registry.periodic_tasks.values()}
    assert crons == {SCHEDULES: "* * * * *", STALLED: "* * * * * */2"}


def job(attempts: int) -> Job:
    return Job(id=1, queue="q", lock=None, queueing_lock=None, task_name=SYNC, attempts=attempts)


def test_a_job_goes_back_at_once_on_shutdown_later_when_transient_and_else_fails() -> None:
    shutdown = RETRIES.get_retry_decision(exception=asyncio.CancelledError(), job=job(9))
    assert shutdown is not None
    transient = RETRIES.get_retry_decision(exception=CatalogUnavailableError("down"), job=job(0))
    assert transient is not None
    assert transient.retry_at is not None
    assert shutdown.retry_at is not None
    assert transient.retry_at > shutdown.retry_at
    last = RETRIES.get_retry_decision(exception=CatalogUnavailableError("down"), job=job(ATTEMPTS))
    assert last is None
    assert RETRIES.get_retry_decision(exception=SyncAbortedError("x"), job=job(0)) is None
