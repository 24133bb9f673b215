"""Splitting `/datasets/...` request paths, from the raw (still percent-encoded) path.

Each segment is decoded on its own, so an encoded `/` (`%2f`) or a dot segment (`..`,
`%2e%2e`) is seen for what it is and refused: a path never leaves its dataset.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from urllib.parse import unquote

from catalog.errors import InvalidPathError

PREFIX = "/datasets/"


@dataclass(frozen=True, slots=True)
class DatasetPath:
    """`dataset` is "" for `/datasets/`; `release` None for the landing page."""

    dataset: str
    release: str | None
    path: str  # dataset-relative, no leading or trailing slash
    slash: bool  # the request path ends with `/`


@functools.lru_cache(maxsize=4096)
def split_dataset_path(raw_path: str) -> DatasetPath:
    """Pure, and asked of the same hot paths over and over: remembered (LRU)."""
    if not raw_path.startswith(PREFIX):
        raise InvalidPathError(f"{raw_path!r} is not under {PREFIX}")
    segments = [_decode(s) for s in raw_path[len(PREFIX) :].split("/")]
    slash = segments[-1] == ""
    if slash:
        segments.pop()
    if any(s == "" for s in segments):
        raise InvalidPathError("empty path segment")
    if not segments:
        return DatasetPath("", None, "", slash)
    if len(segments) == 1:
        return DatasetPath(segments[0], None, "", slash)
    return DatasetPath(segments[0], segments[1], "/".join(segments[2:]), slash)


def _decode(segment: str) -> str:
    try:
        decoded = unquote(segment, errors="strict")
    except UnicodeDecodeError:
        raise InvalidPathError(f"path segment {segment!r} is not UTF-8") from None
    if decoded in {".", ".."} or "/" in decoded or "\\" in decoded or "\x00" in decoded:
        raise InvalidPathError(f"path segment {segment!r} is not allowed")
    return decoded
