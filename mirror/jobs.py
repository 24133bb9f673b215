"""The jobs: sync, verify and gc, as plain coroutines over a `Runtime`.

The CLI calls them in-process on the embedded default; the job queue's workers call the
very same functions in a cluster. A sync holds its dataset's lease for as long as it runs,
so two syncs of one dataset, or a sync and a gc, never overlap.
"""

from __future__ import annotations

from collections.abc import Callable

from catalog.leases import dataset_lease
from catalog.runtime import Runtime
from mirror.gc import GcResult, collect_garbage
from mirror.progress import Progress
from mirror.report import SyncReport
from mirror.sources.factory import open_source
from mirror.sync import Fetcher, SyncOptions, run_sync
from mirror.verify import verify_release

Notify = Callable[[str], None]


async def sync(
    runtime: Runtime,
    dataset: str,
    options: SyncOptions | None = None,
    progress: Progress | None = None,
    *,
    on_wait: Notify | None = None,
    fetch: Fetcher | None = None,
    job_id: int | None = None,
) -> SyncReport:
    """Mirror `dataset` into a new release and publish it (see `mirror.sync.run_sync`).
    In a cluster, the queue's sync job passes `fetch` (its files go out as jobs to the
    workers, `mirror.coordinator`) and its `job_id`."""
    found = await runtime.catalog.datasets.get(dataset)
    async with runtime.catalog.leases.hold(dataset_lease(dataset), "sync", on_wait=on_wait):
        source = open_source(found.url, found.options, settings=runtime.settings)
        try:
            return await run_sync(runtime.catalog, runtime.store, source, dataset,
                                  options or SyncOptions(), progress, fetch=fetch,
                                  job_id=job_id)  # fmt: skip
        finally:
            await source.close()


async def verify(runtime: Runtime, dataset: str, release: str = "latest") -> list[str]:
    """Re-read the release's objects; what is wrong with them (nothing: empty)."""
    return await verify_release(runtime.catalog, runtime.store, dataset, release)


async def gc(runtime: Runtime, *, dry_run: bool = False, on_wait: Notify | None = None) -> GcResult:
    """Delete the objects and release folders no retained release needs."""
    return await collect_garbage(runtime.catalog, runtime.store, dry_run=dry_run, on_wait=on_wait)
