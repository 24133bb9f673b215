"""Generated benchmark data (never downloaded) and the digests that prove outputs correct."""

from __future__ import annotations

import hashlib
import random
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mirror.sample_data import write_big_file, write_md5sums

BIG_NAME = "big/GRCh38.primary_assembly.fa"
BLOCK = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Tree:
    """A generated source folder: its root and each relative path's size and md5."""

    root: Path
    md5: dict[str, str]
    sizes: dict[str, int]

    @property
    def total_bytes(self) -> int:
        return sum(self.sizes.values())


def md5_file(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _describe(root: Path, paths: Iterable[str]) -> Tree:
    rels = sorted(paths)
    return Tree(
        root=root,
        md5={rel: md5_file(root / rel) for rel in rels},
        sizes={rel: (root / rel).stat().st_size for rel in rels},
    )


def big_file_tree(root: Path, size: int) -> Tree:
    """One FASTA-like file of `size` bytes and an `md5sum.txt` naming its digest."""
    if not (root / BIG_NAME).exists() or (root / BIG_NAME).stat().st_size != size:
        write_big_file(root / BIG_NAME, size, seed=1)
        write_md5sums(root, [BIG_NAME])
    return _describe(root, [BIG_NAME, "md5sum.txt"])


def small_files_tree(root: Path, count: int, size: int, dirs: int) -> Tree:
    """`count` random files of `size` bytes spread over `dirs` folders, with `md5sum.txt`."""
    rng = random.Random(2)
    paths = [f"d{i % dirs:02d}/file{i:05d}.bin" for i in range(count)]
    if not (root / "md5sum.txt").exists():
        for rel in paths:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(rng.randbytes(size))
        write_md5sums(root, paths)
    return _describe(root, [*paths, "md5sum.txt"])


def check_tree(expected: Tree, got_root: Path, *, only: Iterable[str] | None = None) -> None:
    """Raise WrongBytesError unless every expected file under `got_root` has the expected md5."""
    for rel in only if only is not None else expected.md5:
        path = got_root / rel
        if not path.is_file():
            raise WrongBytesError(f"{rel} is missing under {got_root}")
        actual = md5_file(path)
        if actual != expected.md5[rel]:
            raise WrongBytesError(f"{rel}: expected md5 {expected.md5[rel]}, got {actual}")


def check_file(expected_md5: str, path: Path) -> None:
    actual = md5_file(path)
    if actual != expected_md5:
        raise WrongBytesError(f"{path.name}: expected md5 {expected_md5}, got {actual}")


class WrongBytesError(AssertionError):
    """An output's bytes differ from its source."""


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
