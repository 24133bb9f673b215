"""GA4GH DRS identifiers of what the releases publish (pure; they never change once given).

    a file     32 hex digits over its dataset, path and xxh3-128: identical bytes at the
               same path keep their id from release to release
    a release  32 hex digits over its dataset and name: the release as a DRS bundle
    a folder   `<release id>.<16 hex digits over the folder's path>`: a nested bundle

Each is a SHA-256 over the parts (NUL-separated, with a tag that keeps the kinds apart),
cut to its length. The characters are DRS's unreserved ones, so ids need no encoding in
URLs. The catalog records file and release ids (`Entry.drs_id`, `Release.drs_id`) so that
resolving one is an index lookup; a folder id resolves through its release's id.
"""

from __future__ import annotations

import hashlib
import re

FILE_HEX = 32
RELEASE_HEX = 32
FOLDER_HEX = 16
FOLDER_ID = re.compile(rf"^([0-9a-f]{{{RELEASE_HEX}}})\.([0-9a-f]{{{FOLDER_HEX}}})$")
SCHEME = "drs://"


def _digest(*parts: str, length: int) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:length]


def object_id(dataset: str, path: str, xxh3_128: str) -> str:
    """The DRS id of the bytes `xxh3_128` at `path` of `dataset`."""
    return _digest("file", dataset, path, xxh3_128, length=FILE_HEX)


def bundle_id(dataset: str, release: str) -> str:
    """The DRS id of a release as a bundle."""
    return _digest("release", dataset, release, length=RELEASE_HEX)


def folder_id(bundle: str, folder: str) -> str:
    """The DRS id of `folder` (a dataset path, no trailing slash) in the release `bundle`."""
    return f"{bundle}.{folder_key(folder)}"


def folder_key(folder: str) -> str:
    return _digest("folder", folder, length=FOLDER_HEX)


def split_folder_id(drs_id: str) -> tuple[str, str] | None:
    """(release bundle id, folder key) of a folder id; None for any other id."""
    match = FOLDER_ID.match(drs_id)
    return (match.group(1), match.group(2)) if match else None


def drs_uri(hostname: str, drs_id: str) -> str:
    """The hostname-based DRS URI (`drs://<hostname>/<id>`; DRS allows no port in it)."""
    return f"{SCHEME}{hostname}/{drs_id}"
