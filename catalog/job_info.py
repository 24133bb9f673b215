"""Jobs as the queue's client sees them: their states (procrastinate's statuses, with
`stalled` for a running job whose worker's heartbeat stopped), one job's facts and its one
JSON shape, and the errors of the queue."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from catalog.errors import DatamirrorError
from catalog.releases import iso_utc

NAMESPACE = "datamirror"


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    STALLED = "stalled"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


_STATUSES: dict[JobState, tuple[str, ...]] = {
    JobState.QUEUED: ("todo",),
    JobState.RUNNING: ("doing", "aborting"),
    JobState.STALLED: ("doing",),
    JobState.SUCCEEDED: ("succeeded",),
    JobState.FAILED: ("failed",),
    JobState.CANCELLED: ("cancelled", "aborted"),
}
PENDING = ("todo", "doing", "aborting")


class UnknownJobError(DatamirrorError, LookupError):
    """No such job."""

    status = 404

    def __init__(self, job_id: int) -> None:
        super().__init__(
            f"no job with id {job_id}",
            hint="GET /api/v1/jobs lists the jobs",
            cli_hint="run `datamirror jobs` to see the jobs",
        )
        self.job_id = job_id


class QueueUnavailableError(DatamirrorError):
    """The job queue needs PostgreSQL."""

    status = 409

    def __init__(self) -> None:
        super().__init__(
            "there is no job queue: the catalog is a SQLite file",
            hint="the job queue runs on PostgreSQL; set DATAMIRROR_DB to a postgresql:// URL",
            cli_hint="on one machine `datamirror sync NAME` runs in this process",
        )


class JobStateError(DatamirrorError):
    """The job is not in a state that allows this."""

    status = 409


@dataclass(frozen=True, slots=True)
class JobInfo:
    """One job: what it runs, where it stands, and for a sync its run's progress and report."""

    id: int
    task: str
    state: JobState
    attempts: int
    args: Mapping[str, Any]
    lock: str | None = None
    queued_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    report: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def dataset(self) -> str | None:
        value = self.args.get("dataset")
        return str(value) if value is not None else None

    @property
    def done(self) -> bool:
        return self.state in {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED}

    def to_json(self) -> dict[str, Any]:
        """The one JSON shape of a job (CLI and API)."""
        report = dict(self.report)
        progress = report.pop("progress", None)
        return {
            "id": self.id,
            "task": self.task.removeprefix(f"{NAMESPACE}:"),
            "dataset": self.dataset,
            "state": self.state.value,
            "attempts": self.attempts,
            "queued_at": _iso(self.queued_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "progress": progress,
            "report": report or None,
            "error": self.error,
        }


def _iso(when: datetime | None) -> str | None:
    return iso_utc(when) if when is not None else None
