"""The one module that spells store keys.

objects/<dataset>/<release that first brought the bytes>/<path>   immutable bytes
releases/<dataset>/<release>/manifest.json                        path -> key, size, digests
releases/<dataset>/<release>/ro-crate-metadata.json               FAIR description
"""

from __future__ import annotations

import re
from posixpath import normpath

from catalog.errors import InvalidNameError, InvalidPathError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MANIFEST = "manifest.json"
RO_CRATE = "ro-crate-metadata.json"


def check_name(name: str, what: str = "dataset") -> str:
    """A dataset or release name: letters, digits, `.`, `_`, `-`; no leading punctuation."""
    if not NAME_RE.match(name) or name in {"latest"}:
        raise InvalidNameError(
            f"invalid {what} name {name!r}",
            hint="use 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return name


def clean_path(path: str) -> str:
    """A dataset-relative path as published: no leading slash, no `.`/`..`, no empty parts."""
    if "\x00" in path or "\\" in path:
        raise InvalidPathError(f"invalid path {path!r}")
    stripped = path.strip("/")
    if not stripped:
        return ""
    normal = normpath(stripped)
    parts = normal.split("/")
    if normal.startswith("/") or any(p in {"", ".", ".."} for p in parts):
        raise InvalidPathError(f"path {path!r} leaves its dataset")
    if normal != stripped:
        raise InvalidPathError(f"path {path!r} is not in normal form")
    return normal


def unpublishable(path: str) -> str | None:
    """Why a listed path cannot be stored and published as it is (None: it can). A key
    must say the name the source gave: names are never rewritten to fit."""
    if CONTROL.search(path):
        return "it contains a control character (NUL, newline, ...)"
    if "\\" in path:
        return "it contains a backslash, which some clients read as a folder separator"
    parts = path.split("/")
    if ".." in parts:
        return "it names a folder above its own (`..`): it would leave the dataset"
    if any(p in {"", "."} for p in parts):
        return "it is not in normal form (empty or `.` segments, or a leading slash)"
    return None


def object_key(dataset: str, release: str, path: str) -> str:
    return f"objects/{dataset}/{release}/{clean_path(path)}"


def release_prefix(dataset: str, release: str) -> str:
    return f"releases/{dataset}/{release}/"


def manifest_key(dataset: str, release: str) -> str:
    return release_prefix(dataset, release) + MANIFEST


def ro_crate_key(dataset: str, release: str) -> str:
    return release_prefix(dataset, release) + RO_CRATE


def dataset_objects_prefix(dataset: str) -> str:
    return f"objects/{dataset}/"
