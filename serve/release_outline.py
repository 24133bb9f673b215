"""What a landing page shows of a release beyond its numbers, worked out once per release
(releases are immutable) from its index: the directory tree (at most `MAX_NODES` names,
with how many more each folder holds), an example file for the download lines, its Zarr
stores, the files its schema.org distribution names (at most `MAX_DISTRIBUTION`) and how
many files have an MD5 (the generated md5sum.txt lists those).
"""

from __future__ import annotations

from dataclasses import dataclass

from catalog.manifest import ManifestEntry
from serve.release_index import ReleaseIndex

MAX_NODES = 300
OPEN_NODES = 60
"""Trees of at most this many names show open; larger ones show their top folders."""
MAX_DISTRIBUTION = 100
ZARR_MARKERS = ("zarr.json", ".zgroup", ".zarray")


@dataclass(frozen=True, slots=True)
class TreeNode:
    """A file (`size` set) or a folder (`children`, and `more` names not shown)."""

    name: str
    path: str
    size: int | None = None
    children: tuple[TreeNode, ...] = ()
    more: int = 0

    @property
    def is_dir(self) -> bool:
        return self.size is None


@dataclass(frozen=True, slots=True)
class ReleaseOutline:
    release_id: int
    tree: tuple[TreeNode, ...]
    more: int
    shown: int
    example: ManifestEntry | None
    zarr_stores: tuple[str, ...]
    distribution: tuple[ManifestEntry, ...]
    with_md5: int

    @property
    def open(self) -> bool:
        return self.shown <= OPEN_NODES

    @classmethod
    def build(cls, index: ReleaseIndex) -> ReleaseOutline:
        budget = [MAX_NODES]
        tree, more = _nodes(index, "", budget)
        files = sorted(index.files.values(), key=lambda e: e.path)
        example = max(files, key=_example_rank, default=None)
        shown = MAX_NODES - budget[0]
        return cls(index.release_id, tree, more, shown, example, _zarr_stores(index),
                   tuple(files[:MAX_DISTRIBUTION]), sum(1 for e in files if e.md5))  # fmt: skip


CHECKSUM_FILES = ("md5sum.txt", "md5checksums.txt", "CHECKSUMS", "SHA256SUMS", "MD5SUMS")


def _example_rank(entry: ManifestEntry) -> tuple[bool, int, str]:
    """The largest file makes the example, a checksum file only when there is nothing else."""
    name = entry.path.rpartition("/")[2]
    return (name not in CHECKSUM_FILES and not name.endswith(".md5"), entry.size, entry.path)


def _nodes(index: ReleaseIndex, folder: str, budget: list[int]) -> tuple[tuple[TreeNode, ...], int]:
    """The nodes of `folder` the budget allows (depth first), and how many are left out."""
    children = index.listing(folder) or ()
    shown: list[TreeNode] = []
    for number, child in enumerate(children):
        if budget[0] <= 0:
            return tuple(shown), len(children) - number
        budget[0] -= 1
        path = f"{folder}/{child.name}" if folder else child.name
        if child.entry is not None:
            shown.append(TreeNode(child.name, path, child.entry.size))
            continue
        inner, more = _nodes(index, path, budget)
        shown.append(TreeNode(child.name, path, None, inner, more))
    return tuple(shown), 0


def _zarr_stores(index: ReleaseIndex) -> tuple[str, ...]:
    """Top-most folders holding a Zarr group or array (v3 `zarr.json`, v2 `.zgroup`)."""
    stores: set[str] = set()
    for path in index.files:
        folder, _, name = path.rpartition("/")
        if name in ZARR_MARKERS and folder:
            stores.add(folder)
    top: list[str] = []
    for store in sorted(stores):
        parts = store.split("/")
        if not any("/".join(parts[:depth]) in stores for depth in range(1, len(parts))):
            top.append(store)
    return tuple(top)
