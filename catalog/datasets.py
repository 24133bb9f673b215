"""Datasets: the registered sources and their settings and FAIR metadata."""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalog.db import Database
from catalog.errors import DuplicateDatasetError, UnknownDatasetError
from catalog.models import Dataset
from catalog.source_spec import (
    DatasetSpec,
    check_endpoint,
    check_metadata,
    check_schedule,
    check_source_url,
    check_spec,
)


def find_dataset(session: Session, name: str) -> Dataset:
    dataset = session.scalar(select(Dataset).where(Dataset.name == name))
    if dataset is None:
        raise UnknownDatasetError(name)
    return dataset


class Datasets:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, spec: DatasetSpec) -> Dataset:
        spec = check_spec(spec)

        def add(session: Session) -> Dataset:
            dataset = Dataset(
                name=spec.name, url=spec.url, include=list(spec.include),
                exclude=list(spec.exclude), checksums=spec.checksums, schedule=spec.schedule,
                keep=spec.keep, max_delete=spec.max_delete, restricted=spec.restricted,
                title=spec.title, description=spec.description, license=spec.license,
                homepage=spec.homepage, citation=spec.citation, keywords=list(spec.keywords),
                creators=list(spec.creators), publisher=spec.publisher, options=dict(spec.options),
            )  # fmt: skip
            session.add(dataset)
            session.flush()
            session.refresh(dataset)
            return dataset

        try:
            return await self._db.run(add)
        except IntegrityError as exc:
            raise DuplicateDatasetError(spec.name) from exc

    async def get(self, name: str) -> Dataset:
        return await self._db.run(lambda session: find_dataset(session, name))

    async def list(self) -> builtins.list[Dataset]:
        """Every dataset, by name."""
        return await self._db.run(
            lambda session: list(session.scalars(select(Dataset).order_by(Dataset.name)))
        )

    async def update(self, name: str, **changes: Any) -> Dataset:
        if "url" in changes:
            check_source_url(changes["url"])
        if changes.get("schedule") is not None:
            check_schedule(changes["schedule"])
        if (changes.get("options") or {}).get("endpoint_url") is not None:
            check_endpoint(changes["options"]["endpoint_url"])
        changes = {**changes, **check_metadata(changes)}

        def update(session: Session) -> Dataset:
            dataset = find_dataset(session, name)
            for key, value in changes.items():
                setattr(dataset, key, value)
            session.flush()
            session.refresh(dataset)
            return dataset

        return await self._db.run(update)

    async def remove(self, name: str) -> None:
        def remove(session: Session) -> None:
            dataset = find_dataset(session, name)
            dataset.current_release_id = None
            session.flush()
            session.delete(dataset)

        await self._db.run(remove)
