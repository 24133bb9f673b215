"""The jobs a fanned-out sync is made of, as plain coroutines over a `Runtime`: a batch of
files, and a run of parts of one split file. Each writes into the building release as a
sync in one process does (the same transfer functions), records what it did for the
coordinating job (`catalog.batches`), and may run again after its worker died: what the
catalog already records (files, landed parts) is not fetched again.

Connections to the source host come from the cluster-wide slots (`catalog.slots`),
taken before the first request and given back when the job ends. A job stopped by its
worker's shutdown commits the parts and files that landed before it lets go.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from catalog.batches import Outcome
from catalog.errors import DatamirrorError
from catalog.manifest import ManifestEntry
from catalog.models import Dataset, ReleaseState
from catalog.runtime import Runtime
from mirror.budget import ByteBudget
from mirror.fanout import files_from_text, options_from_json, planned_from_json
from mirror.ordered_hash import OrderedHasher
from mirror.plan import PlannedFile, part_ranges
from mirror.progress import Progress, QuietProgress
from mirror.report import FileError
from mirror.retry import RetryLog
from mirror.sources.factory import open_source
from mirror.sync import SyncOptions, effective_part_size, fetch_all, file_error
from mirror.transfer import Part, TransferContext, entry_log, fetch_part, part_log


def source_host(url: str) -> str:
    """The key of a source's connection slots: its host and port, as one client sees it."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{parts.port or ''}"


def connection_cap(dataset: Dataset, options: SyncOptions) -> int:
    """The cluster-wide cap of connections to the dataset's source host: its
    `connections` option, else the sync's `--parallel`."""
    return max(1, int(dataset.options.get("connections") or options.parallel))


@dataclass(frozen=True, slots=True)
class JobTarget:
    """What every job of a fanned-out sync names: the dataset and its building release."""

    dataset: str
    release_id: int
    release: str
    batch: int
    share: int


async def run_batch(
    runtime: Runtime, target: JobTarget, files: str,
    options: Mapping[str, Any], progress: Progress | None = None,
) -> Outcome | None:  # fmt: skip
    """Fetch a batch of files (`mirror.fanout.files_to_text`) into the release; None when
    the release is no longer building (its sync was given up)."""
    catalog = runtime.catalog
    if not await _still_building(runtime, target):
        return None
    sync_options, _ = options_from_json(options)
    planned = files_from_text(files)
    paths = [p.entry.path for p in planned]
    recorded = {e.path: e for e in await catalog.releases.entries_at(target.release_id, paths)}
    todo = [p for p in planned if not _recorded(p, recorded.get(p.entry.path))]
    if not todo:
        return await _record(runtime, target, Outcome(target.batch))
    dataset = await catalog.datasets.get(target.dataset)
    part_size = effective_part_size(runtime.store, sync_options.part_size, sync_options.memory)
    opened = _context(runtime, dataset, target, sync_options, part_size, len(todo), progress)
    async with opened as (ctx, held):
        entries = ctx.entries
        assert entries is not None
        try:
            result = await fetch_all(ctx, todo, sync_options.policy, held * 4)
        finally:
            await asyncio.shield(entries.flush())
    outcome = Outcome(
        target.batch, len(result.fetched), sum(f.transferred for f in result.fetched),
        sum(1 for f in result.fetched if f.resumed), tuple(_error_json(e) for e in result.errors),
        _retries(ctx),
    )  # fmt: skip
    return await _record(runtime, target, outcome)


async def run_parts(
    runtime: Runtime, target: JobTarget, file: Mapping[str, Any], parts: Sequence[int],
    options: Mapping[str, Any], progress: Progress | None = None,
) -> Outcome | None:  # fmt: skip
    """Fetch parts `parts` of a split file into its upload (which the coordinating job
    opened and recorded); every landed part is committed as it lands, and at the latest
    when the job stops."""
    catalog = runtime.catalog
    if not await _still_building(runtime, target):
        return None
    sync_options, _ = options_from_json(options)
    planned = planned_from_json(file)
    entry = planned.entry
    state = await catalog.transfers.get(target.release_id, entry.path)
    if state is None or not state.upload_id or state.version != entry.version:
        error = FileError(entry.path, "its upload was started again; these parts are moot")
        return await _record(runtime, target, Outcome(target.batch, errors=(_error_json(error),)))
    spans = part_ranges(entry.size, state.part_size)
    todo = [n for n in parts if n not in state.landed]
    writer = await runtime.store.resume_upload(state.key, state.upload_id, state.part_size)
    dataset = await catalog.datasets.get(target.dataset)
    errors: tuple[dict[str, Any], ...] = ()
    opened = _context(runtime, dataset, target, sync_options, state.part_size, len(todo), progress)
    async with opened as (ctx, _held):
        log = part_log(catalog, state.id)
        try:
            hasher = OrderedHasher(len(todo), None, ctx.budget)
            async with hasher, asyncio.TaskGroup() as group:
                for index, number in enumerate(todo):
                    part = Part(index, number, spans[number - 1])
                    group.create_task(fetch_part(ctx, writer, entry, hasher, log, part))
        except* (DatamirrorError, OSError) as failures:
            errors = (_error_json(file_error(entry.path, failures.exceptions[0])),)
        finally:
            await asyncio.shield(log.flush())
        retries = _retries(ctx)
    moved = sum(spans[n - 1].length for n in todo) if not errors else 0
    return await _record(runtime, target, Outcome(target.batch, 0, moved, 0, errors, retries))


@contextlib.asynccontextmanager
async def _context(
    runtime: Runtime, dataset: Dataset, target: JobTarget, options: SyncOptions,
    part_size: int, work: int, progress: Progress | None,
) -> AsyncIterator[tuple[TransferContext, int]]:  # fmt: skip
    """The source opened, the job's share of the host's connection slots held, and the
    context every transfer of the job shares (with the number of slots held)."""
    catalog = runtime.catalog
    source = open_source(dataset.url, dataset.options, settings=runtime.settings)
    cap = connection_cap(dataset, options)
    try:
        host = source_host(dataset.url)
        async with catalog.slots.hold(host, cap, max(1, min(target.share, work))) as held:
            yield TransferContext(
                catalog, runtime.store, source, target.dataset, target.release,
                target.release_id, part_size, asyncio.Semaphore(held),
                ByteBudget(options.memory), progress or QuietProgress(),
                entries=entry_log(catalog, target.release_id),
                policy=options.policy.counting(RetryLog()),
            ), held  # fmt: skip
    finally:
        await source.close()


async def _still_building(runtime: Runtime, target: JobTarget) -> bool:
    release = await runtime.catalog.releases.by_id(target.release_id)
    return release is not None and release.state is ReleaseState.BUILDING


def _recorded(planned: PlannedFile, entry: ManifestEntry | None) -> bool:
    return (
        entry is not None
        and entry.size == planned.entry.size
        and entry.source_etag == planned.entry.version
    )


def _retries(ctx: TransferContext) -> dict[str, int]:
    return dict(ctx.policy.log.counts) if ctx.policy.log is not None else {}


def _error_json(error: FileError) -> dict[str, Any]:
    return {k: v for k, v in asdict(error).items() if v is not None}


async def _record(runtime: Runtime, target: JobTarget, outcome: Outcome) -> Outcome:
    await runtime.catalog.batches.record(target.release_id, outcome)
    return outcome
