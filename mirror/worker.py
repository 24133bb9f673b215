"""`datamirror worker` on the embedded default: run each dataset's scheduled sync in-process.

A dataset with a cron `schedule` is due when the schedule's next time after its last run
has passed (a dataset never synced is due at once). Due datasets sync one after another;
a failed sync is reported and the loop goes on. The PostgreSQL job queue (procrastinate)
is the cluster's way and replaces this loop there (`mirror.queue_worker`, configured by
`WorkerConfig`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from croniter import croniter

from catalog.errors import DatamirrorError
from catalog.repository import Catalog
from catalog.source_spec import check_schedule

TICK = 30.0


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """`concurrency`: fetch jobs at once; `control`: coordinating (and other control)
    jobs at once; `heartbeat` and `stalled_after` in seconds; `grace`: how long a
    stopping worker lets its fetch jobs finish before it checkpoints and requeues them."""

    concurrency: int = 2
    control: int = 8
    heartbeat: float = 10.0
    stalled_after: float = 30.0
    grace: float = 240.0
    metrics_port: int | None = None


def next_due(schedule: str, last_run: datetime | None, now: datetime) -> datetime:
    """When a dataset with this schedule and last run is next due."""
    check_schedule(schedule)
    if last_run is None:
        return now
    when: datetime = croniter(schedule, last_run.astimezone(UTC)).get_next(datetime)
    return when


async def due_datasets(catalog: Catalog, now: datetime) -> list[str]:
    due = []
    for dataset in await catalog.datasets.list():
        if not dataset.schedule:
            continue
        last = await catalog.runs.latest(dataset.name)
        started = None if last is None else iso_aware(last.started_at)
        if next_due(dataset.schedule, started, now) <= now:
            due.append(dataset.name)
    return due


def iso_aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


async def run_worker(
    catalog: Catalog,
    sync_one: Callable[[str], Awaitable[object]],
    report: Callable[[str], None],
    *,
    once: bool = False,
) -> None:
    """Sync due datasets every tick; with `once`, only those due now."""
    while True:
        now = datetime.now(UTC)
        for name in await due_datasets(catalog, now):
            report(f"worker: syncing {name}")
            try:
                await sync_one(name)
            except DatamirrorError as exc:
                report(f"worker: {name} failed: {exc}")
        if once:
            return
        await asyncio.sleep(TICK)
