"""The catalog's operations: register datasets, record releases and entries, publish.

Every function opens its own short transaction. ORM objects come back detached
(`expire_on_commit=False`), so callers may read their columns after the session closed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalog import tokens
from catalog.config import Settings
from catalog.db import create_catalog_engine, migrate, session_factory
from catalog.errors import (
    DuplicateDatasetError,
    InvalidSourceURLError,
    NoReleaseError,
    UnknownDatasetError,
    UnknownReleaseError,
)
from catalog.layout import check_name
from catalog.manifest import ManifestEntry
from catalog.models import (
    Dataset,
    Entry,
    Release,
    ReleaseState,
    RunState,
    SyncRun,
    Transfer,
    TransferPart,
    utcnow,
)

SOURCE_SCHEMES = ("http", "https", "ftp", "s3")


@dataclass(frozen=True, slots=True)
class DatasetSpec:
    """What a curator registers."""

    name: str
    url: str
    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    checksums: str = "auto"
    schedule: str | None = None
    keep: int | None = None
    max_delete: float = 50.0
    restricted: bool = False
    title: str | None = None
    description: str | None = None
    license: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


def check_source_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in SOURCE_SCHEMES:
        raise InvalidSourceURLError(url, f"scheme must be one of {', '.join(SOURCE_SCHEMES)}")
    if not parts.netloc:
        raise InvalidSourceURLError(url, "no host or bucket")
    return url


def entry_to_manifest(entry: Entry) -> ManifestEntry:
    return ManifestEntry(
        path=entry.path,
        key=entry.object_key,
        size=entry.size,
        xxh3_128=entry.xxh3_128,
        mtime=entry.mtime,
        md5=entry.md5,
        sha256=entry.sha256,
        source_etag=entry.source_etag,
    )


class Catalog:
    """The database half of the catalog (the store is the other half)."""

    def __init__(self, db_url: str) -> None:
        self.engine = create_catalog_engine(db_url)
        migrate(self.engine)
        self._sessions = session_factory(self.engine)

    @classmethod
    def from_settings(cls, settings: Settings) -> Catalog:
        return cls(settings.db_url)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    # datasets

    def add_dataset(self, spec: DatasetSpec) -> Dataset:
        check_name(spec.name)
        check_source_url(spec.url)
        dataset = Dataset(
            name=spec.name,
            url=spec.url,
            include=list(spec.include),
            exclude=list(spec.exclude),
            checksums=spec.checksums,
            schedule=spec.schedule,
            keep=spec.keep,
            max_delete=spec.max_delete,
            restricted=spec.restricted,
            title=spec.title,
            description=spec.description,
            license=spec.license,
            options=dict(spec.options),
        )
        try:
            with self.session() as session:
                session.add(dataset)
        except IntegrityError as exc:
            raise DuplicateDatasetError(spec.name) from exc
        return dataset

    def get_dataset(self, name: str) -> Dataset:
        with self.session() as session:
            dataset = session.scalar(select(Dataset).where(Dataset.name == name))
            if dataset is None:
                raise UnknownDatasetError(name)
            return dataset

    def list_datasets(self) -> list[Dataset]:
        with self.session() as session:
            return list(session.scalars(select(Dataset).order_by(Dataset.name)))

    def update_dataset(self, name: str, **changes: Any) -> Dataset:
        with self.session() as session:
            dataset = session.scalar(select(Dataset).where(Dataset.name == name))
            if dataset is None:
                raise UnknownDatasetError(name)
            if "url" in changes:
                check_source_url(changes["url"])
            for key, value in changes.items():
                setattr(dataset, key, value)
            return dataset

    def remove_dataset(self, name: str) -> None:
        with self.session() as session:
            dataset = session.scalar(select(Dataset).where(Dataset.name == name))
            if dataset is None:
                raise UnknownDatasetError(name)
            dataset.current_release_id = None
            session.flush()
            session.delete(dataset)

    # releases

    def list_releases(self, dataset: str) -> list[Release]:
        ds = self.get_dataset(dataset)
        with self.session() as session:
            return list(
                session.scalars(
                    select(Release).where(Release.dataset_id == ds.id).order_by(Release.id)
                )
            )

    def current_release(self, dataset: str) -> Release:
        ds = self.get_dataset(dataset)
        if ds.current_release_id is None:
            raise NoReleaseError(dataset)
        with self.session() as session:
            release = session.get(Release, ds.current_release_id)
            assert release is not None
            return release

    def get_release(self, dataset: str, release: str, *, published_only: bool = True) -> Release:
        """A release by name; `latest` means the current one."""
        if release == "latest":
            return self.current_release(dataset)
        ds = self.get_dataset(dataset)
        with self.session() as session:
            found = session.scalar(
                select(Release).where(Release.dataset_id == ds.id, Release.name == release)
            )
            if found is None or (published_only and found.state != ReleaseState.PUBLISHED):
                raise UnknownReleaseError(dataset, release)
            return found

    def building_release(self, dataset: str) -> Release | None:
        """The newest unpublished release still under construction (to resume), if any."""
        ds = self.get_dataset(dataset)
        with self.session() as session:
            return session.scalar(
                select(Release)
                .where(Release.dataset_id == ds.id, Release.state == ReleaseState.BUILDING)
                .order_by(Release.id.desc())
                .limit(1)
            )

    def new_release(self, dataset: str, now: datetime | None = None) -> Release:
        """A new building release named `YYYY-MM-DD.N` (N counts that day's releases)."""
        ds = self.get_dataset(dataset)
        day = (now or datetime.now(UTC)).strftime("%Y-%m-%d")
        with self.session() as session:
            names = session.scalars(
                select(Release.name).where(
                    Release.dataset_id == ds.id, Release.name.like(f"{day}.%")
                )
            ).all()
            serial = 1 + max((_serial(n) for n in names), default=0)
            release = Release(dataset_id=ds.id, name=f"{day}.{serial}")
            session.add(release)
            return release

    def release_entries(self, release_id: int) -> list[ManifestEntry]:
        with self.session() as session:
            rows = session.scalars(
                select(Entry).where(Entry.release_id == release_id).order_by(Entry.path)
            )
            return [entry_to_manifest(e) for e in rows]

    def add_entries(self, release_id: int, entries: Sequence[ManifestEntry]) -> None:
        """Record files that landed in a building release (idempotent per path)."""
        if not entries:
            return
        with self.session() as session:
            paths = [e.path for e in entries]
            session.execute(
                delete(Entry).where(Entry.release_id == release_id, Entry.path.in_(paths))
            )
            # a bulk INSERT (executemany): building ORM objects costs 5x more per row
            session.execute(
                insert(Entry),
                [
                    {
                        "release_id": release_id, "path": e.path, "size": e.size,
                        "mtime": e.mtime, "object_key": e.key, "xxh3_128": e.xxh3_128,
                        "md5": e.md5, "sha256": e.sha256, "source_etag": e.source_etag,
                    }
                    for e in entries
                ],
            )  # fmt: skip

    def remove_entries(self, release_id: int, keep_paths: set[str]) -> int:
        """Drop entries of a building release whose paths are not in `keep_paths`."""
        with self.session() as session:
            rows = session.scalars(select(Entry).where(Entry.release_id == release_id)).all()
            gone = [e for e in rows if e.path not in keep_paths]
            for entry in gone:
                session.delete(entry)
            return len(gone)

    def publish(self, release_id: int) -> Release:
        """Make a fully verified release the current one, in one transaction."""
        with self.session() as session:
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
            return release

    # sync runs

    def start_run(self, dataset: str, release_id: int | None) -> SyncRun:
        """A running sync; `release_id` None until it knows which release it builds."""
        ds = self.get_dataset(dataset)
        run = SyncRun(dataset_id=ds.id, release_id=release_id)
        with self.session() as session:
            session.add(run)
        return run

    def attach_run(self, run_id: int, release_id: int) -> None:
        with self.session() as session:
            run = session.get(SyncRun, run_id)
            assert run is not None
            run.release_id = release_id

    def finish_run(
        self, run_id: int, state: RunState, report: dict[str, Any], error: str | None = None
    ) -> SyncRun:
        with self.session() as session:
            run = session.get(SyncRun, run_id)
            assert run is not None
            run.state = state
            run.report = report
            run.error = error
            run.finished_at = utcnow()
            return run

    def list_runs(self, dataset: str) -> list[SyncRun]:
        ds = self.get_dataset(dataset)
        with self.session() as session:
            return list(
                session.scalars(
                    select(SyncRun).where(SyncRun.dataset_id == ds.id).order_by(SyncRun.id)
                )
            )

    # transfers: parts of large files that have landed in a building release

    def get_transfer(self, release_id: int, path: str) -> TransferState | None:
        with self.session() as session:
            row = session.scalar(
                select(Transfer).where(Transfer.release_id == release_id, Transfer.path == path)
            )
            if row is None:
                return None
            return TransferState(
                id=row.id,
                key=row.object_key,
                size=row.size,
                part_size=row.part_size,
                version=row.source_version,
                upload_id=row.upload_id,
                landed=frozenset(p.number for p in row.parts),
            )

    def start_transfer(
        self, release_id: int, path: str, key: str, size: int, part_size: int,
        version: str, upload_id: str,
    ) -> TransferState:  # fmt: skip
        """Record a new chunked upload for `path`, replacing any earlier one."""
        with self.session() as session:
            session.execute(
                delete(Transfer).where(Transfer.release_id == release_id, Transfer.path == path)
            )
            row = Transfer(
                release_id=release_id, path=path, object_key=key, size=size,
                part_size=part_size, source_version=version, upload_id=upload_id,
            )  # fmt: skip
            session.add(row)
            session.flush()
            return TransferState(row.id, key, size, part_size, version, upload_id, frozenset())

    def add_parts(self, transfer_id: int, parts: Sequence[tuple[int, int, int, str]]) -> None:
        """Record several landed parts, (number, offset, length, xxh3_128) each, at once."""
        if not parts:
            return
        with self.session() as session:
            session.execute(
                insert(TransferPart),
                [
                    {
                        "transfer_id": transfer_id, "number": number, "offset": offset,
                        "length": length, "xxh3_128": digest,
                    }
                    for number, offset, length, digest in parts
                ],
            )  # fmt: skip

    def finish_transfer(self, release_id: int, path: str) -> None:
        with self.session() as session:
            session.execute(
                delete(Transfer).where(Transfer.release_id == release_id, Transfer.path == path)
            )

    def open_upload_ids(self, release_id: int) -> set[str]:
        with self.session() as session:
            ids = session.scalars(
                select(Transfer.upload_id).where(Transfer.release_id == release_id)
            )
            return {i for i in ids if i}

    # retention and garbage collection

    def expire_releases(self, dataset: str, keep: int) -> list[str]:
        """Mark all but the newest `keep` published releases expired; return their names."""
        ds = self.get_dataset(dataset)
        with self.session() as session:
            published = session.scalars(
                select(Release)
                .where(Release.dataset_id == ds.id, Release.state == ReleaseState.PUBLISHED)
                .order_by(Release.id.desc())
            ).all()
            expired = [r for r in published[keep:] if r.id != ds.current_release_id]
            for release in expired:
                release.state = ReleaseState.EXPIRED
            return [r.name for r in expired]

    def retained_keys(self) -> set[str]:
        """Every object key a published or building release still points at."""
        retained = (ReleaseState.PUBLISHED, ReleaseState.BUILDING)
        with self.session() as session:
            keys = session.scalars(
                select(Entry.object_key)
                .join(Release, Entry.release_id == Release.id)
                .where(Release.state.in_(retained))
            )
            transfers = session.scalars(
                select(Transfer.object_key)
                .join(Release, Transfer.release_id == Release.id)
                .where(Release.state.in_(retained))
            )
            return set(keys) | set(transfers)

    def retained_releases(self) -> set[tuple[str, str]]:
        """(dataset, release) pairs whose release folders must stay in the store."""
        with self.session() as session:
            rows = session.execute(
                select(Dataset.name, Release.name)
                .join(Release, Release.dataset_id == Dataset.id)
                .where(Release.state.in_((ReleaseState.PUBLISHED, ReleaseState.BUILDING)))
            )
            return {(d, r) for d, r in rows}

    def abandon_runs(self, release_id: int) -> int:
        """Mark runs of a release still `running` (their worker died) failed; count them."""
        with self.session() as session:
            runs = session.scalars(
                select(SyncRun).where(
                    SyncRun.release_id == release_id, SyncRun.state == RunState.RUNNING
                )
            ).all()
            for run in runs:
                run.state = RunState.FAILED
                run.error = "interrupted: the run stopped before it finished"
                run.finished_at = utcnow()
            return len(runs)

    # bearer tokens and the URL-signing key (logic in catalog.tokens)

    def create_token(self, scope: str, label: str | None = None) -> str:
        """A new bearer token's secret (shown once; only its hash is stored)."""
        with self.session() as session:
            return tokens.create_token(session, scope, label)

    def check_token(self, secret: str) -> frozenset[str] | None:
        """The scopes of a live token, or None for an unknown or revoked one."""
        with self.session() as session:
            return tokens.check_token(session, secret)

    def revoke_token(self, token_id: int) -> tokens.TokenInfo:
        with self.session() as session:
            return tokens.revoke_token(session, token_id)

    def list_tokens(self) -> list[tokens.TokenInfo]:
        with self.session() as session:
            return tokens.list_tokens(session)

    def signing_key(self) -> bytes:
        """The key that signs expiring URLs, shared by every process through the database."""
        return tokens.signing_key(self.session)


@dataclass(frozen=True, slots=True)
class TransferState:
    id: int
    key: str
    size: int
    part_size: int
    version: str | None
    upload_id: str | None
    landed: frozenset[int]


def _serial(name: str) -> int:
    match = re.search(r"\.(\d+)$", name)
    return int(match.group(1)) if match else 0
