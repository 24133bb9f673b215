"""Sync runs: one attempt each to build and publish a release, with its report."""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.datasets import find_dataset
from catalog.db import Database
from catalog.models import RunState, SyncRun, utcnow

INTERRUPTED = "interrupted: the run stopped before it finished"


class Runs:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def start(
        self, dataset: str, release_id: int | None, job_id: int | None = None
    ) -> SyncRun:
        """A running sync; `release_id` None until it knows which release it builds;
        `job_id` the queue's job that runs it, if any."""

        def start(session: Session) -> SyncRun:
            ds = find_dataset(session, dataset)
            run = SyncRun(dataset_id=ds.id, release_id=release_id, job_id=job_id)
            session.add(run)
            session.flush()
            return run

        return await self._db.run(start)

    async def attach(self, run_id: int, release_id: int) -> None:
        def attach(session: Session) -> None:
            _run(session, run_id).release_id = release_id

        await self._db.run(attach)

    async def finish(
        self, run_id: int, state: RunState, report: dict[str, Any], error: str | None = None
    ) -> SyncRun:
        return await self._db.run(lambda session: _finish(session, run_id, state, report, error))

    async def of_job(self, job_id: int) -> SyncRun | None:
        """The newest run of a queue's job (a job run again after its worker died has
        several)."""
        query = select(SyncRun).where(SyncRun.job_id == job_id).order_by(SyncRun.id.desc())
        return await self._db.run(lambda session: session.scalar(query.limit(1)))

    async def note_progress(self, job_id: int, progress: dict[str, Any]) -> None:
        """Keep a running job's progress in its run's report (`report["progress"]`)."""

        def note(session: Session) -> None:
            query = select(SyncRun).where(
                SyncRun.job_id == job_id, SyncRun.state == RunState.RUNNING
            )
            run = session.scalar(query.order_by(SyncRun.id.desc()).limit(1))
            if run is not None:
                run.report = {**(run.report or {}), "progress": progress}

        await self._db.run(note)

    async def list(self, dataset: str) -> builtins.list[SyncRun]:
        """Every run of the dataset, oldest first."""

        def runs(session: Session) -> builtins.list[SyncRun]:
            ds = find_dataset(session, dataset)
            query = select(SyncRun).where(SyncRun.dataset_id == ds.id).order_by(SyncRun.id)
            return list(session.scalars(query))

        return await self._db.run(runs)

    async def latest(self, dataset: str) -> SyncRun | None:
        """The dataset's newest run, if any."""

        def latest(session: Session) -> SyncRun | None:
            ds = find_dataset(session, dataset)
            query = select(SyncRun).where(SyncRun.dataset_id == ds.id)
            return session.scalar(query.order_by(SyncRun.id.desc()).limit(1))

        return await self._db.run(latest)

    async def of_release(self, release_id: int) -> SyncRun | None:
        """The run that completed a release (the newest succeeded run that built it)."""

        def run(session: Session) -> SyncRun | None:
            query = select(SyncRun).where(
                SyncRun.release_id == release_id, SyncRun.state == RunState.SUCCEEDED
            )
            return session.scalar(query.order_by(SyncRun.id.desc()).limit(1))

        return await self._db.run(run)

    async def abandon(self, release_id: int) -> int:
        """Mark runs of a release still `running` (their worker died) failed; count them."""

        def abandon(session: Session) -> int:
            runs = session.scalars(
                select(SyncRun).where(
                    SyncRun.release_id == release_id, SyncRun.state == RunState.RUNNING
                )
            ).all()
            for run in runs:
                run.state, run.error, run.finished_at = RunState.FAILED, INTERRUPTED, utcnow()
            return len(runs)

        return await self._db.run(abandon)


def _run(session: Session, run_id: int) -> SyncRun:
    run = session.get(SyncRun, run_id)
    assert run is not None
    return run


def _finish(
    session: Session, run_id: int, state: RunState, report: dict[str, Any], error: str | None
) -> SyncRun:
    run = _run(session, run_id)
    run.state, run.report, run.error = state, report, error
    run.finished_at = utcnow()
    return run
