"""Batch outcomes: what each batch or part-range job of a fanned-out sync did, for the job
that coordinates it (the files it fetched, the bytes moved, and each failure with its
facts). A job run again after its worker died writes its row again."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from catalog.db import Database
from catalog.models import BatchOutcome, utcnow


@dataclass(frozen=True, slots=True)
class Outcome:
    batch: int
    files: int = 0
    transferred: int = 0
    resumed: int = 0
    errors: tuple[Mapping[str, Any], ...] = ()
    retries: Mapping[str, int] = field(default_factory=dict)


class Batches:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, release_id: int, outcome: Outcome) -> None:
        def record(session: Session) -> None:
            session.execute(
                delete(BatchOutcome).where(
                    BatchOutcome.release_id == release_id, BatchOutcome.batch == outcome.batch
                )
            )
            session.add(
                BatchOutcome(
                    release_id=release_id, batch=outcome.batch, files=outcome.files,
                    transferred=outcome.transferred, resumed=outcome.resumed,
                    errors=[dict(e) for e in outcome.errors], retries=dict(outcome.retries),
                    finished_at=utcnow(),
                )
            )  # fmt: skip

        await self._db.run(record)

    async def of_release(
        self, release_id: int, batches: Sequence[int] | None = None
    ) -> builtins.list[Outcome]:
        """The release's outcomes (of the batches numbered, if given), by batch."""

        def outcomes(session: Session) -> builtins.list[Outcome]:
            query = select(BatchOutcome).where(BatchOutcome.release_id == release_id)
            if batches is not None:
                query = query.where(BatchOutcome.batch.in_(list(batches)))
            return [_outcome(row) for row in session.scalars(query.order_by(BatchOutcome.batch))]

        return await self._db.run(outcomes)

    async def last_number(self, release_id: int) -> int:
        """The highest batch number the release has used (0: none)."""

        def last(session: Session) -> int:
            rows = session.scalars(
                select(BatchOutcome.batch).where(BatchOutcome.release_id == release_id)
            )
            return max(rows, default=0)

        return await self._db.run(last)


def _outcome(row: BatchOutcome) -> Outcome:
    errors = tuple(row.errors or ())
    return Outcome(row.batch, row.files, row.transferred, row.resumed, errors, row.retries or {})
