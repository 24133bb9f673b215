"""One sync run: list, plan against the current release, fetch, verify, publish.

A run builds a release in state `building`; a killed or failed run leaves it so, and the
next run resumes it (files already recorded are kept, landed parts are not fetched
again). Publishing flips the current release only after every file is verified.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from catalog.errors import (
    ChecksumMismatchError,
    DatamirrorError,
    EmptyListingError,
    SourceChangedError,
    StoreFullError,
    SyncAbortedError,
)
from catalog.layout import dataset_objects_prefix, object_key, unpublishable
from catalog.manifest import ManifestEntry
from catalog.models import Dataset, Release, RunState
from catalog.repository import Catalog
from catalog.store.base import Store, SupportsLocalPath
from mirror.bandwidth import TokenBucket
from mirror.budget import ByteBudget
from mirror.checksum_files import Digest, digests_from_file, find_checksum_files
from mirror.checksum_reading import MAX_CHECKSUM_FILE, checksum_file_too_large, read_bounded
from mirror.digests import xxh3_128_of
from mirror.plan import (
    Action,
    Plan,
    PlannedFile,
    check_deletions,
    holds_digest,
    make_plan,
    selected,
    with_rechecked,
)
from mirror.progress import Progress, QuietProgress
from mirror.publish import write_release_files
from mirror.report import FileError, SyncReport
from mirror.retry import RetryLog, RetryPolicy
from mirror.sources.base import ReportsSkipped, Skipped, Source, SourceEntry
from mirror.transfer import WHOLE_PART_COST, Fetched, TransferContext, entry_log, fetch_file

MiB = 1024 * 1024
MIN_S3_PART = 5 * MiB
DEFAULT_PART_SIZE = 2 * MiB
DEFAULT_PARALLEL = 64
DEFAULT_MEMORY = 48 * MiB
DEFAULT_RETRIES = 4
FILE_RETRIES = RetryPolicy(attempts=DEFAULT_RETRIES + 1, initial_wait=0.5, max_wait=10.0)


@dataclass(frozen=True, slots=True)
class SyncOptions:
    """`memory` is the byte budget every transfer of the sync shares (parts and small
    files in flight); `parallel` bounds the connections to the source."""

    part_size: int = DEFAULT_PART_SIZE
    parallel: int = DEFAULT_PARALLEL
    memory: int = DEFAULT_MEMORY
    bandwidth_limit: float | None = None
    max_delete: float | None = None
    keep: int | None = None
    checksums: str | None = None
    policy: RetryPolicy = FILE_RETRIES


@dataclass(frozen=True, slots=True)
class Outcome:
    fetched: tuple[Fetched, ...]
    errors: tuple[FileError, ...]


Fetcher = Callable[["TransferContext", Sequence[PlannedFile]], Awaitable[Outcome]]
"""How a run fetches the files it lacks: in this process (`fetch_all`), or fanned out as
jobs to a cluster's workers (`mirror.coordinator`)."""


async def run_sync(
    catalog: Catalog,
    store: Store,
    source: Source,
    name: str,
    options: SyncOptions = SyncOptions(),
    progress: Progress | None = None,
    *,
    fetch: Fetcher | None = None,
    job_id: int | None = None,
) -> SyncReport:
    """Sync dataset `name` from `source` into `store`; raise when nothing was published.

    A source that has not changed since the current release publishes no new release:
    the run is recorded, and its report says the current release is up to date. `fetch`
    replaces the in-process fetching; `job_id` is the queue's job that runs the sync.
    """
    started = time.monotonic()
    log = RetryLog()
    options = replace(options, policy=options.policy.counting(log))
    dataset = await catalog.datasets.get(name)
    resuming = await catalog.releases.building(name)
    if resuming is not None:
        await catalog.runs.abandon(resuming.id)
    run = await catalog.runs.start(name, resuming.id if resuming else None, job_id)
    report = SyncReport(name, resuming.name if resuming else None)
    try:
        planned = await plan_sync(catalog, source, dataset, options)
        if resuming is None and dataset.current_release_id is not None and planned.plan.up_to_date:
            current = await catalog.releases.current(name)
            report = make_report(name, current.name, planned, Outcome((), ()))
            report = replace(report, up_to_date=True)
        else:
            release = resuming if resuming is not None else await catalog.releases.new(name)
            await catalog.runs.attach(run.id, release.id)
            report = SyncReport(name, release.name)
            report = await _build(catalog, store, source, dataset, release, planned, options,
                                  progress, run.started_at, fetch)  # fmt: skip
            report = replace(report, retries=dict(log.counts),
                             whole_files=tuple(sorted(log.whole_files)))  # fmt: skip
            check_complete(replace(report, seconds=time.monotonic() - started))
            await catalog.releases.publish(release.id, options.keep or dataset.keep)
            report = replace(report, published=True)
        report = replace(report, seconds=time.monotonic() - started)
    except (DatamirrorError, OSError) as exc:
        report = replace(report, seconds=time.monotonic() - started)
        await catalog.runs.finish(run.id, RunState.FAILED, report.to_json(), str(exc))
        exc.add_note("\n".join(report.lines()))
        raise
    except (asyncio.CancelledError, KeyboardInterrupt):
        await asyncio.shield(
            catalog.runs.finish(run.id, RunState.FAILED, report.to_json(), "interrupted")
        )
        raise
    await catalog.runs.finish(run.id, RunState.SUCCEEDED, report.to_json())
    return report


def check_complete(report: SyncReport) -> None:
    if report.errors:
        raise SyncAbortedError(
            f"{report.failed} file(s) failed; release {report.release} was not published",
            hint=f"see the errors above; `datamirror sync {report.dataset}` again resumes it",
        )


def effective_part_size(store: Store, part_size: int, memory: int) -> int:
    """No larger than the byte budget can hold (a whole part sent to S3 costs twice its
    size); S3 multipart uploads reject parts under 5 MiB (but the last), files on disk
    do not."""
    if isinstance(store, SupportsLocalPath):
        return min(part_size, memory)
    return max(min(part_size, memory // WHOLE_PART_COST), MIN_S3_PART)


@dataclass(frozen=True, slots=True)
class Planned:
    listing: list[SourceEntry]
    plan: Plan
    checksum_files: ChecksumFiles
    skipped: tuple[Skipped, ...] = ()


async def plan_sync(
    catalog: Catalog, source: Source, dataset: Dataset, options: SyncOptions
) -> Planned:
    """List the source, read its checksum files, and plan against the current release;
    a listing that drops too much of it stops here."""
    listing, skipped = await list_source(source, dataset)
    mode = options.checksums or dataset.checksums
    checksum_files = await published_digests(source, listing, mode, options.policy)
    previous = await _previous_entries(catalog, dataset)
    plan = make_plan(listing, previous, checksum_files.digests)
    plan = with_rechecked(plan, checksum_files.held)
    max_delete = dataset.max_delete if options.max_delete is None else options.max_delete
    check_deletions(plan, len(previous), max_delete)
    return Planned(listing, plan, checksum_files, skipped)


async def _build(
    catalog: Catalog, store: Store, source: Source, dataset: Dataset, release: Release,
    planned: Planned, options: SyncOptions, progress: Progress | None, started: datetime,
    fetch: Fetcher | None = None,
) -> SyncReport:  # fmt: skip
    await _prepare_release(catalog, store, dataset.name, release.id, planned.plan)
    todo = await not_yet_landed(catalog, store, dataset.name, release, planned.plan)
    progress = progress or QuietProgress()
    progress.start(len(todo), sum(f.entry.size for f in todo))
    ctx = TransferContext(
        catalog, store, source, dataset.name, release.name, release.id,
        effective_part_size(store, options.part_size, options.memory),
        asyncio.Semaphore(options.parallel), ByteBudget(options.memory), progress,
        entries=entry_log(catalog, release.id),
        bucket=TokenBucket(options.bandwidth_limit) if options.bandwidth_limit else None,
        prefetched=planned.checksum_files.contents, policy=options.policy,
    )  # fmt: skip
    try:
        if fetch is None:
            outcome = await fetch_all(ctx, todo, options.policy, options.parallel * 4,
                                      stop_when_full=True)  # fmt: skip
        else:
            outcome = await fetch(ctx, todo)
    finally:
        progress.close()
        if ctx.entries is not None:
            await ctx.entries.flush()  # what landed stays recorded when the run fails
    if not outcome.errors:
        entries = await catalog.releases.entries(release.id)
        await write_release_files(store, dataset, release, entries, started)
        await store.flush()
    return make_report(dataset.name, release.name, planned, outcome)


async def list_source(
    source: Source, dataset: Dataset
) -> tuple[list[SourceEntry], tuple[Skipped, ...]]:
    """The files to mirror, and what the listing named that cannot be: a name that is no
    safe path is skipped (and reported), never rewritten, and the rest publishes."""
    entries: list[SourceEntry] = []
    skipped: list[Skipped] = []
    async for entry in source.list():
        if (reason := unpublishable(entry.path)) is None:
            entries.append(entry)
        else:
            skipped.append(Skipped(entry.path, reason))
    if isinstance(source, ReportsSkipped):
        skipped.extend(source.skipped)
    chosen = selected(entries, dataset.include, dataset.exclude)
    if not chosen:
        raise EmptyListingError(source.url)
    return chosen, tuple(sorted(set(skipped), key=lambda s: (s.path, s.reason)))


@dataclass(frozen=True, slots=True)
class ChecksumFiles:
    """What the source's checksum files say: `digests` by dataset path; the bytes read
    (`contents`, stored as they are instead of being fetched again) and their xxh3-128
    (`held`: a listing's dates are too coarse to tell that they changed)."""

    digests: dict[str, Digest] = field(default_factory=dict)
    held: dict[str, str] = field(default_factory=dict)
    contents: dict[str, bytes] = field(default_factory=dict)


async def published_digests(
    source: Source, listing: Sequence[SourceEntry], mode: str, policy: RetryPolicy
) -> ChecksumFiles:
    """Read the checksum files the listing holds (`auto`), or the one named."""
    found = ChecksumFiles()
    if mode == "none":
        return found
    paths = find_checksum_files(e.path for e in listing) if mode == "auto" else [mode]

    sizes = {e.path: e.size for e in listing}

    async def read(path: str) -> bytes:
        if sizes.get(path, 0) > MAX_CHECKSUM_FILE:
            raise checksum_file_too_large(path)
        async for attempt in policy.retrying():
            with attempt:
                return await read_bounded(source, path)
        raise AssertionError("unreachable")  # pragma: no cover

    for path, raw in zip(paths, await asyncio.gather(*(read(p) for p in paths)), strict=True):
        found.digests.update(digests_from_file(path, raw.decode("utf-8", errors="replace")))
        found.held[path] = xxh3_128_of([raw])
        found.contents[path] = raw
    for entry in listing:
        if entry.md5 and entry.path not in found.digests:
            found.digests[entry.path] = Digest("md5", entry.md5)
    return found


async def _previous_entries(catalog: Catalog, dataset: Dataset) -> dict[str, ManifestEntry]:
    if dataset.current_release_id is None:
        return {}
    return {e.path: e for e in await catalog.releases.entries(dataset.current_release_id)}


async def _prepare_release(
    catalog: Catalog, store: Store, name: str, release_id: int, plan: Plan
) -> None:
    """Forget what the listing no longer has, reuse unchanged objects, drop stale uploads."""
    paths = {f.entry.path for f in plan.files}
    await catalog.releases.remove_entries(release_id, paths)
    reused = [f.previous for f in plan.files if f.action is Action.UNCHANGED and f.previous]
    await catalog.releases.add_entries(release_id, reused)
    keep = await catalog.transfers.open_upload_ids(release_id)
    await store.abort_stale_uploads(dataset_objects_prefix(name), keep)


async def not_yet_landed(
    catalog: Catalog, store: Store, dataset: str, release: Release, plan: Plan
) -> list[PlannedFile]:
    """Files to fetch, less those a previous run of this release already recorded."""
    recorded = await catalog.releases.entries(release.id)
    landed = {e.path: e for e in await still_stored(store, dataset, release.name, recorded)}

    def done(planned: PlannedFile) -> bool:
        entry = landed.get(planned.entry.path)
        if entry is None or entry.size != planned.entry.size:
            return False
        if entry.source_etag != planned.entry.version:
            return False
        return holds_digest(entry, planned.expected)

    return [f for f in plan.to_fetch if not done(f)]


async def still_stored(
    store: Store, dataset: str, release: str, recorded: Sequence[ManifestEntry]
) -> list[ManifestEntry]:
    """The recorded entries whose objects the store holds at their size. Objects this
    release wrote are durable only once it publishes (`Store.flush`), so a power cut can
    lose what an earlier run of it recorded; one listing of its folder tells."""
    own = object_key(dataset, release, "")
    if not any(e.key.startswith(own) for e in recorded):
        return list(recorded)
    sizes = {info.key: info.size async for info in store.list(own)}
    return [e for e in recorded if not e.key.startswith(own) or sizes.get(e.key) == e.size]


async def fetch_all(
    ctx: TransferContext, files: Iterable[PlannedFile], policy: RetryPolicy, in_flight: int,
    *, stop_when_full: bool = False,
) -> Outcome:  # fmt: skip
    """Every file, each retried; one that fails is an error of the outcome. With
    `stop_when_full` a full store raises at once: every other file would be fetched only
    to fail the same way (a cluster's batch records its files' errors instead)."""
    gate = asyncio.Semaphore(in_flight)
    fetched: list[Fetched] = []
    errors: list[FileError] = []

    async def one(planned: PlannedFile) -> None:
        async with gate:
            try:
                fetched.append(await fetch_with_retries(ctx, planned, policy))
            except StoreFullError as exc:
                if stop_when_full:
                    raise
                errors.append(file_error(planned.entry.path, exc))
            except (DatamirrorError, OSError) as exc:
                errors.append(file_error(planned.entry.path, exc))

    try:
        async with asyncio.TaskGroup() as group:
            for planned in files:
                group.create_task(one(planned))
    except* StoreFullError as full:
        raise full.exceptions[0] from None
    return Outcome(tuple(fetched), tuple(sorted(errors, key=lambda e: e.path)))


async def fetch_with_retries(
    ctx: TransferContext, planned: PlannedFile, policy: RetryPolicy
) -> Fetched:
    """One file, retried (bounded) on transient errors and digest mismatches."""
    async for attempt in policy.retrying():
        with attempt:
            try:
                return await fetch_file(ctx, planned)
            except SourceChangedError:
                planned = replace(planned, entry=await ctx.source.stat(planned.entry.path))
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def file_error(path: str, exc: BaseException) -> FileError:
    if isinstance(exc, ChecksumMismatchError):
        return FileError(path, str(exc), exc.expected, exc.actual, exc.algorithm)
    return FileError(path, str(exc) or type(exc).__name__)


def make_report(dataset: str, release: str, planned: Planned, outcome: Outcome) -> SyncReport:
    plan, listing = planned.plan, planned.listing
    return SyncReport(
        dataset=dataset,
        release=release,
        new=plan.count(Action.NEW),
        changed=plan.count(Action.CHANGED),
        unchanged=plan.count(Action.UNCHANGED),
        removed=len(plan.removed),
        failed=len(outcome.errors),
        resumed=sum(1 for f in outcome.fetched if f.resumed),
        bytes_transferred=sum(f.transferred for f in outcome.fetched),
        total_bytes=sum(e.size for e in listing),
        errors=outcome.errors,
        skipped=planned.skipped,
    )
