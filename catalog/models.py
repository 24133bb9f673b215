"""The data model: datasets (sources), releases, entries, sync runs, transfers, tokens."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, column_property, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
        list[str]: JSON,
    }


class ReleaseState(enum.StrEnum):
    BUILDING = "building"
    PUBLISHED = "published"
    FAILED = "failed"
    EXPIRED = "expired"


class RunState(enum.StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Release(Base):
    """One immutable, versioned snapshot of a dataset."""

    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("dataset_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    # the release as a GA4GH DRS bundle (`catalog.drs_ids.bundle_id`)
    drs_id: Mapped[str | None] = mapped_column(String(32), default=None, unique=True, index=True)
    state: Mapped[ReleaseState] = mapped_column(
        Enum(ReleaseState, native_enum=False, length=20), default=ReleaseState.BUILDING
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    file_count: Mapped[int] = mapped_column(Integer, default=0)
    total_bytes: Mapped[int] = mapped_column(BigInteger, default=0)

    dataset: Mapped[Dataset] = relationship(back_populates="releases", foreign_keys=[dataset_id])
    entries: Mapped[list[Entry]] = relationship(
        back_populates="release", cascade="all, delete-orphan", order_by="Entry.path"
    )


class Dataset(Base):
    """A registered mirror source and its descriptive metadata."""

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    url: Mapped[str] = mapped_column(Text)
    include: Mapped[list[str]] = mapped_column(default=list)
    exclude: Mapped[list[str]] = mapped_column(default=list)
    checksums: Mapped[str] = mapped_column(String(200), default="auto")
    schedule: Mapped[str | None] = mapped_column(String(100), default=None)
    keep: Mapped[int | None] = mapped_column(Integer, default=None)
    max_delete: Mapped[float] = mapped_column(Float, default=50.0)
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    title: Mapped[str | None] = mapped_column(Text, default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    license: Mapped[str | None] = mapped_column(Text, default=None)
    homepage: Mapped[str | None] = mapped_column(Text, default=None)
    citation: Mapped[str | None] = mapped_column(Text, default=None)
    keywords: Mapped[list[str]] = mapped_column(default=list)
    creators: Mapped[list[str]] = mapped_column(default=list)
    publisher: Mapped[str | None] = mapped_column(Text, default=None)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    current_release_id: Mapped[int | None] = mapped_column(
        ForeignKey("releases.id", use_alter=True, name="fk_dataset_current_release"),
        default=None,
    )

    releases: Mapped[list[Release]] = relationship(
        back_populates="dataset",
        foreign_keys="Release.dataset_id",
        cascade="all, delete-orphan",
        order_by="Release.id",
    )
    current_release: Mapped[Release | None] = relationship(
        foreign_keys=[current_release_id], post_update=True
    )
    # loaded with the dataset, in the same query: what the dataset index shows of it
    current_release_name: Mapped[str | None] = column_property(
        select(Release.name).where(Release.id == current_release_id).scalar_subquery()
    )
    current_release_published_at: Mapped[datetime | None] = column_property(
        select(Release.published_at).where(Release.id == current_release_id).scalar_subquery()
    )
    current_release_files: Mapped[int | None] = column_property(
        select(Release.file_count).where(Release.id == current_release_id).scalar_subquery()
    )
    current_release_bytes: Mapped[int | None] = column_property(
        select(Release.total_bytes).where(Release.id == current_release_id).scalar_subquery()
    )


class Entry(Base):
    """A file in a release: where its bytes live and what they hash to."""

    __tablename__ = "entries"
    __table_args__ = (UniqueConstraint("release_id", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime: Mapped[datetime | None] = mapped_column(default=None)
    object_key: Mapped[str] = mapped_column(Text)
    xxh3_128: Mapped[str] = mapped_column(String(32))
    md5: Mapped[str | None] = mapped_column(String(32), default=None)
    sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    other_digests: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    source_etag: Mapped[str | None] = mapped_column(Text, default=None)
    # the file as a GA4GH DRS object (`catalog.drs_ids.object_id`): the same in every
    # release that holds these bytes at this path, so one id may have several rows
    drs_id: Mapped[str | None] = mapped_column(String(32), default=None, index=True)

    release: Mapped[Release] = relationship(back_populates="entries")


class SyncRun(Base):
    """One attempt to build and publish a release, with its report."""

    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    release_id: Mapped[int | None] = mapped_column(
        ForeignKey("releases.id", ondelete="SET NULL"), default=None
    )
    state: Mapped[RunState] = mapped_column(
        Enum(RunState, native_enum=False, length=20), default=RunState.RUNNING
    )
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    report: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    # the job queue's job that ran it (a cluster's sync); NULL for a sync run in-process
    job_id: Mapped[int | None] = mapped_column(BigInteger, default=None, index=True)


class Transfer(Base):
    """A file being fetched into a building release; survives a killed worker."""

    __tablename__ = "transfers"
    __table_args__ = (UniqueConstraint("release_id", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(Text)
    object_key: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    part_size: Mapped[int] = mapped_column(BigInteger)
    source_version: Mapped[str | None] = mapped_column(Text, default=None)
    upload_id: Mapped[str | None] = mapped_column(Text, default=None)

    parts: Mapped[list[TransferPart]] = relationship(
        back_populates="transfer", cascade="all, delete-orphan", order_by="TransferPart.number"
    )


class TransferPart(Base):
    """A part of a transfer that has landed in the store."""

    __tablename__ = "transfer_parts"
    __table_args__ = (UniqueConstraint("transfer_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("transfers.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    offset: Mapped[int] = mapped_column(BigInteger)
    length: Mapped[int] = mapped_column(BigInteger)
    xxh3_128: Mapped[str] = mapped_column(String(32))
    etag: Mapped[str | None] = mapped_column(Text, default=None)

    transfer: Mapped[Transfer] = relationship(back_populates="parts")


class Lease(Base):
    """Who holds a dataset for a job (a sync, a gc) until when; renewed while it runs."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(Text)
    job: Mapped[str] = mapped_column(String(100))
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class BatchOutcome(Base):
    """What one batch or part-range job of a fanned-out sync did: the files it fetched,
    the bytes it moved, the files that failed and why (read by the coordinating job)."""

    __tablename__ = "batch_outcomes"
    __table_args__ = (UniqueConstraint("release_id", "batch"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id", ondelete="CASCADE"))
    batch: Mapped[int] = mapped_column(Integer)
    files: Mapped[int] = mapped_column(Integer, default=0)
    transferred: Mapped[int] = mapped_column(BigInteger, default=0)
    resumed: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    retries: Mapped[dict[str, Any]] = mapped_column(default=dict)
    finished_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConnectionSlot(Base):
    """One connection to a source host, of the cluster-wide cap: held by one job (its
    `holder`) until `expires_at`, renewed while the job runs."""

    __tablename__ = "connection_slots"

    host: Mapped[str] = mapped_column(String(300), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    holder: Mapped[str | None] = mapped_column(Text, default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)


class Token(Base):
    """A bearer token, stored as its SHA-256 hash."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(200))
    label: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
