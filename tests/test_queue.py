"""The job queue's client on PostgreSQL: syncs queued by name with their locks, jobs
listed by dataset and state, cancelled and retried, the queue's depth."""

from __future__ import annotations

import pytest

from catalog.job_info import JobStateError, UnknownJobError
from catalog.queue import GC, SYNC, JobQueue, JobState
from catalog.repository import Catalog

pytestmark = pytest.mark.postgres


async def test_a_scheduled_sync_is_not_queued_twice_but_manual_ones_are(
    job_queue: JobQueue,
) -> None:
    scheduled = await job_queue.enqueue_sync("ds", scheduled=True)
    assert scheduled is not None
    assert await job_queue.enqueue_sync("ds", scheduled=True) is None
    first, second = await job_queue.enqueue_sync("ds"), await job_queue.enqueue_sync("ds")
    assert first is not None
    assert second is not None
    queued = await job_queue.jobs(dataset="ds", states=[JobState.QUEUED])
    assert [j.id for j in queued] == [second, first, scheduled]
    assert {j.lock for j in queued} == {"dataset:ds"}
    assert await job_queue.jobs(dataset="other") == []


async def test_a_job_answers_its_one_json_shape(job_queue: JobQueue, catalog: Catalog) -> None:
    job_id = await job_queue.enqueue_sync("ds", {"keep": 2})
    assert job_id is not None
    shown = (await job_queue.job(job_id)).to_json()
    assert shown["task"] == "sync"
    assert shown["dataset"] == "ds"
    assert shown["state"] == "queued"
    assert shown["attempts"] == 0
    assert shown["queued_at"].endswith("+00:00")
    assert (shown["started_at"], shown["finished_at"], shown["report"]) == (None, None, None)
    with pytest.raises(UnknownJobError, match="no job with id 999"):
        await job_queue.job(999)


async def test_cancel_and_retry_follow_the_jobs_state(job_queue: JobQueue) -> None:
    job_id = await job_queue.enqueue(GC, {"dry_run": True}, lock="gc")
    assert job_id is not None
    assert (await job_queue.cancel(job_id)).state is JobState.CANCELLED
    with pytest.raises(JobStateError, match="cancelled already"):
        await job_queue.cancel(job_id)
    again = await job_queue.retry(job_id)  # a cancelled job is queued anew
    assert again.id != job_id
    assert (again.task, again.state, again.lock) == (GC, JobState.QUEUED, "gc")
    with pytest.raises(JobStateError, match="is queued"):
        await job_queue.retry(again.id)


async def test_the_depth_counts_jobs_by_state_and_no_worker_is_registered(
    job_queue: JobQueue,
) -> None:
    for dataset in ("a", "b"):
        await job_queue.enqueue_sync(dataset)
    depth = await job_queue.depth()
    assert depth[JobState.QUEUED] == 2
    assert depth[JobState.RUNNING] == depth[JobState.STALLED] == 0
    assert await job_queue.workers() == 0
    assert {j.task for j in await job_queue.jobs(tasks=[SYNC])} == {SYNC}
