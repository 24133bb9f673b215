"""Verification: re-read a release's objects from the store and check size and xxh3-128."""

from __future__ import annotations

import asyncio

from catalog.errors import ObjectNotFoundError
from catalog.manifest import ManifestEntry
from catalog.repository import Catalog
from catalog.store.base import Store
from mirror.digests import FileDigests

CONCURRENCY = 16
CHUNK = 4 * 1024 * 1024


async def check_object(store: Store, entry: ManifestEntry) -> str | None:
    """None when the stored bytes match the entry, else what is wrong."""
    digests = FileDigests()
    size = 0
    try:
        async for chunk in store.stream(entry.key, chunk_size=CHUNK):
            size += len(chunk)
            await asyncio.to_thread(digests.update, chunk)
    except ObjectNotFoundError:
        return f"{entry.path}: object {entry.key} is missing"
    if size != entry.size:
        return f"{entry.path}: size expected {entry.size}, stored {size}"
    if digests.xxh3_128 != entry.xxh3_128:
        return f"{entry.path}: xxh3-128 expected {entry.xxh3_128}, stored {digests.xxh3_128}"
    return None


async def verify_release(catalog: Catalog, store: Store, dataset: str, release: str) -> list[str]:
    """What is wrong with the release's objects (nothing: an empty list)."""
    found = await catalog.releases.get(dataset, release)
    entries = await catalog.releases.entries(found.id)
    slots = asyncio.Semaphore(CONCURRENCY)

    async def one(entry: ManifestEntry) -> str | None:
        async with slots:
            return await check_object(store, entry)

    results = await asyncio.gather(*(one(e) for e in entries))
    return [r for r in results if r]
