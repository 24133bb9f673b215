"""Fetch one file from a source into the store, hashed as it streams.

Files up to the part size go in one `put`. Larger files are fetched as parallel ranged
reads into a chunked upload; each landed part is hashed (xxh3-128) and committed to the
catalog, so a killed run's successor fetches only the parts that never landed. The
whole-file digests of a chunked file are computed in file order while the parts stream in
(`OrderedHasher`); only a resumed file, whose earlier parts are not in memory, is read back.
A transfer that breaks off mid-body (a part, or a small file) is asked for again from its
last good byte; a file whose server keeps ignoring Range is fetched as one stream
(`whole_stream`).

Memory is bounded by the sync's byte budget: a part holds its length of it from before its
first byte arrives until its bytes are hashed and stored (a part written at its offset gets
it back chunk by chunk as the hasher passes); a small file holds its size.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

from catalog.errors import (
    ChecksumMismatchError,
    ObjectNotFoundError,
    SourceChangedError,
    SourceError,
)
from catalog.layout import object_key
from catalog.manifest import ManifestEntry
from catalog.repository import Catalog
from catalog.store.base import ByteRange, PartWriter, Store, SupportsWriteAt
from catalog.transfers import LandedRecord, TransferState
from mirror.bandwidth import TokenBucket
from mirror.batched import Batched
from mirror.budget import ByteBudget
from mirror.digests import FileDigests
from mirror.ordered_hash import OrderedHasher
from mirror.plan import PlannedFile, part_ranges
from mirror.progress import Progress
from mirror.repair import repair_parts
from mirror.retry import DEFAULT_POLICY, IGNORED_RANGE, RetryPolicy
from mirror.sources.base import Source, SourceEntry
from mirror.whole_stream import IGNORED_IN_A_ROW, RangesIgnoredError, WholeStream

READ_BACK_CHUNK = 1024 * 1024
WHOLE_PART_COST = 2


@dataclass(frozen=True, slots=True)
class TransferContext:
    """What every file transfer of one sync shares."""

    catalog: Catalog
    store: Store
    source: Source
    dataset: str
    release: str
    release_id: int
    part_size: int
    slots: asyncio.Semaphore
    budget: ByteBudget
    progress: Progress
    entries: Batched[ManifestEntry] | None = None
    bucket: TokenBucket | None = None
    prefetched: Mapping[str, bytes] = field(default_factory=dict)
    policy: RetryPolicy = DEFAULT_POLICY

    async def received(self, nbytes: int) -> None:
        if self.bucket is not None:
            await self.bucket.take(nbytes)
        self.progress.advance(nbytes)


@dataclass(frozen=True, slots=True)
class Fetched:
    entry: ManifestEntry
    transferred: int
    resumed: bool = False


async def fetch_file(ctx: TransferContext, planned: PlannedFile) -> Fetched:
    """Fetch, hash, check against the published digest, and record the file's entry."""
    entry = planned.entry
    key = object_key(ctx.dataset, ctx.release, entry.path)
    algorithms = (planned.expected.algorithm,) if planned.expected else ()
    digests = FileDigests(algorithms)
    if entry.size <= ctx.part_size:
        transferred, resumed = await fetch_whole(ctx, entry, key, digests), False
    else:
        transferred, resumed, digests = await fetch_parts(ctx, planned, key, digests)
    if digests.finish_blocks:
        await asyncio.to_thread(digests.finish)
    else:
        digests.finish()
    try:
        digests.check(entry.path, planned.expected)
    except ChecksumMismatchError:
        await ctx.catalog.transfers.finish(ctx.release_id, entry.path)
        raise
    known = digests.hexdigests()
    manifest_entry = ManifestEntry(
        path=entry.path, key=key, size=entry.size, xxh3_128=digests.xxh3_128,
        mtime=entry.mtime, md5=known.pop("md5", None), sha256=known.pop("sha256", None),
        source_etag=entry.version, other_digests=known,
    )  # fmt: skip
    if entry.size <= ctx.part_size and ctx.entries is not None:
        await ctx.entries.add(manifest_entry)
    else:
        await ctx.catalog.releases.add_entries(ctx.release_id, [manifest_entry])
        await ctx.catalog.transfers.finish(ctx.release_id, entry.path)
    ctx.progress.file_done()
    return Fetched(manifest_entry, transferred, resumed)


async def fetch_whole(
    ctx: TransferContext, entry: SourceEntry, key: str, digests: FileDigests
) -> int:
    """A small file: read it whole (its size held from the budget), then one put. A file
    read while planning (a checksum file) is stored from those bytes."""
    async with ctx.budget.hold(entry.size):
        data = ctx.prefetched.get(entry.path)
        if data is None or len(data) != entry.size:
            data = await read_whole(ctx, entry)
        else:
            ctx.progress.advance(len(data))
        check_length(ctx.source.url, entry.path, len(data), entry.size)
        await digests.update_async([data])
        await ctx.store.put(key, data)
    return len(data)


async def read_whole(ctx: TransferContext, entry: SourceEntry) -> bytes:
    chunks: list[bytes] = []
    async with ctx.slots:
        span = ByteRange(0, entry.size)
        async for chunk in read_resuming(ctx.source, entry, span, ctx.policy):
            chunks.append(chunk)
            await ctx.received(len(chunk))
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def fetch_parts(
    ctx: TransferContext, planned: PlannedFile, key: str, digests: FileDigests
) -> tuple[int, bool, FileDigests]:
    """A large file: the parts not landed yet, in parallel, then complete the upload. A
    file fetched whole in this run whose published digest disagrees has its wrong parts
    repaired first (`repair`); its digests are then those of the repaired bytes."""
    entry = planned.entry
    writer, state = await open_writer(ctx, entry, key)
    ranges = part_ranges(entry.size, state.part_size)
    missing = [(n, r) for n, r in enumerate(ranges, start=1) if n not in state.landed]
    resumed = bool(state.landed)
    recorded: dict[int, str] = {}
    log = part_log(ctx.catalog, state.id, recorded)
    whole = ctx.policy.log is not None and entry.path in ctx.policy.log.whole_files
    try:
        hasher = OrderedHasher(len(missing), None if resumed else digests, ctx.budget)
        async with hasher, asyncio.TaskGroup() as group:
            if whole:  # parts in file order from one stream of the whole file
                group.create_task(fetch_in_order(ctx, writer, entry, hasher, log, missing))
            for index, (number, span) in enumerate([] if whole else missing):
                part = Part(index, number, span)
                group.create_task(fetch_part(ctx, writer, entry, hasher, log, part))
    except ExceptionGroup as failures:
        await log.flush()
        first = failures.exceptions[0]
        if isinstance(first, SourceChangedError):
            await writer.abort()
            await ctx.catalog.transfers.finish(ctx.release_id, entry.path)
        raise first from None
    await log.flush()
    if not resumed and planned.expected is not None:
        digests = await repaired(ctx, planned, writer, missing, recorded, digests)
    await writer.complete()
    if resumed:
        await read_back(ctx.store, key, entry, digests)
    return sum(r.length for _, r in missing), resumed, digests


async def repaired(
    ctx: TransferContext, planned: PlannedFile, writer: PartWriter,
    parts: list[tuple[int, ByteRange]], recorded: dict[int, str], digests: FileDigests,
) -> FileDigests:  # fmt: skip
    """`digests` when they match the published digest, else those of the repaired parts;
    a file that cannot be repaired raises the mismatch (its transfer starts again)."""
    entry, expected = planned.entry, planned.expected
    assert expected is not None
    await asyncio.to_thread(digests.finish)
    try:
        digests.check(entry.path, expected)
        return digests
    except ChecksumMismatchError as exc:

        async def read(span: ByteRange) -> bytes:
            stream = read_resuming(ctx.source, entry, span, ctx.policy)
            return b"".join([chunk async for chunk in stream])

        async with ctx.slots, ctx.budget.hold(WHOLE_PART_COST * ctx.part_size):
            fixed = await repair_parts(read, writer, parts, recorded, (expected.algorithm,))
        if fixed is None:
            await writer.abort()
            raise
        if ctx.policy.log is not None:
            ctx.policy.log.record(exc)
        return fixed


async def fetch_in_order(
    ctx: TransferContext, writer: PartWriter, entry: SourceEntry, hasher: OrderedHasher,
    log: Batched[LandedRecord], missing: list[tuple[int, ByteRange]],
) -> None:  # fmt: skip
    """The parts one after another, read from one whole-file stream."""
    stream = WholeStream(ctx.source, entry)
    whole = replace(ctx, source=stream)
    try:
        for index, (number, span) in enumerate(missing):
            await fetch_part(whole, writer, entry, hasher, log, Part(index, number, span))
    finally:
        await stream.close()


async def open_writer(
    ctx: TransferContext, entry: SourceEntry, key: str
) -> tuple[PartWriter, TransferState]:
    """Reopen this file's unfinished upload when its source version is unchanged."""
    state = await ctx.catalog.transfers.get(ctx.release_id, entry.path)
    if state is not None and state.upload_id:
        same = state.version == entry.version and state.size == entry.size
        try:
            writer = await ctx.store.resume_upload(state.key, state.upload_id, state.part_size)
        except ObjectNotFoundError:
            pass
        else:
            if same and state.key == key:
                return writer, state
            await writer.abort()
    writer = await ctx.store.start_upload(key, ctx.part_size)
    state = await ctx.catalog.transfers.start(
        ctx.release_id, entry.path, key, entry.size, ctx.part_size, entry.version,
        writer.upload_id,
    )  # fmt: skip
    return writer, state


def entry_log(catalog: Catalog, release_id: int) -> Batched[ManifestEntry]:
    """Fetched small files' entries, committed in batches bounded by time and bytes."""
    return Batched(
        lambda batch: catalog.releases.add_entries(release_id, batch), size=lambda e: e.size
    )


def part_log(
    catalog: Catalog, transfer_id: int, digests: dict[int, str] | None = None
) -> Batched[LandedRecord]:
    """Landed parts, committed in batches bounded by time and by the bytes they stand for
    (their xxh3-128 kept in `digests` by number)."""

    async def commit(batch: Sequence[LandedRecord]) -> None:
        if digests is not None:
            digests.update((number, digest) for number, _, _, digest in batch)
        await catalog.transfers.add_parts(transfer_id, batch)

    return Batched(commit, size=lambda part: part[2])


@dataclass(frozen=True, slots=True)
class Part:
    """Part `number` of the upload, the `index`-th this attempt fetches, covering `span`."""

    index: int
    number: int
    span: ByteRange


async def fetch_part(
    ctx: TransferContext, writer: PartWriter, entry: SourceEntry, hasher: OrderedHasher,
    log: Batched[LandedRecord], part: Part,
) -> None:  # fmt: skip
    """One part: its bytes held from the budget until they are hashed and stored."""
    if isinstance(writer, SupportsWriteAt):
        hasher.lend(part.index, await ctx.budget.acquire(part.span.length))
        try:
            await stream_part(ctx, writer, entry, hasher, part)
            digest = await hasher.part_digest(part.index)
        finally:
            hasher.forfeit(part.index)
    else:
        # The store's client copies what it sends (measured: RSS grows by twice the part
        # size per part in flight into S3), so a whole part costs twice its length.
        async with ctx.budget.hold(WHOLE_PART_COST * part.span.length):
            buffer = await buffer_part(ctx, entry, hasher, part)
            digest, _ = await asyncio.gather(
                hasher.part_digest(part.index), writer.write_part(part.number, buffer)
            )
    await log.add((part.number, part.span.start, part.span.length, digest))


async def stream_part(
    ctx: TransferContext, writer: SupportsWriteAt, entry: SourceEntry, hasher: OrderedHasher,
    part: Part,
) -> None:  # fmt: skip
    """Write each chunk at its offset as it arrives (the store takes any offset)."""
    span = part.span
    offset = span.start
    async with ctx.slots:
        async for chunk in read_resuming(ctx.source, entry, span, ctx.policy):
            check_length(ctx.source.url, entry.path, offset + len(chunk) - span.start,
                         span.length, partial=True)  # fmt: skip
            await writer.write_at(offset, chunk)
            hasher.submit(part.index, chunk)
            await ctx.received(len(chunk))
            offset += len(chunk)
    check_length(ctx.source.url, entry.path, offset - span.start, span.length)
    hasher.part_done(part.index)


async def buffer_part(
    ctx: TransferContext, entry: SourceEntry, hasher: OrderedHasher, part: Part
) -> bytes:
    """The part as one `bytes` (the store takes whole parts, and copies anything else)."""
    span = part.span
    chunks: list[bytes] = []
    filled = 0
    async with ctx.slots:
        async for chunk in read_resuming(ctx.source, entry, span, ctx.policy):
            filled += len(chunk)
            check_length(ctx.source.url, entry.path, filled, span.length, partial=True)
            chunks.append(chunk)
            await ctx.received(len(chunk))
    check_length(ctx.source.url, entry.path, filled, span.length)
    data = b"".join(chunks)
    del chunks
    hasher.submit(part.index, data)
    hasher.part_done(part.index)
    return data


async def read_resuming(
    source: Source, entry: SourceEntry, span: ByteRange, policy: RetryPolicy
) -> AsyncIterator[bytes]:
    """The bytes of `span`. A transfer that breaks off (a reset connection, a truncated
    body) is asked for again from the last good byte, with the policy's backoff and bounds;
    a file that changed is not resumed (the caller restarts it). A whole file is asked for
    without a Range first."""
    position, failures, started = span.start, 0, time.monotonic()
    whole = span.start == 0 and span.end == entry.size
    while True:
        asked = None if whole and position == 0 else ByteRange(position, span.end)
        try:
            async for chunk in source.read(entry.path, asked, version=entry.version):
                position += len(chunk)
                yield chunk
            if policy.log is not None:
                policy.log.ignored.pop(entry.path, None)
            return
        except SourceError as exc:
            failures += 1
            elapsed = time.monotonic() - started
            if exc.fault == IGNORED_RANGE:
                keeps_ignoring(policy, entry, exc)
            if isinstance(exc, SourceChangedError) or policy.gives_up(exc, failures, elapsed):
                raise
            await asyncio.sleep(policy.delay(exc, failures))


def keeps_ignoring(policy: RetryPolicy, entry: SourceEntry, error: SourceError) -> None:
    """Count an ignored Range for the file; after a few in a row, it is fetched as one
    stream from now on (RangesIgnoredError makes its file start again so)."""
    log = policy.log
    if log is None or isinstance(error, RangesIgnoredError):
        return
    log.ignored[entry.path] += 1
    if log.ignored[entry.path] >= IGNORED_IN_A_ROW or entry.path in log.whole_files:
        log.whole_files.add(entry.path)
        raise RangesIgnoredError(error.url) from error


async def read_back(store: Store, key: str, entry: SourceEntry, digests: FileDigests) -> None:
    """Hash the completed object in order, reading it back from the store (resumed files)."""
    size = 0
    async for chunk in store.stream(key, chunk_size=READ_BACK_CHUNK):
        size += len(chunk)
        await asyncio.to_thread(digests.update, chunk)
    check_length(store.url, entry.path, size, entry.size)


def check_length(url: str, path: str, got: int, want: int, *, partial: bool = False) -> None:
    """More bytes than listed (or, once done, fewer) means the file changed under us."""
    if got > want or (not partial and got != want):
        raise SourceChangedError(f"{url.rstrip('/')}/{path}", f"{got} bytes where {want} listed")
