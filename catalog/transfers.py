"""Transfers: the chunked uploads of large files into a building release, and the parts of
each that have landed, so that a killed worker's successor fetches only the rest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from catalog.db import Database
from catalog.models import Transfer, TransferPart

LandedRecord = tuple[int, int, int, str]
"""A landed part: (number, offset, length, xxh3-128)."""


@dataclass(frozen=True, slots=True)
class TransferState:
    id: int
    key: str
    size: int
    part_size: int
    version: str | None
    upload_id: str | None
    landed: frozenset[int]


class Transfers:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, release_id: int, path: str) -> TransferState | None:
        def get(session: Session) -> TransferState | None:
            row = session.scalar(
                select(Transfer).where(Transfer.release_id == release_id, Transfer.path == path)
            )
            if row is None:
                return None
            landed = frozenset(p.number for p in row.parts)
            return TransferState(row.id, row.object_key, row.size, row.part_size,
                                 row.source_version, row.upload_id, landed)  # fmt: skip

        return await self._db.run(get)

    async def start(
        self, release_id: int, path: str, key: str, size: int, part_size: int,
        version: str, upload_id: str,
    ) -> TransferState:  # fmt: skip
        """Record a new chunked upload for `path`, replacing any earlier one."""

        def start(session: Session) -> TransferState:
            _forget(session, release_id, path)
            row = Transfer(
                release_id=release_id, path=path, object_key=key, size=size,
                part_size=part_size, source_version=version, upload_id=upload_id,
            )  # fmt: skip
            session.add(row)
            session.flush()
            return TransferState(row.id, key, size, part_size, version, upload_id, frozenset())

        return await self._db.run(start)

    async def add_parts(self, transfer_id: int, parts: Sequence[LandedRecord]) -> None:
        """Record several landed parts at once."""
        if not parts:
            return
        rows = [
            {"transfer_id": transfer_id, "number": number, "offset": offset, "length": length,
             "xxh3_128": digest}
            for number, offset, length, digest in parts
        ]  # fmt: skip
        await self._db.run(lambda session: session.execute(insert(TransferPart), rows))

    async def finish(self, release_id: int, path: str) -> None:
        await self._db.run(lambda session: _forget(session, release_id, path))

    async def landed_bytes(self, release_id: int) -> int:
        """The bytes of the parts landed in the release's unfinished transfers."""
        query = (
            select(func.coalesce(func.sum(TransferPart.length), 0))
            .join(Transfer, TransferPart.transfer_id == Transfer.id)
            .where(Transfer.release_id == release_id)
        )
        total: int | None = await self._db.run(lambda session: session.scalar(query))
        return int(total or 0)

    async def open_upload_ids(self, release_id: int) -> set[str]:
        def ids(session: Session) -> set[str]:
            found = session.scalars(
                select(Transfer.upload_id).where(Transfer.release_id == release_id)
            )
            return {i for i in found if i}

        return await self._db.run(ids)


def _forget(session: Session, release_id: int, path: str) -> None:
    session.execute(
        delete(Transfer).where(Transfer.release_id == release_id, Transfer.path == path)
    )
