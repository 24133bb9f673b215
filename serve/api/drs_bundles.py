"""A release and its folders as GA4GH DRS bundles (pure).

The release is a bundle (`catalog.drs_ids.bundle_id`) whose `contents` are its top-level
files and folders; each folder is a nested bundle (`folder_id`), listed with its own
`contents` when the request asks for `expand=true`. A bundle's size is the bytes below it;
its checksums follow DRS: for each type every item at its top level has, the digest of
the items' checksums, sorted and concatenated (`md5`, `sha-256`, and `xxh3-128`, which
every file has). `ReleaseBundles.build` computes them for every folder of a release at once
(one pass, bottom up); releases are immutable, so the server keeps the result.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from posixpath import basename
from typing import Any

import xxhash

from catalog.drs_ids import bundle_id, folder_id, folder_key, object_id
from catalog.manifest import ManifestEntry
from serve.api.drs_objects import XXH3, Site, rfc3339
from serve.release_index import ReleaseIndex

HASHES: dict[str, Callable[[bytes], str]] = {
    "md5": lambda data: hashlib.md5(data, usedforsecurity=False).hexdigest(),
    "sha-256": lambda data: hashlib.sha256(data).hexdigest(),
    XXH3: lambda data: str(xxhash.xxh3_128_hexdigest(data)),
}
Checksums = dict[str, str]


@dataclass(frozen=True, slots=True)
class Folder:
    path: str
    size: int
    checksums: Checksums


@dataclass(frozen=True, slots=True)
class ReleaseBundles:
    """Every folder of one release as a bundle: `folders` by path ("" is the release
    itself), `paths` by folder key (the part of a folder id after the release's id)."""

    dataset: str
    release: str
    bundle: str
    folders: dict[str, Folder]
    paths: dict[str, str]

    @classmethod
    def build(cls, index: ReleaseIndex) -> ReleaseBundles:
        folders: dict[str, Folder] = {}
        # deepest first, so that a folder's subfolders are summed before it
        for path in sorted(index.dirs, key=lambda p: -p.count("/") - bool(p)):
            size = 0
            sums: list[Checksums] = []
            for child in index.dirs[path]:
                if child.entry is not None:
                    size += child.entry.size
                    sums.append(file_checksums(child.entry))
                else:
                    sub = folders[join(path, child.name)]
                    size += sub.size
                    sums.append(sub.checksums)
            folders[path] = Folder(path, size, combined(sums))
        paths = {folder_key(p): p for p in folders if p}
        return cls(index.dataset, index.release, bundle_id(index.dataset, index.release),
                   folders, paths)  # fmt: skip

    def drs_id(self, folder: str) -> str:
        return folder_id(self.bundle, folder) if folder else self.bundle


def file_checksums(entry: ManifestEntry) -> Checksums:
    found = {"md5": entry.md5, "sha-256": entry.sha256, XXH3: entry.xxh3_128}
    return {kind: value for kind, value in found.items() if value}


def combined(items: list[Checksums]) -> Checksums:
    """DRS's bundle checksum, for every type that each item has."""
    kinds = [k for k in HASHES if all(k in item for item in items)]
    return {k: HASHES[k]("".join(sorted(item[k] for item in items)).encode()) for k in kinds}


def join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


def bundle_object(
    site: Site,
    bundles: ReleaseBundles,
    index: ReleaseIndex,
    folder: str,
    *,
    expand: bool,
    published_at: datetime,
    source_url: str,
) -> dict[str, Any]:
    summary = bundles.folders[folder]
    drs_id = bundles.drs_id(folder)
    created = rfc3339(published_at)
    where = f"{bundles.dataset}/{bundles.release}"
    if folder:
        name, alias = basename(folder), f"{where}/{folder}/"
        description = f"The folder {folder}/ of release {bundles.release} of {bundles.dataset}"
    else:
        name, alias = f"{bundles.dataset}-{bundles.release}", where
        description = f"Release {bundles.release} of {bundles.dataset}, mirrored from {source_url}"
    return {
        "id": drs_id,
        "name": name,
        "self_uri": site.uri(drs_id),
        "size": summary.size,
        "created_time": created,
        "updated_time": created,
        "checksums": [{"type": k, "checksum": v} for k, v in summary.checksums.items()],
        "contents": contents(site, bundles, index, folder, expand=expand),
        "aliases": [alias],
        "description": description,
    }


def contents(
    site: Site, bundles: ReleaseBundles, index: ReleaseIndex, folder: str, *, expand: bool
) -> list[dict[str, Any]]:
    """The ContentsObjects of a folder: its files, and its folders (nested when `expand`)."""
    items: list[dict[str, Any]] = []
    for child in index.dirs[folder]:
        if child.entry is not None:
            drs_id = object_id(bundles.dataset, child.entry.path, child.entry.xxh3_128)
            items.append({"name": child.name, "id": drs_id, "drs_uri": [site.uri(drs_id)]})
            continue
        path = join(folder, child.name)
        drs_id = bundles.drs_id(path)
        item: dict[str, Any] = {"name": child.name, "id": drs_id, "drs_uri": [site.uri(drs_id)]}
        if expand:
            item["contents"] = contents(site, bundles, index, path, expand=True)
        items.append(item)
    return items
