"""What a release writes into the store before it is published: its manifest.json and
its RO-Crate 1.2 ro-crate-metadata.json (`catalog.ro_crate`); the flip itself is
`catalog.releases.publish`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import datetime

from catalog.layout import manifest_key, ro_crate_key
from catalog.manifest import ManifestEntry, dump_manifest
from catalog.models import Dataset, Release, utcnow
from catalog.ro_crate import CrateFacts, ro_crate
from catalog.store.base import Store


def crate_facts(dataset: Dataset, release: str, run_started: datetime | None) -> CrateFacts:
    """The crate's facts for a release about to be published (now)."""
    now = utcnow()
    return CrateFacts(
        dataset=dataset.name, source_url=dataset.url, release=release, published=now,
        title=dataset.title, description=dataset.description, license=dataset.license,
        run_started=run_started, run_ended=now, creators=tuple(dataset.creators or ()),
        publisher=dataset.publisher, keywords=tuple(dataset.keywords or ()),
        homepage=dataset.homepage, citation=dataset.citation,
    )  # fmt: skip


async def write_release_files(
    store: Store,
    dataset: Dataset,
    release: Release,
    entries: Sequence[ManifestEntry],
    run_started: datetime | None = None,
) -> None:
    """manifest.json and ro-crate-metadata.json under releases/<dataset>/<release>/."""
    facts = crate_facts(dataset, release.name, run_started)
    manifest, crate = await asyncio.to_thread(_documents, dataset, release.name, entries, facts)
    await store.put(manifest_key(dataset.name, release.name), manifest)
    await store.put(ro_crate_key(dataset.name, release.name), crate)


def _documents(
    dataset: Dataset, release: str, entries: Sequence[ManifestEntry], facts: CrateFacts
) -> tuple[bytes, bytes]:
    manifest = dump_manifest(dataset.name, release, dataset.url, entries)
    crate = json.dumps(ro_crate(facts, entries), indent=1, ensure_ascii=False).encode()
    return manifest, crate
