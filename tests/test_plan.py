"""Planning is pure: a listing against the previous release, and part arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from catalog.errors import SyncAbortedError
from catalog.manifest import ManifestEntry
from catalog.store.base import ByteRange
from mirror.checksum_files import Digest
from mirror.plan import (
    Action,
    check_deletions,
    make_plan,
    part_ranges,
    selected,
    with_rechecked,
)
from mirror.sources.base import SourceEntry

WHEN = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def listed(path: str, size: int = 10, etag: str | None = None) -> SourceEntry:
    return SourceEntry(path, size, WHEN, etag)


def held(entry: SourceEntry, md5: str | None = None, xxh: str = "x" * 32) -> ManifestEntry:
    return ManifestEntry(
        entry.path, f"objects/d/r1/{entry.path}", entry.size, xxh, md5=md5,
        source_etag=entry.version,
    )  # fmt: skip


def test_paths_absent_before_are_new_and_paths_gone_are_removed() -> None:
    plan = make_plan([listed("a"), listed("b")], {"c": held(listed("c"))}, {})
    assert [f.action for f in plan.files] == [Action.NEW, Action.NEW]
    assert plan.removed == ("c",)


def test_same_size_and_version_is_unchanged_and_keeps_the_old_object() -> None:
    entry = listed("a")
    plan = make_plan([entry], {"a": held(entry)}, {})
    assert plan.files[0].action is Action.UNCHANGED
    assert plan.to_fetch == []
    assert plan.files[0].previous is not None


@pytest.mark.parametrize(
    ("now", "expected_md5", "action"),
    [
        (listed("a", size=11), None, Action.CHANGED),
        (listed("a", etag='"v2"'), None, Action.CHANGED),
        (listed("a"), "0" * 32, Action.CHANGED),
        (listed("a"), "f" * 32, Action.UNCHANGED),
    ],
    ids=["size", "etag", "md5", "same"],
)
def test_a_new_size_version_or_published_digest_is_a_change(
    now: SourceEntry, expected_md5: str | None, action: Action
) -> None:
    previous = held(listed("a"), md5="f" * 32)
    digests = {"a": Digest("md5", expected_md5)} if expected_md5 else {}
    assert make_plan([now], {"a": previous}, digests).files[0].action is action


def test_a_published_digest_the_manifest_cannot_hold_leaves_size_and_version_to_decide() -> None:
    previous = held(listed("a"), md5="f" * 32)
    plan = make_plan([listed("a")], {"a": previous}, {"a": Digest("sum", "12345 1")})
    assert plan.files[0].action is Action.UNCHANGED


def test_a_checksum_file_whose_bytes_moved_is_changed_whatever_the_listing_says() -> None:
    entry = listed("md5sum.txt")
    plan = make_plan([entry], {"md5sum.txt": held(entry, xxh="a" * 32)}, {})
    assert with_rechecked(plan, {"md5sum.txt": "a" * 32}).files[0].action is Action.UNCHANGED
    assert with_rechecked(plan, {"md5sum.txt": "b" * 32}).files[0].action is Action.CHANGED


@pytest.mark.parametrize(
    ("include", "exclude", "kept"),
    [
        ((), (), ["a.fa", "dir/b.vcf", "dir/c.fa"]),
        (("*.fa",), (), ["a.fa", "dir/c.fa"]),
        (("dir/*",), ("*.vcf",), ["dir/c.fa"]),
        ((), ("dir/*",), ["a.fa"]),
    ],
)
def test_globs_match_the_dataset_path_or_the_file_name(
    include: tuple[str, ...], exclude: tuple[str, ...], kept: list[str]
) -> None:
    entries = [listed("a.fa"), listed("dir/b.vcf"), listed("dir/c.fa")]
    assert [e.path for e in selected(entries, include, exclude)] == kept


def test_the_deletion_guard_trips_above_the_limit_and_names_the_counts() -> None:
    previous = {p: held(listed(p)) for p in "abcd"}
    plan = make_plan([listed("a")], previous, {})
    check_deletions(plan, 4, 75.0)
    with pytest.raises(SyncAbortedError, match="remove 3 of the 4") as caught:
        check_deletions(plan, 4, 50.0)
    assert "--max-delete" in caught.value.hint


def test_a_first_sync_has_nothing_to_guard() -> None:
    check_deletions(make_plan([listed("a")], {}, {}), 0, 0.0)


@pytest.mark.parametrize(
    ("size", "part", "ranges"),
    [
        (0, 4, []),
        (3, 4, [ByteRange(0, 3)]),
        (8, 4, [ByteRange(0, 4), ByteRange(4, 8)]),
        (9, 4, [ByteRange(0, 4), ByteRange(4, 8), ByteRange(8, 9)]),
    ],
)
def test_parts_cover_the_file_exactly_with_a_short_last_part(
    size: int, part: int, ranges: list[ByteRange]
) -> None:
    assert part_ranges(size, part) == ranges
