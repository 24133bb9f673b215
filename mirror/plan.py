"""Pure planning: which source files to fetch, which to reuse, which are gone; part sizes."""

from __future__ import annotations

import enum
import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from catalog.errors import SyncAbortedError
from catalog.manifest import ManifestEntry
from catalog.store.base import ByteRange
from mirror.checksum_files import Digest
from mirror.sources.base import SourceEntry


class Action(enum.StrEnum):
    NEW = "new"
    CHANGED = "changed"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class PlannedFile:
    entry: SourceEntry
    action: Action
    expected: Digest | None = None
    previous: ManifestEntry | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    files: tuple[PlannedFile, ...]
    removed: tuple[str, ...]

    def count(self, action: Action) -> int:
        return sum(1 for f in self.files if f.action is action)

    @property
    def to_fetch(self) -> list[PlannedFile]:
        return [f for f in self.files if f.action is not Action.UNCHANGED]

    @property
    def up_to_date(self) -> bool:
        """Nothing new, changed or removed: the current release is the source's state."""
        return not self.removed and all(f.action is Action.UNCHANGED for f in self.files)


def selected(
    entries: Iterable[SourceEntry], include: Sequence[str], exclude: Sequence[str]
) -> list[SourceEntry]:
    """Entries whose path matches an include glob (all when none) and no exclude glob."""

    def matches(path: str, globs: Sequence[str]) -> bool:
        name = path.rsplit("/", 1)[-1]
        return any(fnmatch.fnmatchcase(path, g) or fnmatch.fnmatchcase(name, g) for g in globs)

    return [
        e
        for e in entries
        if (not include or matches(e.path, include)) and not matches(e.path, exclude)
    ]


def is_unchanged(entry: SourceEntry, previous: ManifestEntry, expected: Digest | None) -> bool:
    if previous.size != entry.size or previous.source_etag != entry.version:
        return False
    return holds_digest(previous, expected)


def holds_digest(entry: ManifestEntry, expected: Digest | None) -> bool:
    """Whether the entry's digest agrees with the published one. Manifests keep md5 and
    sha256 only; a published sha1, sha512 or BSD `sum` cannot be compared without the bytes,
    so size and version decide alone for those."""
    if expected is None:
        return True
    if expected.algorithm == "md5":
        return entry.md5 == expected.hexdigest
    if expected.algorithm == "sha256":
        return entry.sha256 == expected.hexdigest
    return True


def make_plan(
    listing: Iterable[SourceEntry],
    previous: Mapping[str, ManifestEntry],
    expected: Mapping[str, Digest],
) -> Plan:
    files = []
    seen = set()
    for entry in sorted(listing, key=lambda e: e.path):
        seen.add(entry.path)
        digest = expected.get(entry.path)
        old = previous.get(entry.path)
        if old is None:
            action = Action.NEW
        elif is_unchanged(entry, old, digest):
            action = Action.UNCHANGED
        else:
            action = Action.CHANGED
        files.append(PlannedFile(entry, action, digest, old))
    removed = tuple(sorted(set(previous) - seen))
    return Plan(tuple(files), removed)


def check_deletions(plan: Plan, previous_count: int, max_delete_percent: float) -> None:
    """Stop a sync whose listing would drop too large a share of the previous release."""
    if not previous_count:
        return
    share = 100.0 * len(plan.removed) / previous_count
    if share > max_delete_percent:
        raise SyncAbortedError(
            f"the source lists {len(plan.files)} files; publishing would remove "
            f"{len(plan.removed)} of the {previous_count} in the current release "
            f"({share:.0f}% > {max_delete_percent:g}%)",
            hint="an upstream outage can serve an empty or partial listing; if the removal "
            "is real, sync again with a higher --max-delete",
        )


def part_ranges(size: int, part_size: int) -> list[ByteRange]:
    """Consecutive ranges of `part_size` bytes (the last one shorter) covering `size`."""
    if size <= 0:
        return []
    return [ByteRange(start, min(start + part_size, size)) for start in range(0, size, part_size)]


def with_rechecked(plan: Plan, held: Mapping[str, str]) -> Plan:
    """Mark files whose bytes we hold (checksum files, read to plan) changed when their
    xxh3-128 differs from the previous release's, whatever the listing's size and date say."""

    def recheck(f: PlannedFile) -> PlannedFile:
        digest = held.get(f.entry.path)
        if f.action is not Action.UNCHANGED or digest is None or f.previous is None:
            return f
        if f.previous.xxh3_128 == digest:
            return f
        return PlannedFile(f.entry, Action.CHANGED, f.expected, f.previous)

    return Plan(tuple(recheck(f) for f in plan.files), plan.removed)
