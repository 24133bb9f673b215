"""Pure: how a sync fans out over a cluster's workers, and what its jobs carry.

After listing and planning, the files a release lacks go out as jobs: small and
mid-sized files in batch jobs (many files each, so that the queue's cost per job, a few
milliseconds of database round trips, stays a small share of the job), and each file
above `split_above` as part-range jobs (runs of its parts), so that several workers
share one large file. A file of one job is hashed in order as it streams (as in one
process); a split file's whole-file digest is computed by reading it back once its
parts have all landed.

Job arguments are JSON: files and options are turned into plain values here and back.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

from mirror.checksum_files import Digest
from mirror.plan import Action, PlannedFile
from mirror.sources.base import SourceEntry
from mirror.sync import SyncOptions

MiB = 1024 * 1024
MIN_BATCH_FILES = 16
BATCHES_PER_WORKER = 4
"""Batches are cut so that each worker gets a few (a worker that dies then takes a small
share of the sync with it, and the last batch is not a long tail)."""


@dataclass(frozen=True, slots=True)
class FanOutOptions:
    """`split_above`: files larger than this are fetched as part-range jobs of about
    `job_bytes` each; every other file goes into a batch of at most `batch_files` files
    and `batch_bytes` bytes."""

    split_above: int = 256 * MiB
    job_bytes: int = 64 * MiB
    batch_files: int = 256
    batch_bytes: int = 256 * MiB


@dataclass(frozen=True, slots=True)
class Batch:
    number: int
    files: tuple[PlannedFile, ...]


@dataclass(frozen=True, slots=True)
class PartRun:
    """Parts `parts` (numbers, 1-based) of the split file at `path`: one part-range job."""

    number: int
    path: str
    parts: tuple[int, ...]


def is_split(planned: PlannedFile, options: FanOutOptions, part_size: int) -> bool:
    return planned.entry.size > max(options.split_above, part_size)


def batch_size(files: int, workers: int, options: FanOutOptions) -> int:
    """Files per batch: a few batches per worker, between MIN_BATCH_FILES and the cap."""
    share = -(-files // max(1, workers * BATCHES_PER_WORKER))
    return max(min(share, options.batch_files), min(MIN_BATCH_FILES, options.batch_files))


def make_batches(
    files: Sequence[PlannedFile], workers: int, options: FanOutOptions, first: int = 1
) -> list[Batch]:
    """The files in batches numbered from `first`, in the order given; a batch closes at
    its file count or once it holds `batch_bytes`."""
    per_batch = batch_size(len(files), workers, options)
    batches: list[Batch] = []
    current: list[PlannedFile] = []
    held = 0
    for planned in files:
        if current and (
            len(current) >= per_batch or held + planned.entry.size > options.batch_bytes
        ):
            batches.append(Batch(first + len(batches), tuple(current)))
            current, held = [], 0
        current.append(planned)
        held += planned.entry.size
    if current:
        batches.append(Batch(first + len(batches), tuple(current)))
    return batches


def make_part_runs(
    path: str, missing: Iterable[int], part_size: int, options: FanOutOptions, first: int
) -> list[PartRun]:
    """The missing parts of a split file as runs of consecutive parts, each of at most
    `job_bytes` (at least one part), numbered from `first`."""
    per_job = max(1, options.job_bytes // max(part_size, 1))
    runs: list[PartRun] = []
    for run in _consecutive(sorted(set(missing))):
        for start in range(0, len(run), per_job):
            runs.append(PartRun(first + len(runs), path, tuple(run[start : start + per_job])))
    return runs


def _consecutive(numbers: Sequence[int]) -> Iterator[list[int]]:
    run: list[int] = []
    for number in numbers:
        if run and number != run[-1] + 1:
            yield run
            run = []
        run.append(number)
    if run:
        yield run


def planned_to_json(planned: PlannedFile) -> dict[str, Any]:
    entry = planned.entry
    return {
        "path": entry.path,
        "size": entry.size,
        "mtime": entry.mtime.isoformat() if entry.mtime else None,
        "etag": entry.etag,
        "md5": entry.md5,
        "action": planned.action.value,
        "expected": [planned.expected.algorithm, planned.expected.hexdigest]
        if planned.expected
        else None,
    }


def files_to_text(files: Iterable[PlannedFile]) -> str:
    """A batch's files as one compact text: their JSON, compressed, in base64. A batch
    carries hundreds of files, and procrastinate sends a job's arguments inside an array
    literal whose quoting costs a regular-expression match per quote (base64 has none),
    and walks every value of them for its logs (one string is one value)."""
    raw = json.dumps([planned_to_json(f) for f in files], separators=(",", ":")).encode()
    return base64.b64encode(zlib.compress(raw, 1)).decode("ascii")


def files_from_text(text: str) -> list[PlannedFile]:
    raw = zlib.decompress(base64.b64decode(text))
    return [planned_from_json(data) for data in json.loads(raw)]


def planned_from_json(data: Mapping[str, Any]) -> PlannedFile:
    mtime = datetime.fromisoformat(data["mtime"]) if data.get("mtime") else None
    entry = SourceEntry(data["path"], int(data["size"]), mtime, data.get("etag"), data.get("md5"))
    expected = Digest(*data["expected"]) if data.get("expected") else None
    return PlannedFile(entry, Action(data["action"]), expected)


_SYNC_FIELDS = ("part_size", "parallel", "memory", "bandwidth_limit", "max_delete", "keep",
                "checksums")  # fmt: skip


def options_to_json(options: SyncOptions, fan_out: FanOutOptions) -> dict[str, Any]:
    """What a sync job carries of its options (the retry policy is the worker's)."""
    values = {name: getattr(options, name) for name in _SYNC_FIELDS}
    return {**values, **asdict(fan_out)}


def options_from_json(data: Mapping[str, Any]) -> tuple[SyncOptions, FanOutOptions]:
    sync = SyncOptions(**{k: data[k] for k in _SYNC_FIELDS if data.get(k) is not None})
    fan_out = FanOutOptions(
        **{f.name: int(data[f.name]) for f in fields(FanOutOptions) if data.get(f.name)}
    )
    return sync, fan_out
