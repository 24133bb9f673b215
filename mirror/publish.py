"""What a release writes into the store before it is published: its manifest.json and
its ro-crate-metadata.json (the flip itself is `catalog.releases.publish`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from catalog.layout import manifest_key, ro_crate_key
from catalog.manifest import ManifestEntry, dump_manifest
from catalog.models import Dataset, Release, utcnow
from catalog.store.base import Store

RO_CRATE_CONTEXT = "https://w3id.org/ro/crate/1.1/context"
RO_CRATE_PROFILE = "https://w3id.org/ro/crate/1.1"


def ro_crate(dataset: Dataset, release: str, entries: Sequence[ManifestEntry]) -> dict[str, Any]:
    """An RO-Crate 1.1 metadata document describing the release and each of its files."""
    files = [file_entity(e) for e in entries]
    root: dict[str, Any] = {
        "@id": "./",
        "@type": "Dataset",
        "name": dataset.title or dataset.name,
        "identifier": f"{dataset.name}/{release}",
        "version": release,
        "datePublished": utcnow().isoformat(timespec="seconds"),
        "isBasedOn": {"@id": dataset.url},
        "hasPart": [{"@id": f["@id"]} for f in files],
        "contentSize": str(sum(e.size for e in entries)),
    }
    if dataset.description:
        root["description"] = dataset.description
    if dataset.license:
        root["license"] = {"@id": dataset.license}
    descriptor = {
        "@id": "ro-crate-metadata.json",
        "@type": "CreativeWork",
        "conformsTo": {"@id": RO_CRATE_PROFILE},
        "about": {"@id": "./"},
    }
    source = {"@id": dataset.url, "@type": "CreativeWork", "name": f"source of {dataset.name}"}
    return {"@context": RO_CRATE_CONTEXT, "@graph": [descriptor, root, source, *files]}


def file_entity(entry: ManifestEntry) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "@id": quote(entry.path),
        "@type": "File",
        "name": entry.path.rsplit("/", 1)[-1],
        "contentSize": str(entry.size),
    }
    if entry.sha256:
        entity["sha256"] = entry.sha256
    if entry.md5:
        entity["md5"] = entry.md5
    if entry.mtime:
        entity["dateModified"] = entry.mtime.isoformat()
    return entity


async def write_release_files(
    store: Store, dataset: Dataset, release: Release, entries: Sequence[ManifestEntry]
) -> None:
    """manifest.json and ro-crate-metadata.json under releases/<dataset>/<release>/."""
    manifest = dump_manifest(dataset.name, release.name, dataset.url, entries)
    crate = json.dumps(ro_crate(dataset, release.name, entries), indent=1).encode()
    await store.put(manifest_key(dataset.name, release.name), manifest)
    await store.put(ro_crate_key(dataset.name, release.name), crate)
