"""The coordinating job of a fanned-out sync: the `Fetcher` that `mirror.sync.run_sync`
calls instead of fetching in its own process.

It runs inside the sync job, so the dataset's lease is held (and renewed) throughout,
and the run's listing, planning, report and publishing are those of a sync in one
process. Its part: store the checksum files it read while planning; open the upload of
each split file; defer the batch and part-range jobs the release still lacks (a
coordinator that resumes after its worker died first waits for the jobs still queued
or running, and defers only what none of them covers); follow them, keeping the run's
progress; complete each split file once all its parts landed, reading it back for its
published digest; and make the run's outcome from what the jobs recorded. What is
still missing after a round (a job that died, a part that failed, a split file whose
digest disagreed) goes out once more; then it fails the release like any file error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from catalog.errors import ChecksumMismatchError, DatamirrorError, ObjectNotFoundError
from catalog.layout import object_key
from catalog.manifest import ManifestEntry
from catalog.queue import BATCH, FETCH_QUEUE, PARTS, JobInfo, JobQueue
from catalog.runtime import Runtime
from mirror.batch_jobs import JobTarget
from mirror.digests import FileDigests
from mirror.fanout import (
    FanOutOptions,
    files_from_text,
    files_to_text,
    is_split,
    make_batches,
    make_part_runs,
    planned_to_json,
)
from mirror.plan import PlannedFile, part_ranges
from mirror.report import FileError
from mirror.sync import Outcome, fetch_all, file_error
from mirror.transfer import Fetched, TransferContext, open_writer, read_back

log = logging.getLogger(__name__)
ROUNDS = 2
POLL_SECONDS = 0.1
PROGRESS_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Coordination:
    """What the coordinating job knows beyond the transfer context: the queue, its own
    job, the options its jobs carry, and how many connections each job may ask for."""

    runtime: Runtime
    queue: JobQueue
    job_id: int
    options: dict[str, Any]
    fan_out: FanOutOptions
    workers: int
    share: int
    user_abort: Callable[[], bool] = lambda: False
    poll: float = POLL_SECONDS


async def coordinate(
    coord: Coordination, ctx: TransferContext, todo: Sequence[PlannedFile]
) -> Outcome:
    """Fetch `todo` through the queue's workers; what landed and what failed."""
    prefetched = [f for f in todo if f.entry.path in ctx.prefetched]
    local = await fetch_all(ctx, prefetched, ctx.policy, 8) if prefetched else Outcome((), ())
    if ctx.entries is not None:
        await ctx.entries.flush()
    rest = [f for f in todo if f.entry.path not in ctx.prefetched]
    follower = _Follower(coord, ctx, rest)
    import time as _t

    log.warning("T coordinate start %.3f", _t.time())
    try:
        errors: dict[str, FileError] = {}
        for _round in range(ROUNDS):
            await follower.defer_missing(errors)
            await follower.wait()
            errors, recorded = await follower.settle()
            if not follower.missing_of(recorded, errors):
                break
    except asyncio.CancelledError:
        if coord.user_abort():
            await _cancel_pending(coord.queue, ctx.release_id)
        raise
    await follower.note_progress(0)
    fetched, failed = await follower.outcome(errors, recorded)
    return Outcome(local.fetched + fetched, tuple(sorted(local.errors + failed, key=_path)))


def _path(error: FileError) -> str:
    return error.path


class _Follower:
    """The state of one coordination: the files it must land and where they stand."""

    def __init__(
        self, coord: Coordination, ctx: TransferContext, files: Sequence[PlannedFile]
    ) -> None:
        self.coord = coord
        self.ctx = ctx
        self.files = {f.entry.path: f for f in files}
        self.split = {p for p, f in self.files.items() if is_split(f, coord.fan_out, ctx.part_size)}
        self.resumed: set[str] = set()
        self.numbers: list[int] = []
        self.start: tuple[int, int] | None = None
        self.told = (0, 0)

    async def recorded(self) -> dict[str, ManifestEntry]:
        entries = await self.ctx.catalog.releases.entries(self.ctx.release_id)
        return {
            e.path: e
            for e in entries
            if (f := self.files.get(e.path)) is not None
            and e.size == f.entry.size and e.source_etag == f.entry.version
        }  # fmt: skip

    def missing_of(
        self, recorded: dict[str, ManifestEntry], errors: dict[str, FileError]
    ) -> list[PlannedFile]:
        """Files not recorded yet, less those of batches that failed for good (a batch
        job has tried each of its files under the retry policy); a split file goes out
        again whatever stopped it."""
        return [
            f for p, f in self.files.items()
            if p not in recorded and (p in self.split or p not in errors)
        ]  # fmt: skip

    async def defer_missing(self, errors: dict[str, FileError]) -> None:
        """Defer jobs for what is neither recorded, nor covered by a pending job, nor
        failed for good; pending jobs are listed before the catalog is read, so a job
        that finishes in between is counted as pending, never deferred twice."""
        ctx, coord = self.ctx, self.coord
        pending = await coord.queue.pending([BATCH, PARTS], {"release_id": ctx.release_id})
        covered, covered_parts, numbers = _covered(pending)
        last = max([*numbers, *self.numbers, await ctx.catalog.batches.last_number(ctx.release_id)])
        self.numbers.extend(numbers)
        small: list[PlannedFile] = []
        runs: list[tuple[PlannedFile, list[int]]] = []
        for planned in self.missing_of(await self.recorded(), errors):
            path = planned.entry.path
            if path in self.split:
                parts = await self.open_split(planned)
                runs.append((planned, [n for n in parts if (path, n) not in covered_parts]))
            elif path not in covered:
                small.append(planned)
        batches = []
        for batch in make_batches(small, coord.workers, coord.fan_out, first=last + 1):
            batches.append(self.job_args(batch.number, {"files": files_to_text(batch.files)}))
            last = batch.number
        part_runs = []
        for planned, parts in runs:
            for run in make_part_runs(planned.entry.path, parts, ctx.part_size, coord.fan_out,
                                      last + 1):  # fmt: skip
                part_runs.append(
                    self.job_args(
                        run.number, {"file": planned_to_json(planned), "parts": list(run.parts)}
                    )
                )
                last = run.number
        # part runs first: a split file is the longest work, and batches fill in around it
        await coord.queue.enqueue_many(PARTS, part_runs, queue=FETCH_QUEUE)
        await coord.queue.enqueue_many(BATCH, batches, queue=FETCH_QUEUE)

    def job_args(self, number: int, args: dict[str, Any]) -> dict[str, Any]:
        target = JobTarget(self.ctx.dataset, self.ctx.release_id, self.ctx.release, number,
                           self.coord.share)  # fmt: skip
        self.numbers.append(number)
        return {**_target_json(target), **args, "options": self.coord.options}

    async def open_split(self, planned: PlannedFile) -> list[int]:
        """Open (or reopen) the split file's upload; the numbers of its parts not landed."""
        key = object_key(self.ctx.dataset, self.ctx.release, planned.entry.path)
        _writer, state = await open_writer(self.ctx, planned.entry, key)
        if state.landed:
            self.resumed.add(planned.entry.path)
        count = len(part_ranges(planned.entry.size, state.part_size))
        return [n for n in range(1, count + 1) if n not in state.landed]

    async def wait(self) -> None:
        """Until no job of the release is queued or running, keeping the run's progress
        (about once a second)."""
        release_id = self.ctx.release_id
        noted = time.monotonic()
        while pending := await self.coord.queue.pending([BATCH, PARTS], {"release_id": release_id}):
            if time.monotonic() - noted >= PROGRESS_SECONDS:
                await self.note_progress(len(pending))
                noted = time.monotonic()
            await asyncio.sleep(self.coord.poll)

    async def note_progress(self, pending: int) -> None:
        catalog, release_id = self.ctx.catalog, self.ctx.release_id
        files, stored = await catalog.releases.tally(release_id)
        landed = await catalog.transfers.landed_bytes(release_id)
        if self.start is None:
            self.start = (files, stored + landed)
        done_files, done_bytes = files - self.start[0], stored + landed - self.start[1]
        self.ctx.progress.advance(max(0, done_bytes - self.told[1]))
        for _ in range(max(0, done_files - self.told[0])):
            self.ctx.progress.file_done()
        self.told = (done_files, done_bytes)
        total = sum(f.entry.size for f in self.files.values())
        await catalog.runs.note_progress(self.coord.job_id, {
            "files": len(self.files), "files_done": min(done_files, len(self.files)),
            "bytes": total, "bytes_done": min(max(done_bytes, 0), total),
            "jobs_pending": pending, "jobs": len(self.numbers),
        })  # fmt: skip

    async def settle(self) -> tuple[dict[str, FileError], dict[str, ManifestEntry]]:
        """Complete the split files whose parts have all landed; the errors the jobs
        recorded (by path) and what the release now records."""
        errors = await self.job_errors()
        recorded = await self.recorded()
        for path in sorted(self.split - set(recorded)):
            planned = self.files[path]
            try:
                if (entry := await self.finish_split(planned)) is not None:
                    errors.pop(path, None)
                    recorded[path] = entry
            except (DatamirrorError, OSError) as exc:
                errors[path] = file_error(path, exc)
        return errors, recorded

    async def job_errors(self) -> dict[str, FileError]:
        outcomes = await self.ctx.catalog.batches.of_release(self.ctx.release_id, self.numbers)
        found: dict[str, FileError] = {}
        for outcome in outcomes:
            for error in outcome.errors:
                found[error["path"]] = FileError(**error)
        return found

    async def finish_split(self, planned: PlannedFile) -> ManifestEntry | None:
        """Complete the upload of a split file whose parts all landed, hash it from the
        store, check it and record it (its entry); None while parts are missing. A digest
        that disagrees forgets the upload (the next round fetches it again)."""
        ctx, entry = self.ctx, planned.entry
        state = await ctx.catalog.transfers.get(ctx.release_id, entry.path)
        if state is None or not state.upload_id:
            return None
        if len(state.landed) < len(part_ranges(entry.size, state.part_size)):
            return None
        try:
            writer = await ctx.store.resume_upload(state.key, state.upload_id, state.part_size)
            await writer.complete()
        except ObjectNotFoundError:
            pass  # completed already, by a coordinator that died before recording it
        digests = FileDigests((planned.expected.algorithm,) if planned.expected else ())
        await read_back(ctx.store, state.key, entry, digests)
        await asyncio.to_thread(digests.finish)
        try:
            digests.check(entry.path, planned.expected)
        except ChecksumMismatchError:
            await ctx.catalog.transfers.finish(ctx.release_id, entry.path)
            raise
        known = digests.hexdigests()
        manifest_entry = ManifestEntry(
            path=entry.path, key=state.key, size=entry.size, xxh3_128=digests.xxh3_128,
            mtime=entry.mtime, md5=known.pop("md5", None), sha256=known.pop("sha256", None),
            source_etag=entry.version, other_digests=known,
        )  # fmt: skip
        await ctx.catalog.releases.add_entries(ctx.release_id, [manifest_entry])
        await ctx.catalog.transfers.finish(ctx.release_id, entry.path)
        return manifest_entry

    async def outcome(
        self, errors: dict[str, FileError], recorded: dict[str, ManifestEntry]
    ) -> tuple[tuple[Fetched, ...], tuple[FileError, ...]]:
        """What landed (with the bytes the jobs moved) and what failed: a file neither
        recorded nor reported by its job failed with its job."""
        outcomes = await self.ctx.catalog.batches.of_release(self.ctx.release_id, self.numbers)
        moved = sum(o.transferred for o in outcomes)
        resumed = sum(o.resumed for o in outcomes)
        if (log := self.ctx.policy.log) is not None:
            for job in outcomes:
                log.counts.update(job.retries)
        fetched = [
            Fetched(entry, 0, path in self.resumed) for path, entry in sorted(recorded.items())
        ]
        if fetched:
            fetched[0] = replace(fetched[0], transferred=moved)
        for index in range(min(resumed, len(fetched))):
            fetched[index] = replace(fetched[index], resumed=True)
        failed = [
            errors.get(path) or FileError(path, "its job ended without fetching it")
            for path in sorted(self.files) if path not in recorded
        ]  # fmt: skip
        return tuple(fetched), tuple(failed)


def _target_json(target: JobTarget) -> dict[str, Any]:
    return {"dataset": target.dataset, "release_id": target.release_id,
            "release": target.release, "batch": target.batch, "share": target.share}  # fmt: skip


def _covered(pending: Sequence[JobInfo]) -> tuple[set[str], set[tuple[str, int]], list[int]]:
    """The files and split-file parts pending jobs will fetch, and those jobs' numbers."""
    files: set[str] = set()
    parts: set[tuple[str, int]] = set()
    numbers: list[int] = []
    for job in pending:
        numbers.append(int(job.args.get("batch", 0)))
        if "files" in job.args:
            files.update(f.entry.path for f in files_from_text(job.args["files"]))
        if "file" in job.args:
            path = job.args["file"]["path"]
            parts.update((path, int(n)) for n in job.args.get("parts", ()))
    return files, parts, numbers


async def _cancel_pending(queue: JobQueue, release_id: int) -> None:
    """A sync cancelled by its curator takes its queued and running jobs with it."""
    for job in await queue.pending([BATCH, PARTS], {"release_id": release_id}):
        try:
            await asyncio.shield(queue.cancel(job.id))
        except DatamirrorError as exc:
            log.warning("cannot cancel job %s: %s", job.id, exc)
