"""Releases and their entries: naming (`YYYY-MM-DD.N`), recording what landed, publishing
in one transaction, retention, and what garbage collection must keep.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from catalog.datasets import find_dataset
from catalog.db import Database
from catalog.drs_ids import bundle_id, object_id
from catalog.errors import NoReleaseError, UnknownReleaseError
from catalog.manifest import ManifestEntry
from catalog.models import Dataset, Entry, Release, ReleaseState, Transfer, utcnow

LATEST = "latest"
RETAINED = (ReleaseState.PUBLISHED, ReleaseState.BUILDING)


def entry_to_manifest(entry: Entry) -> ManifestEntry:
    return ManifestEntry(
        path=entry.path, key=entry.object_key, size=entry.size, xxh3_128=entry.xxh3_128,
        mtime=entry.mtime, md5=entry.md5, sha256=entry.sha256, source_etag=entry.source_etag,
        other_digests=entry.other_digests or {},
    )  # fmt: skip


def release_json(release: Release, current_id: int | None) -> dict[str, Any]:
    """The one JSON shape of a release (CLI, API and pages)."""
    return {
        "name": release.name,
        "state": release.state.value,
        "current": release.id == current_id,
        "files": release.file_count,
        "bytes": release.total_bytes,
        "created_at": iso_utc(release.created_at),
        "published_at": iso_utc(release.published_at) if release.published_at else None,
    }


def iso_utc(when: datetime) -> str:
    """ISO 8601 in UTC; SQLite hands back naive datetimes, which are UTC already."""
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


class Releases:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def list(self, dataset: str) -> builtins.list[Release]:
        """Every release of the dataset, oldest first."""

        def releases(session: Session) -> builtins.list[Release]:
            ds = find_dataset(session, dataset)
            query = select(Release).where(Release.dataset_id == ds.id).order_by(Release.id)
            return list(session.scalars(query))

        return await self._db.run(releases)

    async def current(self, dataset: str) -> Release:
        return await self._db.run(lambda session: _current(session, find_dataset(session, dataset)))

    async def get(self, dataset: str, release: str, *, published_only: bool = True) -> Release:
        """A release by name; `latest` means the current one."""

        def get(session: Session) -> Release:
            ds = find_dataset(session, dataset)
            if release == LATEST:
                return _current(session, ds)
            found = session.scalar(
                select(Release).where(Release.dataset_id == ds.id, Release.name == release)
            )
            if found is None or (published_only and found.state != ReleaseState.PUBLISHED):
                raise UnknownReleaseError(dataset, release)
            return found

        return await self._db.run(get)

    async def tally(self, release_id: int) -> tuple[int, int]:
        """How many files the release records, and their bytes."""
        query = select(func.count(Entry.id), func.coalesce(func.sum(Entry.size), 0)).where(
            Entry.release_id == release_id
        )
        count, total = await self._db.run(lambda session: session.execute(query).one())
        return int(count), int(total)

    async def by_id(self, release_id: int) -> Release | None:
        return await self._db.run(lambda session: session.get(Release, release_id))

    async def building(self, dataset: str) -> Release | None:
        """The newest unpublished release still under construction (to resume), if any."""

        def building(session: Session) -> Release | None:
            ds = find_dataset(session, dataset)
            return session.scalar(
                select(Release)
                .where(Release.dataset_id == ds.id, Release.state == ReleaseState.BUILDING)
                .order_by(Release.id.desc())
                .limit(1)
            )

        return await self._db.run(building)

    async def new(self, dataset: str, now: datetime | None = None) -> Release:
        """A new building release named `YYYY-MM-DD.N` (N counts that day's releases)."""
        day = (now or datetime.now(UTC)).strftime("%Y-%m-%d")

        def new(session: Session) -> Release:
            ds = find_dataset(session, dataset)
            names = session.scalars(
                select(Release.name).where(
                    Release.dataset_id == ds.id, Release.name.like(f"{day}.%")
                )
            ).all()
            serial = 1 + max((_serial(n) for n in names), default=0)
            name = f"{day}.{serial}"
            release = Release(dataset_id=ds.id, name=name, drs_id=bundle_id(ds.name, name))
            session.add(release)
            session.flush()
            return release

        return await self._db.run(new)

    async def entries(self, release_id: int) -> builtins.list[ManifestEntry]:
        def entries(session: Session) -> builtins.list[ManifestEntry]:
            rows = session.scalars(
                select(Entry).where(Entry.release_id == release_id).order_by(Entry.path)
            )
            return [entry_to_manifest(e) for e in rows]

        return await self._db.run(entries)

    async def entries_at(
        self, release_id: int, paths: Sequence[str]
    ) -> builtins.list[ManifestEntry]:
        """The release's entries at `paths` (those it records)."""

        def entries(session: Session) -> builtins.list[ManifestEntry]:
            rows = session.scalars(
                select(Entry).where(Entry.release_id == release_id, Entry.path.in_(list(paths)))
            )
            return [entry_to_manifest(e) for e in rows]

        return await self._db.run(entries) if paths else []

    async def add_entries(self, release_id: int, entries: Sequence[ManifestEntry]) -> None:
        """Record files that landed in a building release (idempotent per path)."""
        if entries:
            await self._db.run(lambda session: record_entries(session, release_id, entries))

    async def remove_entries(self, release_id: int, keep_paths: set[str]) -> int:
        """Drop entries of a building release whose paths are not in `keep_paths`."""

        def remove(session: Session) -> int:
            rows = session.scalars(select(Entry).where(Entry.release_id == release_id)).all()
            gone = [e for e in rows if e.path not in keep_paths]
            for entry in gone:
                session.delete(entry)
            return len(gone)

        return await self._db.run(remove)

    async def publish(self, release_id: int, keep: int | None = None) -> Release:
        """Make a fully verified release the current one and, with `keep`, expire all but
        the newest `keep` published releases, in one transaction."""
        return await self._db.run(lambda session: _publish(session, release_id, keep))

    async def retained_keys(self, dataset: str | None = None) -> set[str]:
        """Every object key a published or building release still points at."""

        def keys(session: Session) -> set[str]:
            entries = select(Entry.object_key).join(Release, Entry.release_id == Release.id)
            transfers = select(Transfer.object_key).join(Release, Transfer.release_id == Release.id)
            found: set[str] = set()
            for keys_of in (entries, transfers):
                query = keys_of.where(Release.state.in_(RETAINED))
                if dataset is not None:
                    query = query.join(Dataset, Release.dataset_id == Dataset.id).where(
                        Dataset.name == dataset
                    )
                found.update(session.scalars(query))
            return found

        return await self._db.run(keys)

    async def retained_names(self, dataset: str) -> set[str]:
        """The releases of `dataset` whose folders must stay in the store."""

        def names(session: Session) -> set[str]:
            rows = session.scalars(
                select(Release.name)
                .join(Dataset, Release.dataset_id == Dataset.id)
                .where(Dataset.name == dataset, Release.state.in_(RETAINED))
            )
            return set(rows)

        return await self._db.run(names)


def record_entries(session: Session, release_id: int, entries: Sequence[ManifestEntry]) -> None:
    """Each with its DRS id (`catalog.drs_ids.object_id`), which the DRS index looks up."""
    dataset = session.scalar(
        select(Dataset.name).join(Release, Release.dataset_id == Dataset.id)
        .where(Release.id == release_id)
    )  # fmt: skip
    assert dataset is not None, f"release {release_id} exists"
    paths = [e.path for e in entries]
    session.execute(delete(Entry).where(Entry.release_id == release_id, Entry.path.in_(paths)))
    # a bulk INSERT (executemany): building ORM objects costs 5x more per row
    session.execute(
        insert(Entry),
        [
            {
                "release_id": release_id, "path": e.path, "size": e.size, "mtime": e.mtime,
                "object_key": e.key, "xxh3_128": e.xxh3_128, "md5": e.md5, "sha256": e.sha256,
                "other_digests": dict(e.other_digests) or None, "source_etag": e.source_etag,
                "drs_id": object_id(dataset, e.path, e.xxh3_128),
            }
            for e in entries
        ],
    )  # fmt: skip


def _current(session: Session, ds: Dataset) -> Release:
    if ds.current_release_id is None:
        raise NoReleaseError(ds.name)
    release = session.get(Release, ds.current_release_id)
    assert release is not None
    return release


def _publish(session: Session, release_id: int, keep: int | None) -> Release:
    release = session.get(Release, release_id)
    assert release is not None
    count, total = session.execute(
        select(func.count(Entry.id), func.coalesce(func.sum(Entry.size), 0)).where(
            Entry.release_id == release_id
        )
    ).one()
    release.file_count = int(count)
    release.total_bytes = int(total)
    release.state = ReleaseState.PUBLISHED
    release.published_at = utcnow()
    dataset = session.get(Dataset, release.dataset_id)
    assert dataset is not None
    dataset.current_release_id = release.id
    session.flush()
    if not keep:
        return release
    published = session.scalars(
        select(Release)
        .where(Release.dataset_id == dataset.id, Release.state == ReleaseState.PUBLISHED)
        .order_by(Release.id.desc())
    ).all()
    expired = [r for r in published[keep:] if r.id != release.id]
    for old in expired:
        old.state = ReleaseState.EXPIRED
    return release


def _serial(name: str) -> int:
    match = re.search(r"\.(\d+)$", name)
    return int(match.group(1)) if match else 0
