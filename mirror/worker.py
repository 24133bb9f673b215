"""`datamirror worker` on the embedded default: run each dataset's scheduled sync in-process.

A dataset with a cron `schedule` is due when the schedule's next time after its last run
has passed (a dataset never synced is due at once). Due datasets sync one after another;
a failed sync is reported and the loop goes on. The PostgreSQL job queue (procrastinate)
is the cluster's way and replaces this loop there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from croniter import croniter

from catalog.errors import ConfigError, DatamirrorError
from catalog.models import Dataset
from catalog.repository import Catalog

TICK = 30.0


def next_due(schedule: str, last_run: datetime | None, now: datetime) -> datetime:
    """When a dataset with this schedule and last run is next due."""
    if not croniter.is_valid(schedule):
        raise ConfigError(
            f"invalid cron schedule {schedule!r}", hint="use five fields, e.g. '0 3 * * *'"
        )
    if last_run is None:
        return now
    when: datetime = croniter(schedule, last_run.astimezone(UTC)).get_next(datetime)
    return when


def due_datasets(catalog: Catalog, now: datetime) -> list[str]:
    due = []
    for dataset in catalog.list_datasets():
        if dataset.schedule and next_due(dataset.schedule, _last_run(catalog, dataset), now) <= now:
            due.append(dataset.name)
    return due


def _last_run(catalog: Catalog, dataset: Dataset) -> datetime | None:
    runs = catalog.list_runs(dataset.name)
    if not runs:
        return None
    started = runs[-1].started_at
    return started if started.tzinfo else started.replace(tzinfo=UTC)


async def run_worker(
    catalog: Catalog,
    sync_one: Callable[[str], object],
    report: Callable[[str], None],
    *,
    once: bool = False,
) -> None:
    """Sync due datasets every tick; with `once`, only those due now."""
    while True:
        now = datetime.now(UTC)
        for name in await asyncio.to_thread(due_datasets, catalog, now):
            report(f"worker: syncing {name}")
            try:
                await asyncio.to_thread(sync_one, name)
            except DatamirrorError as exc:
                report(f"worker: {name} failed: {exc}")
        if once:
            return
        await asyncio.sleep(TICK)
