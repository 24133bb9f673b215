"""Checksum files that sources publish, parsed into `{dataset path: Digest}`.

- md5sum/sha*sum output (`md5sum.txt`, `MD5SUM`, `*.md5`, `*.sha256`, NCBI
  `md5checksums.txt`; binary `*` marks, `./` prefixes, `\\`-escaped names) and BSD-style
  `MD5 (file) = hex` lines;
- Ensembl `CHECKSUMS`: BSD `sum` output, `checksum blocks name` (see `mirror.bsd_sum`);
- UniProt `RELEASE.metalink` (Metalink 3 and 4 XML).

A checksum file in folder D names paths relative to D; `digests_from_file` resolves them
to dataset paths and drops any that would leave the dataset.
"""

from __future__ import annotations

import posixpath
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from catalog.errors import ChecksumFileError

SUM_FILES = {
    "md5sum.txt": "md5",
    "md5sums.txt": "md5",
    "md5sum": "md5",
    "md5sums": "md5",
    "md5checksums.txt": "md5",
    "sha256sum.txt": "sha256",
    "sha256sum": "sha256",
    "sha256sums": "sha256",
    "sha256sums.txt": "sha256",
    "checksums": "sum",
    "release.metalink": "metalink",
}
SUFFIXES = {
    ".md5": "md5",
    ".sha1": "sha1",
    ".sha256": "sha256",
    ".sha512": "sha512",
    ".metalink": "metalink",
    ".meta4": "metalink",
}
ALGORITHM_BY_LENGTH = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}
METALINK_HASHES = {"sha-256": "sha256", "sha256": "sha256", "md5": "md5", "sha-1": "sha1"}
GNU_LINE = re.compile(r"^(\\?)([0-9a-fA-F]{32,128})(?: \*| {1,2})(.+)$")
BSD_LINE = re.compile(r"^(\\?)(MD5|SHA1|SHA256|SHA512)\s*\((.+)\)\s*=\s*([0-9a-fA-F]{32,128})$")
SUM_LINE = re.compile(r"^(\d{1,5})\s+(\d+)\s+(.+)$")
BARE_DIGEST = re.compile(r"^([0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}|[0-9a-fA-F]{128})$")


@dataclass(frozen=True, slots=True)
class Digest:
    """A published digest. For `sum` (BSD), `hexdigest` is `"%05d %d" % (checksum, blocks)`,
    as `mirror.bsd_sum.BSDSum.hexdigest()` gives it."""

    algorithm: str
    hexdigest: str


def checksum_file_kind(path: str) -> str | None:
    """What a checksum file holds (md5, sha256, sum, metalink...), or None if not one."""
    name = posixpath.basename(path).lower()
    if name in SUM_FILES:
        return SUM_FILES[name]
    for suffix, kind in SUFFIXES.items():
        if name.endswith(suffix) and len(name) > len(suffix):
            return kind
    return None


def find_checksum_files(paths: Iterable[str]) -> list[str]:
    """The checksum files among `paths` (for `--checksums auto`), shallowest first, so
    that a folder's own file, applied later, wins over one further up."""
    return sorted((p for p in paths if checksum_file_kind(p)), key=lambda p: (p.count("/"), p))


def _unescape(name: str) -> str:
    """GNU coreutils escapes `\\` and newlines in names and marks such lines with `\\`."""
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r"}.get(m[1], m[1]), name)


class ConflictingDigestsError(ValueError):
    """One name, two different digests of one algorithm."""

    def __init__(self, name: str, first: Digest, second: Digest) -> None:
        super().__init__(
            f"it gives {name!r} two {first.algorithm} digests: "
            f"{first.hexdigest} and {second.hexdigest}"
        )


def collect(pairs: Iterable[tuple[str, Digest]]) -> dict[str, Digest]:
    """`{name: digest}`; a name written twice with one digest is one name, with two
    different digests of an algorithm a ConflictingDigestsError (which one is right?).
    Of different algorithms the last written wins."""
    found: dict[str, Digest] = {}
    for name, digest in pairs:
        known = found.get(name)
        if known is not None and known.algorithm == digest.algorithm and known != digest:
            raise ConflictingDigestsError(name, known, digest)
        found[name] = digest
    return found


def parse_sum_lines(text: str) -> dict[str, Digest]:
    """Lines of `hex  name` (GNU) or `MD5 (name) = hex` (BSD), keyed by name as written."""
    return collect(_sum_pairs(text))


def _sum_pairs(text: str) -> Iterator[tuple[str, Digest]]:
    for raw in text.splitlines():
        line = raw.rstrip("\r").strip()
        if not line or line.startswith("#"):
            continue
        if match := BSD_LINE.match(line):
            escaped, algorithm, name, hexdigest = match.groups()
            name = _unescape(name) if escaped else name
            yield name, Digest(algorithm.lower(), hexdigest.lower())
        elif match := GNU_LINE.match(line):
            escaped, hexdigest, name = match.groups()
            algorithm = ALGORITHM_BY_LENGTH.get(len(hexdigest))
            if algorithm:
                yield _unescape(name) if escaped else name, Digest(algorithm, hexdigest.lower())


def parse_bsd_sum_lines(text: str) -> dict[str, Digest]:
    """Ensembl's CHECKSUMS: `sum` output lines, `checksum blocks name`."""
    return collect(
        (match[3], Digest("sum", f"{int(match[1]):05d} {int(match[2])}"))
        for line in text.splitlines()
        if (match := SUM_LINE.match(line.strip()))
    )


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_metalink(text: str) -> dict[str, Digest]:
    """Metalink 3 (`<verification><hash type="md5">`) or 4 (`<hash type="sha-256">`);
    per file the strongest hash datamirror can check. ET.ParseError when it is no XML."""
    # Python's expat resolves no external entities and caps entity expansion.
    root = ET.fromstring(text)  # noqa: S314
    return collect(_metalink_pairs(root))


def _metalink_pairs(root: ET.Element) -> Iterator[tuple[str, Digest]]:
    for element in root.iter():
        name = element.get("name")
        if _local(element.tag) != "file" or not name:
            continue
        hashes = {
            METALINK_HASHES.get((h.get("type") or "").lower()): (h.text or "").strip().lower()
            for h in element.iter()
            if _local(h.tag) == "hash"
        }
        for algorithm in ("sha256", "md5", "sha1"):
            if hashes.get(algorithm):
                yield name, Digest(algorithm, hashes[algorithm])
                break


def parse_checksum_file(kind: str, name: str, text: str) -> dict[str, Digest]:
    """Digests keyed by the names the file writes, for a file of `kind` named `name`."""
    if kind == "metalink":
        return parse_metalink(text)
    if kind == "sum":
        return parse_bsd_sum_lines(text) or parse_sum_lines(text)
    lines = parse_sum_lines(text)
    if not lines and (match := BARE_DIGEST.match(text.strip())):
        hexdigest = match.group(1).lower()
        stem = name.rsplit(".", 1)[0]
        return {stem: Digest(ALGORITHM_BY_LENGTH[len(hexdigest)], hexdigest)}
    return lines


def digests_from_file(checksum_path: str, text: str) -> dict[str, Digest]:
    """Dataset paths and their digests, from the checksum file at `checksum_path`;
    ChecksumFileError when it is unreadable or gives one file two digests."""
    kind = checksum_file_kind(checksum_path) or "md5"
    folder, name = posixpath.split(checksum_path)
    try:
        written = parse_checksum_file(kind, name, text)
        resolved = ((resolve(folder, w), digest) for w, digest in written.items())
        return collect((path, digest) for path, digest in resolved if path is not None)
    except ConflictingDigestsError as exc:
        raise ChecksumFileError(checksum_path, str(exc)) from None
    except ET.ParseError as exc:
        raise ChecksumFileError(checksum_path, f"it is not well-formed XML ({exc})") from None


def resolve(folder: str, written: str) -> str | None:
    """The dataset path of a name written in a checksum file in `folder`, or None when it
    is absolute or leaves the dataset."""
    if written.startswith("/") or posixpath.normpath(written) == ".":
        return None
    path = posixpath.normpath(posixpath.join(folder, written))
    return None if path == ".." or path.startswith("../") else path
