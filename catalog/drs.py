"""The DRS index: which published release holds a GA4GH DRS id, in one indexed query.

File ids are recorded with the entries (`Entry.drs_id`) and release ids with the releases
(`Release.drs_id`); only published releases answer. A file id held by several releases
(the same bytes at the same path) resolves to the oldest of them, so the object keeps its
creation time and access URL until retention expires that release.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.db import Database
from catalog.manifest import ManifestEntry
from catalog.models import Dataset, Entry, Release, ReleaseState
from catalog.releases import entry_to_manifest


@dataclass(frozen=True, slots=True)
class Located:
    """Where a DRS id lives: a release of a dataset, and the file when it is one."""

    dataset: str
    release: str
    published_at: datetime
    entry: ManifestEntry | None = None


class DrsIndex:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def file(self, drs_id: str) -> Located | None:
        """The file with this id in the oldest published release that holds it."""

        def find(session: Session) -> Located | None:
            row = session.execute(
                select(Entry, Release.name, Release.published_at, Dataset.name)
                .join(Release, Entry.release_id == Release.id)
                .join(Dataset, Release.dataset_id == Dataset.id)
                .where(Entry.drs_id == drs_id, Release.state == ReleaseState.PUBLISHED)
                .order_by(Release.id)
                .limit(1)
            ).one_or_none()
            if row is None:
                return None
            entry, release, published_at, dataset = row
            return Located(dataset, release, _utc(published_at), entry_to_manifest(entry))

        return await self._db.run(find)

    async def bundle(self, drs_id: str) -> Located | None:
        """The published release with this bundle id."""

        def find(session: Session) -> Located | None:
            row = session.execute(
                select(Release.name, Release.published_at, Dataset.name)
                .join(Dataset, Release.dataset_id == Dataset.id)
                .where(Release.drs_id == drs_id, Release.state == ReleaseState.PUBLISHED)
            ).one_or_none()
            if row is None:
                return None
            release, published_at, dataset = row
            return Located(dataset, release, _utc(published_at))

        return await self._db.run(find)


def _utc(when: datetime | None) -> datetime:
    """A published release's time, aware (SQLite hands back naive UTC datetimes)."""
    assert when is not None, "a published release has its publication time"
    return when if when.tzinfo else when.replace(tzinfo=UTC)
