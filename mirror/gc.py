"""`datamirror gc`: delete objects no retained release references."""

from __future__ import annotations

import asyncio

from catalog.config import Settings
from catalog.repository import Catalog
from catalog.store import open_store


async def collect_garbage(settings: Settings, *, dry_run: bool = False) -> tuple[int, int]:
    """Delete unreferenced objects and the folders of dropped releases; (deleted, kept)."""
    catalog = Catalog.from_settings(settings)
    store = open_store(settings.store_url, s3_endpoint=settings.s3_endpoint)
    try:
        referenced = await asyncio.to_thread(catalog.retained_keys)
        releases = await asyncio.to_thread(catalog.retained_releases)
        deleted = kept = 0
        async for info in store.list("objects/"):
            if info.key in referenced:
                kept += 1
                continue
            deleted += 1
            if not dry_run:
                await store.delete(info.key)
        async for info in store.list("releases/"):
            _, dataset, release, *_ = info.key.split("/")
            if (dataset, release) not in releases:
                deleted += 1
                if not dry_run:
                    await store.delete(info.key)
        return deleted, kept
    finally:
        await store.close()
        catalog.close()
