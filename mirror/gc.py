"""Garbage collection: delete objects that no retained release references, and the
folders of releases that are gone.

The store lists keys in order, so each dataset's objects come together. gc holds a
dataset's lease while it decides on that dataset's keys: a sync puts a file before it
records it, so a gc beside a running sync of the same dataset would delete its new
objects; with the lease, gc waits for the sync to finish (and a sync waits for gc).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Self

from catalog.leases import dataset_lease
from catalog.repository import Catalog
from catalog.store.base import ObjectInfo, Store


@dataclass(frozen=True, slots=True)
class GcResult:
    deleted: int
    kept: int


async def collect_garbage(
    catalog: Catalog,
    store: Store,
    *,
    dry_run: bool = False,
    on_wait: Callable[[str], None] | None = None,
) -> GcResult:
    deleted = kept = 0
    async with _Sweep(catalog, on_wait) as sweep:
        for folder in ("objects/", "releases/"):
            async for info in store.list(folder):
                if await sweep.retains(info):
                    kept += folder == "objects/"
                    continue
                deleted += 1
                if not dry_run:
                    await store.delete(info.key)
    return GcResult(deleted, kept)


class _Sweep:
    """Holds the lease of the dataset whose keys are being swept, one dataset at a time."""

    def __init__(self, catalog: Catalog, on_wait: Callable[[str], None] | None) -> None:
        self.catalog = catalog
        self.on_wait = on_wait
        self.dataset: str | None = None
        self.keys: set[str] = set()
        self.releases: set[str] = set()
        self._held = contextlib.AsyncExitStack()

    async def retains(self, info: ObjectInfo) -> bool:
        """objects/<dataset>/<release>/<path> or releases/<dataset>/<release>/<name>."""
        folder, dataset, release = [*info.key.split("/", 3), "", ""][:3]
        await self.enter(dataset)
        return info.key in self.keys if folder == "objects" else release in self.releases

    async def enter(self, dataset: str) -> None:
        if dataset == self.dataset:
            return
        await self._held.aclose()
        self._held = contextlib.AsyncExitStack()
        self.dataset = None
        await self._held.enter_async_context(
            self.catalog.leases.hold(dataset_lease(dataset), "gc", on_wait=self.on_wait)
        )
        self.dataset = dataset
        self.keys = await self.catalog.releases.retained_keys(dataset)
        self.releases = await self.catalog.releases.retained_names(dataset)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self._held.aclose()
