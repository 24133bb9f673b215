"""Pure: how a sync's files go out as batch and part-range jobs, and what the jobs carry."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mirror.checksum_files import Digest
from mirror.fanout import (
    MIN_BATCH_FILES,
    FanOutOptions,
    batch_size,
    files_from_text,
    files_to_text,
    is_split,
    make_batches,
    make_part_runs,
    options_from_json,
    options_to_json,
    planned_from_json,
    planned_to_json,
)
from mirror.plan import Action, PlannedFile
from mirror.sources.base import SourceEntry
from mirror.sync import SyncOptions

MiB = 1024 * 1024


def planned(path: str, size: int = 16 * 1024) -> PlannedFile:
    return PlannedFile(SourceEntry(path, size), Action.NEW)


@pytest.mark.parametrize(
    ("files", "workers", "expected"),
    [
        (2000, 2, 250),  # a few batches per worker
        (2000, 1, 256),  # never more than the cap
        (100, 3, MIN_BATCH_FILES),  # never fewer than the floor, where there are enough
        (0, 2, MIN_BATCH_FILES),
    ],
)
def test_batches_are_sized_for_a_few_per_worker_within_bounds(
    files: int, workers: int, expected: int
) -> None:
    assert batch_size(files, workers, FanOutOptions()) == expected


def test_batches_cut_at_their_file_count_and_at_their_bytes_numbered_from_first() -> None:
    files = [planned(f"f{i}") for i in range(40)] + [planned("big1", 200 * MiB),
                                                      planned("big2", 200 * MiB)]  # fmt: skip
    batches = make_batches(files, workers=1, options=FanOutOptions(), first=7)
    assert [b.number for b in batches] == [7, 8, 9, 10]
    # 16 files a batch (the floor), and big2 would take the third past 256 MiB
    assert [len(b.files) for b in batches] == [MIN_BATCH_FILES, MIN_BATCH_FILES, 9, 1]
    assert [f.entry.path for b in batches for f in b.files] == [f.entry.path for f in files]


def test_a_split_files_missing_parts_go_out_as_runs_of_consecutive_parts() -> None:
    options = FanOutOptions(job_bytes=3 * MiB)
    runs = make_part_runs("big", [1, 2, 3, 4, 7, 8, 10], MiB, options, first=5)
    assert [(r.number, r.parts) for r in runs] == [(5, (1, 2, 3)), (6, (4,)), (7, (7, 8)),
                                                   (8, (10,))]  # fmt: skip
    assert {r.path for r in runs} == {"big"}
    assert make_part_runs("big", [], MiB, options, first=1) == []


def test_only_files_above_the_threshold_and_the_part_size_are_split() -> None:
    options = FanOutOptions(split_above=10 * MiB)
    assert is_split(planned("a", 11 * MiB), options, part_size=5 * MiB)
    assert not is_split(planned("a", 10 * MiB), options, part_size=5 * MiB)
    assert not is_split(planned("a", 11 * MiB), options, part_size=16 * MiB)


def test_a_planned_file_survives_its_job_arguments() -> None:
    mtime = datetime(2024, 5, 1, 3, 0, tzinfo=UTC)
    original = PlannedFile(
        SourceEntry("dir/a.fa.gz", 123, mtime, etag="e1", md5="0" * 32), Action.CHANGED,
        Digest("md5", "f" * 32),
    )  # fmt: skip
    assert planned_from_json(planned_to_json(original)) == original
    bare = PlannedFile(SourceEntry("b", 0), Action.NEW)
    assert planned_from_json(planned_to_json(bare)) == bare


def test_sync_options_survive_their_job_arguments_and_an_empty_one_is_the_defaults() -> None:
    options = SyncOptions(part_size=5 * MiB, parallel=8, memory=64 * MiB, keep=3,
                          max_delete=10.0, checksums="none")  # fmt: skip
    fan_out = FanOutOptions(split_above=10 * MiB, job_bytes=5 * MiB)
    assert options_from_json(options_to_json(options, fan_out)) == (options, fan_out)
    assert options_from_json({}) == (SyncOptions(), FanOutOptions())


def test_a_batchs_files_travel_as_one_json_text() -> None:
    files = [planned("a"), PlannedFile(SourceEntry("b/c", 5, etag="x"), Action.CHANGED)]
    text = files_to_text(files)
    assert isinstance(text, str)
    assert files_from_text(text) == files
