"""What a job and a server work with: the settings, the catalog database, the object
store and (on PostgreSQL) the job queue, opened together (by the composition root) and
closed together."""

from __future__ import annotations

from dataclasses import dataclass

from catalog.config import Settings
from catalog.errors import DatamirrorError
from catalog.queue import JobQueue, QueueUnavailableError
from catalog.repository import Catalog
from catalog.store.base import Store


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    catalog: Catalog
    store: Store
    queue: JobQueue | None = None
    """The job queue (procrastinate on the catalog's PostgreSQL); None on SQLite."""

    @property
    def jobs(self) -> JobQueue:
        """The job queue; an error where the catalog is SQLite."""
        if self.queue is None:
            raise QueueUnavailableError
        return self.queue

    async def has_workers(self) -> bool:
        """Whether a queue worker is registered (its heartbeat fresh)."""
        if self.queue is None:
            return False
        try:
            return await self.queue.workers() > 0
        except DatamirrorError:
            return False

    async def signing_key(self) -> bytes:
        """The key that signs expiring URLs: DATAMIRROR_SECRET, else the one the catalog
        keeps for every process."""
        if self.settings.secret:
            return self.settings.secret.encode()
        return await self.catalog.tokens.signing_key()
