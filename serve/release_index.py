"""An in-memory index of one release: path -> entry, and the directories its paths imply.

Releases are immutable, so an index is built once from the catalog's entries and shared by
every request for that release.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from catalog.manifest import ManifestEntry


@dataclass(frozen=True, slots=True)
class Child:
    """A name inside a directory: a file (with its entry) or a subdirectory."""

    name: str
    entry: ManifestEntry | None = None

    @property
    def is_dir(self) -> bool:
        return self.entry is None

    @property
    def href(self) -> str:
        return f"{self.name}/" if self.is_dir else self.name


@dataclass(frozen=True, slots=True)
class ReleaseIndex:
    dataset: str
    release: str
    release_id: int
    published_at: datetime | None
    files: dict[str, ManifestEntry] = field(repr=False)
    dirs: dict[str, tuple[Child, ...]] = field(repr=False)

    @classmethod
    def build(
        cls,
        dataset: str,
        release: str,
        release_id: int,
        published_at: datetime | None,
        entries: Iterable[ManifestEntry],
    ) -> ReleaseIndex:
        files = {e.path: e for e in entries}
        children: dict[str, dict[str, ManifestEntry | None]] = {"": {}}
        for path, entry in files.items():
            parent, _, name = path.rpartition("/")
            children.setdefault(parent, {})[name] = entry
            while parent:
                grand, _, dirname = parent.rpartition("/")
                siblings = children.setdefault(grand, {})
                if dirname in siblings:
                    break
                siblings[dirname] = None
                children.setdefault(parent, {})
                parent = grand
        dirs = {
            folder: tuple(Child(n, names[n]) for n in sorted(names))
            for folder, names in children.items()
        }
        return cls(dataset, release, release_id, published_at, files, dirs)

    def file(self, path: str) -> ManifestEntry | None:
        return self.files.get(path)

    def listing(self, path: str) -> tuple[Child, ...] | None:
        """The children of directory `path` ("" is the root); None when it is no directory."""
        return self.dirs.get(path)

    @property
    def total_bytes(self) -> int:
        return sum(e.size for e in self.files.values())
