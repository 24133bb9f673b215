"""The server's read-only view of the catalog, cached so the hot path makes no DB round trip.

- Release indexes are immutable: loaded once per release (in a thread), kept in an LRU.
- `latest` and dataset metadata change when a release is published: they are cached for a
  short TTL, so a publish is visible within about `ttl` seconds; they are refreshed ahead of
  expiry in the background, so busy datasets never make a request wait on the database.
Concurrent requests for the same release share one load.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cachetools import LRUCache, TTLCache

from catalog.errors import NoReleaseError
from catalog.models import Dataset, Release
from catalog.repository import Catalog
from serve.release_index import ReleaseIndex

DEFAULT_TTL = 2.0
MAX_INDEXES = 16
MAX_DATASETS = 10_000
IndexKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    name: str
    url: str
    title: str | None
    description: str | None
    license: str | None
    restricted: bool
    current: str | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: Dataset) -> DatasetInfo:
        return cls(row.name, row.url, row.title, row.description, row.license, row.restricted,
                   row.current_release_name, row.created_at)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ReleaseInfo:
    name: str
    published_at: datetime | None
    file_count: int
    total_bytes: int


class CatalogView:
    def __init__(
        self,
        catalog: Catalog,
        *,
        ttl: float = DEFAULT_TTL,
        max_indexes: int = MAX_INDEXES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.catalog = catalog
        self.ttl = ttl
        self._clock = clock
        # name -> (when its load started, what it found). The hot path reads these caches by
        # item, not `.get`: a TTLCache's `get` costs several times its `[]`.
        self._datasets: TTLCache[str, tuple[float, DatasetInfo]] = TTLCache(
            MAX_DATASETS, ttl, timer=clock
        )
        self._dataset_loads: dict[str, asyncio.Task[DatasetInfo]] = {}
        self._indexes: LRUCache[IndexKey, ReleaseIndex] = LRUCache(max_indexes)
        self._loading: dict[IndexKey, asyncio.Future[ReleaseIndex]] = {}

    async def dataset(self, name: str) -> DatasetInfo:
        """A dataset's metadata and current release name, loaded at most `ttl` seconds ago.

        Past half its age an entry is refreshed in the background while requests are still
        answered from it, so a steady stream of requests never waits on the database; one
        load per name runs at a time and every request that needs it shares it.
        """
        try:
            started, info = self._datasets[name]
        except KeyError:
            pass
        else:
            if self._clock() - started >= self.ttl / 2 and name not in self._dataset_loads:
                self._start_dataset_load(name)
            return info
        load = self._dataset_loads.get(name) or self._start_dataset_load(name)
        return await asyncio.shield(load)

    def _start_dataset_load(self, name: str) -> asyncio.Task[DatasetInfo]:
        task = asyncio.create_task(self._fresh_dataset(name))
        self._dataset_loads[name] = task

        def done(finished: asyncio.Task[DatasetInfo]) -> None:
            if self._dataset_loads.get(name) is finished:
                del self._dataset_loads[name]
            if not finished.cancelled():
                finished.exception()  # marks it retrieved; the requests awaiting it re-raise it

        task.add_done_callback(done)
        return task

    async def _fresh_dataset(self, name: str) -> DatasetInfo:
        started = self._clock()
        info = DatasetInfo.from_row(await self.catalog.datasets.get(name))
        self._datasets[name] = (started, info)
        return info

    async def datasets(self) -> list[DatasetInfo]:
        rows = await self.catalog.datasets.list()
        return [await self.dataset(row.name) for row in rows]

    async def releases(self, dataset: str) -> list[ReleaseInfo]:
        """The published releases, newest first."""
        rows: list[Release] = await self.catalog.releases.list(dataset)
        published = [r for r in rows if r.published_at is not None and r.state == "published"]
        return [
            ReleaseInfo(r.name, r.published_at, r.file_count, r.total_bytes)
            for r in reversed(published)
        ]

    async def index(self, ds: DatasetInfo, release: str) -> ReleaseIndex:
        """The index of a published release of `ds`; `latest` is its current one (as of
        `ds`, which the caller has just looked up)."""
        name = release
        if release == "latest":
            if ds.current is None:
                raise NoReleaseError(ds.name)
            name = ds.current
        key = (ds.name, name)
        try:
            return self._indexes[key]
        except KeyError:
            pass
        return await self._shared_load(key, self._load_index(ds.name, name))

    async def _shared_load(
        self, key: IndexKey, load: Coroutine[Any, Any, ReleaseIndex]
    ) -> ReleaseIndex:
        pending = self._loading.get(key)
        if pending is not None:
            load.close()
            return await asyncio.shield(pending)
        future: asyncio.Future[ReleaseIndex] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            index = await load
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # marks it retrieved; waiters re-raise it themselves
            raise
        except BaseException:
            future.cancel()
            raise
        finally:
            self._loading.pop(key, None)
        future.set_result(index)
        self._indexes[key] = index
        return index

    async def _load_index(self, dataset: str, name: str) -> ReleaseIndex:
        release = await self.catalog.releases.get(dataset, name)
        entries = await self.catalog.releases.entries(release.id)
        return await asyncio.to_thread(
            ReleaseIndex.build, dataset, name, release.id, release.published_at, entries
        )
