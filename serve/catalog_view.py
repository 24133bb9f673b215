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
from datetime import UTC, datetime
from typing import Any

from cachetools import LRUCache, TTLCache

from catalog.errors import NoReleaseError
from catalog.models import Dataset, Release, ReleaseState, RunState, SyncRun
from catalog.repository import Catalog
from serve.release_index import ReleaseIndex

DEFAULT_TTL = 2.0
MAX_INDEXES = 16
MAX_DATASETS = 10_000
IndexKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    """A dataset's metadata, settings the server needs, and a summary of its current release
    (`updated`, `file_count`, `total_bytes`), loaded in one query. Hashable: pages key caches
    by it."""

    name: str
    url: str
    title: str | None
    description: str | None
    license: str | None
    restricted: bool
    current: str | None
    created_at: datetime
    homepage: str | None = None
    citation: str | None = None
    keywords: tuple[str, ...] = ()
    creators: tuple[str, ...] = ()
    publisher: str | None = None
    updated: datetime | None = None
    file_count: int = 0
    total_bytes: int = 0

    @classmethod
    def from_row(cls, row: Dataset) -> DatasetInfo:
        return cls(
            row.name, row.url, row.title, row.description, row.license, row.restricted,
            row.current_release_name, _aware(row.created_at), row.homepage, row.citation,
            tuple(row.keywords or ()), tuple(row.creators or ()), row.publisher,
            utc(row.current_release_published_at), row.current_release_files or 0,
            row.current_release_bytes or 0,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ReleaseInfo:
    """A published release and, when a sync made it, what its run's report says: the
    changes since the previous release (`added`, `changed`, `removed`) and its summary."""

    name: str
    published_at: datetime | None
    file_count: int
    total_bytes: int
    added: int | None = None
    changed: int | None = None
    removed: int | None = None
    report: str | None = None


def utc(when: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes, which are UTC already."""
    if when is None or when.tzinfo is not None:
        return when
    return when.replace(tzinfo=UTC)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _release_info(release: Release, run: SyncRun | None) -> ReleaseInfo:
    report: dict[str, Any] = (run.report if run is not None else None) or {}
    counts = [report.get(k) for k in ("new", "changed", "removed")]
    added, changed, removed = (c if isinstance(c, int) else None for c in counts)
    summary = report.get("summary")
    return ReleaseInfo(
        release.name, utc(release.published_at), release.file_count, release.total_bytes,
        added, changed, removed, summary if isinstance(summary, str) else None,
    )  # fmt: skip


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
        # (name, current release) -> its published releases; the reports of runs are
        # written just after a publish, hence a TTL rather than forever
        self._releases: TTLCache[tuple[str, str | None], list[ReleaseInfo]] = TTLCache(
            MAX_INDEXES * 16, ttl, timer=clock
        )
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
        """Every dataset, by name, in one query (which refreshes each one's cache entry)."""
        started = self._clock()
        infos = [DatasetInfo.from_row(row) for row in await self.catalog.datasets.list()]
        for info in infos:
            self._datasets[info.name] = (started, info)
        return infos

    async def releases(self, ds: DatasetInfo) -> list[ReleaseInfo]:
        """The published releases of `ds`, newest first, each with its sync report."""
        key = (ds.name, ds.current)
        try:
            return self._releases[key]
        except KeyError:
            pass
        rows: list[Release] = await self.catalog.releases.list(ds.name)
        runs: dict[int | None, SyncRun] = {
            run.release_id: run
            for run in await self.catalog.runs.list(ds.name)
            if run.state is RunState.SUCCEEDED
        }
        published = [r for r in rows if r.published_at and r.state is ReleaseState.PUBLISHED]
        infos = self._releases[key] = [
            _release_info(r, runs.get(r.id)) for r in reversed(published)
        ]
        return infos

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
