"""Opening and closing what every command and server works with: the catalog database and
the object store named by the settings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from catalog.config import Settings
from catalog.queue import JobQueue, new_app
from catalog.repository import Catalog
from catalog.runtime import Runtime
from catalog.store import open_store

IO_THREADS = 32
QUEUE_POOL = 4


@asynccontextmanager
async def open_runtime(
    settings: Settings, *, queue_pool: int = QUEUE_POOL, stalled_after: float | None = None
) -> AsyncIterator[Runtime]:
    """The catalog (migrated), the store of `settings` and, on PostgreSQL, the job queue
    (connected on first use, with up to `queue_pool` connections), closed when the block
    ends.

    Stores and the catalog block in threads (a put is a write and a rename, a commit a
    round trip): thousands of small files need more in flight than asyncio's default
    pool, so the running loop gets `IO_THREADS` of them.
    """
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(IO_THREADS))
    catalog = await Catalog.open(settings.db_url)
    try:
        store = open_store(
            settings.store_url, s3_endpoint=settings.s3_endpoint, region=settings.aws_region
        )
        queue = None
        if not settings.embedded_db:
            app = new_app(settings.db_url, pool_size=queue_pool)
            queue = JobQueue(app, catalog.runs)
            if stalled_after is not None:
                queue.stalled_after = stalled_after
        try:
            yield Runtime(settings, catalog, store, queue)
        finally:
            if queue is not None:
                await queue.close()
            await store.close()
    finally:
        await catalog.close()
