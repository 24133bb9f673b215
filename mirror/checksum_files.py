"""Checksum files that sources publish, parsed into `{dataset path: Digest}`.

md5sum/sha*sum output (`md5sum.txt`, `MD5SUM`, `*.md5`, NCBI `md5checksums.txt`, binary
`*` marks, `./` prefixes) and BSD-style `MD5 (file) = hex` lines. A checksum file in
folder D names paths relative to D.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass

SUM_FILES = {
    "md5sum.txt": "md5",
    "md5sums.txt": "md5",
    "md5sum": "md5",
    "md5sums": "md5",
    "md5checksums.txt": "md5",
    "sha256sum.txt": "sha256",
    "sha256sums": "sha256",
    "sha256sums.txt": "sha256",
}
SUFFIXES = {".md5": "md5", ".sha256": "sha256"}
ALGORITHM_BY_LENGTH = {32: "md5", 64: "sha256"}
GNU_LINE = re.compile(r"^\\?([0-9a-fA-F]{32,128})\s[ *]?(.+)$")
BSD_LINE = re.compile(r"^(MD5|SHA256)\s*\((.+)\)\s*=\s*([0-9a-fA-F]{32,128})$")


@dataclass(frozen=True, slots=True)
class Digest:
    algorithm: str
    hexdigest: str


def checksum_file_kind(path: str) -> str | None:
    """The algorithm a checksum file holds, or None when `path` is not one."""
    name = posixpath.basename(path).lower()
    if name in SUM_FILES:
        return SUM_FILES[name]
    for suffix, algorithm in SUFFIXES.items():
        if name.endswith(suffix) and len(name) > len(suffix):
            return algorithm
    return None


def find_checksum_files(paths: Iterable[str]) -> list[str]:
    return sorted(p for p in paths if checksum_file_kind(p))


def parse_sum_lines(text: str) -> dict[str, Digest]:
    """Lines of `hex  name` (GNU) or `MD5 (name) = hex` (BSD), keyed by name as written."""
    found: dict[str, Digest] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if match := BSD_LINE.match(line):
            algorithm, name, hexdigest = match.groups()
            found[name] = Digest(algorithm.lower(), hexdigest.lower())
        elif match := GNU_LINE.match(line):
            hexdigest, name = match.groups()
            algorithm = ALGORITHM_BY_LENGTH.get(len(hexdigest))
            if algorithm:
                found[name.strip()] = Digest(algorithm, hexdigest.lower())
    return found


def digests_from_file(checksum_path: str, text: str) -> dict[str, Digest]:
    """Dataset paths and their digests, from the checksum file at `checksum_path`."""
    folder = posixpath.dirname(checksum_path)
    name = posixpath.basename(checksum_path)
    lines = parse_sum_lines(text)
    if not lines and (bare := text.strip().split()) and GNU_LINE.match(f"{bare[0]}  x"):
        stem = name.rsplit(".", 1)[0]
        lines = {stem: Digest(ALGORITHM_BY_LENGTH.get(len(bare[0]), "md5"), bare[0].lower())}
    out: dict[str, Digest] = {}
    for written, digest in lines.items():
        relative = written.removeprefix("./")
        path = posixpath.normpath(posixpath.join(folder, relative)) if folder else relative
        if not path.startswith("../"):
            out[path] = digest
    return out
